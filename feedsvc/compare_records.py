"""The difference finder's records: the reports of a story in, what differs between them out.

Data only (frozen dataclasses); ``feedsvc.compare`` fills them, story pages show them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Report:
    """One outlet's reporting of a story (its reports' titles and texts, joined)."""

    outlet: str
    title: str
    text: str


@dataclass(frozen=True, slots=True)
class Mention:
    """Something one outlet wrote: the value as written and the words around it."""

    outlet: str
    value: str
    context: str


@dataclass(frozen=True, slots=True)
class Difference:
    """One fact the outlets give differently: each outlet's mention, in story order."""

    mentions: tuple[Mention, ...]

    @property
    def values(self) -> tuple[str, ...]:
        """The distinct values given, in the order the outlets gave them."""
        return tuple(dict.fromkeys(m.value for m in self.mentions))


@dataclass(frozen=True, slots=True)
class Unshared:
    """The names and numbers that only ``outlet`` mentions."""

    outlet: str
    names: tuple[Mention, ...] = ()
    numbers: tuple[Mention, ...] = ()


@dataclass(frozen=True, slots=True)
class Differences:
    """Everything that differs between the reports of one story."""

    figures: tuple[Difference, ...] = ()
    spellings: tuple[Difference, ...] = ()
    unshared: tuple[Unshared, ...] = ()

    @property
    def empty(self) -> bool:
        """Whether the reports agree on every name and number they contain."""
        return not (self.figures or self.spellings or self.unshared)

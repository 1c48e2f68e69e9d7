"""The story engine's text analysis, as the difference finder uses it: the one place it is imported.

``feedsvc.compare`` finds what differs between the reports of one story with
the signals the engine groups them by: its words and their features (stems and
``#``-numbers), the words it takes for names, and its spelling-variant signal
(Josei / Chosei). Every import from ``feedsvc.stories`` that the comparison
needs is here, behind a few small functions, so an engine whose analysis moves
or changes is adapted in this file alone. Pure; no I/O.
"""

from __future__ import annotations

from feedsvc.stories.signals import name_variants
from feedsvc.stories.text import is_title_case, name_stems, normalise_word, words

Word = tuple[str, int]
"""A word as written and its start offset in the text."""


def split_words(text: str) -> list[Word]:
    """The words of ``text`` with their start offsets, as the engine splits them."""
    return words(text)


def feature(word: str) -> str | None:
    """The engine's feature of one word: a stem, ``#`` and the digits of a number, or None."""
    return normalise_word(word)


def name_features(text: str, found: list[Word], *, headline: bool) -> set[str]:
    """The features of the words the engine takes for names in ``text`` (its words ``found``).

    A ``headline`` is read as the engine reads titles: in Title Case only
    acronyms count as names.
    """
    return name_stems(text, headline_case(found) if headline else False)


def headline_case(found: list[Word]) -> bool:
    """Whether words read as a headline in Title Case, as the engine judges titles."""
    return is_title_case([word for word, _ in found])


def spelling_variants(a: frozenset[str], b: frozenset[str]) -> list[tuple[str, str]]:
    """Name features, one only in ``a`` and one only in ``b``, that the engine calls variants."""
    return name_variants(a, b)

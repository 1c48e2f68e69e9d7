"""Records of the story engine: its input items, parameters, decisions and state.

Data only: every record is a frozen, slotted dataclass and every datetime is
timezone-aware UTC. The engine (``engine.py``) produces them; the store may
persist ``Decision`` and ``StoryState`` later. Nothing here does I/O or scoring.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from operator import attrgetter
from typing import Any, Literal

from feedsvc.config_types import RepresentativeRule as RepresentativeRule
from feedsvc.stories.scoring import StoryModel, default_model
from feedsvc.stories.text import LEAD_WORDS

Layer = Literal["exact", "near-duplicate", "same-event", "new"]


@dataclass(frozen=True, slots=True)
class StoryItem:
    """One article as the story engine sees it."""

    id: str
    title: str
    text: str
    outlet: str
    published: datetime
    url: str | None = None
    content_hash: str | None = None
    features: str | None = None  # its analysis as stored (``stored.py``), when it has one


@dataclass(frozen=True, slots=True)
class StoryParams:
    """Every knob of the engine; the defaults are the service's configuration.

    The same-event decision is a learned model (``model``: weights and
    calibrated thresholds, shipped as ``feedsvc/stories/weights.json``); what
    is left here are the features' shape, the time prior and the cost bounds.
    How each was chosen is written in ``docs/stories.md``.
    """

    # What is compared: the time window of active stories and the features of an item.
    window: timedelta = timedelta(days=3)
    title_weight: float = 2.0
    lead_words: int = LEAD_WORDS
    max_terms: int = 48
    name_boost: float = 1.35
    phrase_weight: float = 0.25
    idf_half_life_items: int = 20_000
    idf_prior_docs: float = 50.0
    idf_per_story: bool = True
    # The time prior: the chance of one story halves with each half-life of gap.
    time_half_life: timedelta = timedelta(days=1)
    # Between two full texts (both with at least this many word terms; a headline
    # has about 10) the first hours of gap cost nothing: follow-ups come hours later.
    time_grace: timedelta = timedelta(hours=3)
    full_text_terms: int = 30
    date_only_grace: timedelta = timedelta(days=2)  # between two bare dates (print, by the day)
    # The decisions: the learned model and the near-duplicate bar.
    model: StoryModel = field(default_factory=default_model)
    near_duplicate_threshold: float = 0.60
    merge_max_members: int = 8
    # The cost bounds of the index.
    max_postings: int = 100
    lookup_terms: int = 16
    member_terms: int = 16
    scored_candidates: int = 5
    # Which member represents a story.
    representative: RepresentativeRule = "earliest"
    source_priority: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.window <= timedelta(0) or self.time_half_life <= timedelta(0):
            raise ValueError("window and time_half_life must be positive")
        bounds = (self.lead_words, self.max_terms, self.max_postings, self.lookup_terms)
        if min(*bounds, self.member_terms, self.scored_candidates) < 1:
            raise ValueError(
                "lead_words, max_terms, max_postings, lookup_terms, member_terms and "
                "scored_candidates must be >= 1"
            )

    @property
    def same_event_threshold(self) -> float:
        """The score at which an item joins a story (the model's calibrated threshold)."""
        return self.model.join_threshold

    @property
    def merge_threshold(self) -> float:
        """The score an item must reach against each of several stories to merge them."""
        return self.model.merge_threshold


# One tuple of names per distinct set of signal names (a handful in all).
_NAME_TUPLES: dict[tuple[str, ...], tuple[str, ...]] = {}


class Signals(Mapping[str, float]):
    """A compact, read-only mapping of signal names to values (a decision's evidence).

    The names are one tuple shared by every mapping with the same names and
    the values a packed array, so the engine's window of decisions costs a
    fraction of what as many dicts would.
    """

    __slots__ = ("_names", "_values")

    def __init__(self, values: Mapping[str, float]) -> None:
        names = tuple(values)
        self._names = _NAME_TUPLES.setdefault(names, names)
        self._values = array("d", values.values())

    def __getitem__(self, name: str) -> float:
        try:
            return self._values[self._names.index(name)]
        except ValueError:
            raise KeyError(name) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)

    def __repr__(self) -> str:
        return f"Signals({dict(self)!r})"

    def __reduce__(self) -> tuple[type[Signals], tuple[dict[str, float]]]:
        return Signals, (dict(self),)


@dataclass(frozen=True, slots=True)
class Decision:
    """Where one item went, through which layer, and on what evidence."""

    item_id: str
    story_id: str
    layer: Layer
    score: float
    matched_item: str | None = None
    signals: Mapping[str, float] = field(default_factory=dict)
    merged: tuple[str, ...] = ()

    def __reduce__(self) -> tuple[type[Decision], tuple[Any, ...]]:
        # the fields as arguments: cheaper both ways than a slotted dataclass's state
        return Decision, _DECISION_FIELDS(self)


_DECISION_FIELDS = attrgetter(*(f.name for f in fields(Decision)))


@dataclass(frozen=True, slots=True)
class Explanation:
    """The signals comparing two items and whether (and why) they share a story."""

    a_id: str
    b_id: str
    same_story: bool
    story_a: str
    story_b: str
    signals: Mapping[str, float]
    score: float
    reason: str


@dataclass(frozen=True, slots=True)
class Story:
    """One story: its id, representative item and other members, oldest first."""

    id: str
    representative: str
    members: tuple[str, ...]
    aliases: tuple[str, ...] = ()
    founded: datetime | None = None


@dataclass(frozen=True, slots=True)
class StoryState:
    """What must survive a restart: every assignment and every alias.

    ``assignments`` maps item id to the story id it was given when it was added;
    ``aliases`` maps a merged-away story id to the id that absorbed it (an
    engine rebuilt from the store is given none: the store rewrites the
    assignments and founding times of a merged story, so they name current ones);
    ``founded``, when the engine is rebuilt from a part of the archive, maps a
    story id to when the engine that made the stored decisions founded it
    (``Story.founded``; its first members may not be replayed): of two
    merged stories, the one founded first keeps its id.
    """

    assignments: Mapping[str, str] = field(default_factory=dict)
    aliases: Mapping[str, str] = field(default_factory=dict)
    founded: Mapping[str, datetime] = field(default_factory=dict)

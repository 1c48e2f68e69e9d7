"""Records of the story engine: its input items, parameters, decisions and state.

Data only: every record is a frozen, slotted dataclass and every datetime is
timezone-aware UTC. The engine (``engine.py``) produces them; the store may
persist ``Decision`` and ``StoryState`` later. Nothing here does I/O or scoring.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from feedsvc.config_types import RepresentativeRule as RepresentativeRule

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


@dataclass(frozen=True, slots=True)
class StoryParams:
    """Every knob of the engine; the defaults are the service's configuration.

    How each default was chosen on the development data is written in
    ``docs/stories.md``.
    """

    # What is compared: the time window of active stories and the features of an item.
    window: timedelta = timedelta(days=3)
    title_weight: float = 2.0
    lead_words: int = 300
    max_terms: int = 80
    name_boost: float = 1.35
    number_weight: float = 0.6
    phrase_weight: float = 0.25
    idf_half_life_items: int = 20_000
    idf_prior_docs: float = 50.0
    idf_per_story: bool = True
    # How an item is scored against a story.
    centroid_weight: float = 0.6
    time_half_life: timedelta = timedelta(days=1)
    date_only_grace: timedelta = timedelta(days=1)
    same_outlet_factor: float = 0.75
    min_shared_words: int = 2
    thin_evidence_factor: float = 0.3
    # The decisions.
    near_duplicate_threshold: float = 0.60
    same_event_threshold: float = 0.18
    merge_threshold: float = 0.60
    story_merge_threshold: float = 0.24
    story_link_terms: int = 40
    # The cost bounds of the index.
    max_postings: int = 100
    max_candidates: int = 30
    # Which member represents a story.
    representative: RepresentativeRule = "earliest"
    source_priority: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.window <= timedelta(0) or self.time_half_life <= timedelta(0):
            raise ValueError("window and time_half_life must be positive")
        if not 0.0 < self.same_event_threshold <= self.merge_threshold:
            raise ValueError("need 0 < same_event_threshold <= merge_threshold")
        if min(self.lead_words, self.max_terms, self.max_postings, self.max_candidates) < 1:
            raise ValueError("lead_words, max_terms, max_postings and max_candidates must be >= 1")


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


@dataclass(frozen=True, slots=True)
class StoryState:
    """What must survive a restart: every assignment and every alias.

    ``assignments`` maps item id to the story id it was given when it was added;
    ``aliases`` maps a merged-away story id to the id that absorbed it.
    """

    assignments: Mapping[str, str] = field(default_factory=dict)
    aliases: Mapping[str, str] = field(default_factory=dict)

"""What sources.yaml says, validated: the records ``config`` builds and the stages read.

Frozen, slotted dataclasses, as in ``feedsvc.types`` (records passed between
stages); every duration is a ``timedelta``, every path absolute. Data only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Literal

SourceKind = Literal["feed", "page", "file"]
RepresentativeRule = Literal["earliest", "most-complete", "source-priority"]
TagField = Literal["title", "text", "place", "outlet", "category", "language", "source"]
CategoryPolicy = Literal["keep", "drop"]
FeedSet = Literal["all", "sources", "tags"]
FeedFormat = Literal["rss", "atom", "json"]


@dataclass(frozen=True, slots=True)
class FetchConfig:
    """How documents are fetched."""

    connect_timeout: float = 10.0
    total_timeout: float = 30.0
    max_redirects: int = 5
    max_body_bytes: int = 10 * 1024 * 1024
    concurrency: int = 8
    per_host: int = 2
    host_interval: float | None = None  # None: 1s, but 0 for loopback hosts
    allow_private_addresses: bool = False  # see feedsvc.addresses


@dataclass(frozen=True, slots=True)
class StoriesConfig:
    """How articles are grouped into stories (see docs/stories.md)."""

    window: timedelta = timedelta(days=3)
    representative: RepresentativeRule = "earliest"
    source_priority: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class FeedsConfig:
    """Which feeds are published, in which formats, and how far back they reach."""

    sets: tuple[FeedSet, ...] = ("all", "sources", "tags")
    formats: tuple[FeedFormat, ...] = ("rss", "atom", "json")
    max_age: timedelta | None = None  # entries older than the feed's newest by more are left out


@dataclass(frozen=True, slots=True)
class Settings:
    """Global settings of one feedsvc installation."""

    database_url: str
    data_dir: Path
    output_dir: Path
    base_url: str
    feed_size: int = 50
    contact: str = "https://example.invalid/feedsvc"
    fetch: FetchConfig = field(default_factory=FetchConfig)
    stories: StoriesConfig = field(default_factory=StoriesConfig)
    redirect_adopt_after: timedelta = timedelta(days=1)
    websub_hub: str | None = None
    feeds: FeedsConfig = field(default_factory=FeedsConfig)


@dataclass(frozen=True, slots=True)
class SourceConfig:
    """One outlet to watch; exactly one of ``url`` and ``path`` is set."""

    name: str
    title: str
    kind: SourceKind
    url: str | None = None
    path: Path | None = None
    tags: tuple[str, ...] = ()
    interval: timedelta = timedelta(minutes=30)
    enabled: bool = True

    @property
    def location(self) -> str:
        """The URL, or the path as a string, that this source reads."""
        return self.url if self.url is not None else str(self.path)


@dataclass(frozen=True, slots=True)
class Term:
    """A word or phrase to look for, or with ``regex`` a regular expression; ``key`` locates it."""

    text: str
    regex: bool = False
    key: str = ""


@dataclass(frozen=True, slots=True)
class Group:
    """``all``, ``any`` or ``none`` of some conditions."""

    op: Literal["all", "any", "none"]
    items: tuple[Condition, ...]


@dataclass(frozen=True, slots=True)
class Scoped:
    """A condition looked for in one field of the article only."""

    field: TagField
    condition: Condition


Condition = Term | Group | Scoped


@dataclass(frozen=True, slots=True)
class TagConfig:
    """One tag of the vocabulary: its slug, title, other names and the rule that gives it."""

    slug: str
    title: str
    description: str = ""
    aliases: tuple[str, ...] = ()
    match: Condition | None = None


@dataclass(frozen=True, slots=True)
class Vocabulary:
    """Every tag, and what becomes of feed categories that name no tag.

    ``declared`` says whether sources.yaml has a ``tags`` mapping; without one,
    the tags listed under sources make the vocabulary.
    """

    tags: tuple[TagConfig, ...] = ()
    categories: CategoryPolicy = "keep"
    declared: bool = False


@dataclass(frozen=True, slots=True)
class Config:
    """A validated sources.yaml."""

    path: Path
    settings: Settings
    sources: tuple[SourceConfig, ...]
    tags: Vocabulary = field(default_factory=Vocabulary)

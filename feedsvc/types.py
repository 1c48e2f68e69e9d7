"""Public records passed between the stages of feedsvc.

Every record is a frozen, slotted dataclass; every datetime in them is
timezone-aware UTC. Records are named by role: ``*State`` is read from the
store, ``*Intent`` is written to it, ``*Result`` is an outcome; what
sources.yaml says is in ``feedsvc.config_types``. This module holds data only,
no behaviour beyond trivial properties.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Literal

FetchStatus = Literal["ok", "not-modified", "error"]
TagOriginKind = Literal["source", "rule", "category"]
# The title of an article whose entry had neither a title nor any text.
UNTITLED = "(untitled)"
# The id of an article whose entry had no guid or link to go by: its content hash.
CONTENT_ID_PREFIX = "sha256:"


def is_content_id(article_id: str) -> bool:
    """Whether an article's id is its content hash (it had no guid or link to go by)."""
    return article_id.startswith(CONTENT_ID_PREFIX)


# --------------------------------------------------------------------------- fetch


@dataclass(frozen=True, slots=True)
class FetchRequest:
    """What to fetch for one source, with the validators stored last time."""

    source: str
    url: str | None = None
    path: Path | None = None
    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True, slots=True)
class Document:
    """One fetched document: an HTTP body, or one file of a file source."""

    url: str
    body: bytes
    content_type: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Redirect:
    """One redirect hop: ``url`` answered ``status`` pointing to ``location``."""

    url: str
    status: int
    location: str


@dataclass(frozen=True, slots=True)
class Fetched:
    """A successful fetch: one document over HTTP, one per file for a folder."""

    source: str
    url: str
    final_url: str
    status: int
    documents: tuple[Document, ...]
    etag: str | None = None
    last_modified: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    redirects: tuple[Redirect, ...] = ()


@dataclass(frozen=True, slots=True)
class NotModified:
    """The server (or the file system) says nothing changed since last time."""

    source: str
    url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    redirects: tuple[Redirect, ...] = ()


@dataclass(frozen=True, slots=True)
class FetchFailed:
    """A fetch that failed; ``error`` says why in words a user understands."""

    source: str
    url: str
    error: str
    status: int | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    redirects: tuple[Redirect, ...] = ()


FetchOutcome = Fetched | NotModified | FetchFailed

# --------------------------------------------------------------------------- extract


@dataclass(frozen=True, slots=True)
class RawEntry:
    """One entry as a document gave it, before normalisation."""

    guid: str | None = None
    link: str | None = None
    title: str | None = None
    summary: str | None = None
    content: str | None = None
    content_type: str = "text/html"
    published: datetime | None = None
    updated: datetime | None = None
    authors: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    language: str | None = None
    dateline: str | None = None
    base_url: str | None = None
    # False when different entries of the document share the link: the entry
    # is then known by its text, not by its link (``identity.trusted_ids``)
    link_identifies: bool = True


@dataclass(frozen=True, slots=True)
class Extracted:
    """What one document yielded: entries plus warnings about its quality."""

    entries: tuple[RawEntry, ...]
    warnings: tuple[str, ...] = ()
    title: str | None = None
    link: str | None = None
    language: str | None = None


# --------------------------------------------------------------------------- normalise


@dataclass(frozen=True, slots=True, order=True)
class TagOrigin:
    """Where one tag of an article came from: the source's tags, a rule, or a feed category.

    ``detail`` is the source's name, what the rule matched, or the category as written.
    """

    tag: str
    kind: TagOriginKind
    detail: str


@dataclass(frozen=True, slots=True)
class Article:
    """One clean article; ``(source, id)`` identifies it for good."""

    source: str
    id: str
    url: str | None
    title: str
    summary: str
    content_html: str
    text: str
    published: datetime
    updated: datetime | None
    date_estimated: bool
    content_hash: str
    authors: tuple[str, ...] = ()
    language: str | None = None
    categories: tuple[str, ...] = ()
    dateline: str | None = None
    tags: tuple[str, ...] = ()
    tag_origins: tuple[TagOrigin, ...] = ()
    # The story engine's analysis of title and text, made where the article is
    # (``stories.stored``): derived from the fields above, so not compared.
    features: str | None = field(default=None, compare=False, repr=False)


# --------------------------------------------------------------------------- store


@dataclass(frozen=True, slots=True)
class RedirectState:
    """A source's permanent-redirect tracking: the URL adopted and a target still on trial."""

    adopted_url: str | None = None
    pending_url: str | None = None
    pending_since: datetime | None = None


@dataclass(frozen=True, slots=True)
class SourceState:
    """A source's fetch state as stored."""

    name: str
    location: str
    etag: str | None
    last_modified: str | None
    last_fetch: datetime | None
    last_status: FetchStatus | None
    http_status: int | None
    last_error: str | None
    failures: int
    next_fetch_after: datetime | None
    article_count: int = 0
    redirect: RedirectState = RedirectState()
    disabled_at: datetime | None = None
    disabled_reason: str | None = None
    body_hash: str | None = None
    # The ``feedsvc worker`` holding the source, and until when (None: no lease).
    lease_owner: str | None = None
    lease_until: datetime | None = None

    def leased_at(self, now: datetime) -> bool:
        """Whether a worker holds this source at ``now`` (its lease has not lapsed).

        The rule ``store.leases`` applies in SQL when it claims: a lease is free
        once ``lease_until <= now``.
        """
        return (
            self.lease_owner is not None and self.lease_until is not None and self.lease_until > now
        )


@dataclass(frozen=True, slots=True)
class EntryMemo:
    """What the store remembers of one article of a source's last stored body.

    ``analysis`` is the key of its text analysis (``stories.stored.features_key``);
    ``raw`` a digest of the entry as the document gave it and of what its
    normalising read (``processing.entry_digest``), or None when its stored
    form depends on when it was read: an entry whose digest is the same again
    is not normalised again. ``origin`` is the URL of the drop (one file of a
    ``file`` source) that was the article, so an edited drop keeps its id;
    ``document`` a digest of that file's bytes as read and of the code that
    read them (``processing.document_digest``): a drop whose digest is the
    same again is not even extracted again. ``alias`` is a digest of the
    article's link, title and text (``identity.alias_of``): an entry whose id
    changed but whose alias is the same is that article.
    """

    analysis: str
    raw: str | None = None
    origin: str | None = None
    document: str | None = None
    alias: str | None = None


@dataclass(frozen=True, slots=True)
class FetchIntent:
    """The outcome of one fetch, to be recorded on the source.

    ``redirect`` None leaves the stored redirect tracking as it is; ``body_hash``
    None leaves the stored hash; ``disable`` gives the reason to stop fetching
    the source (410 Gone) until its configured location changes.
    """

    source: str
    fetched_at: datetime
    status: FetchStatus
    next_fetch_after: datetime
    http_status: int | None = None
    etag: str | None = None
    last_modified: str | None = None
    error: str | None = None
    redirect: RedirectState | None = None
    body_hash: str | None = None
    disable: str | None = None
    # The articles of the body stored: each id and what is remembered of it
    # (``EntryMemo``); None leaves the stored ones. Those of them not in the
    # batch saved with it were seen again unchanged (not normalised again).
    entries: Mapping[str, EntryMemo] | None = None
    # The worker whose lease on the source this fetch was made under: it is
    # recorded only while that worker still holds the lease (None: no lease).
    lease_owner: str | None = None


@dataclass(frozen=True, slots=True)
class LeaseLost:
    """A fetch not recorded: its worker's lease on the source lapsed and passed on.

    ``holder`` is the worker holding the source now (None: another worker's
    fetch was recorded since, or the lease was given back).
    """

    source: str
    owner: str
    holder: str | None


@dataclass(frozen=True, slots=True)
class UpsertResult:
    """How many articles of one batch were new, changed or unchanged."""

    new: int = 0
    updated: int = 0
    unchanged: int = 0


# --------------------------------------------------------------------------- publish


@dataclass(frozen=True, slots=True)
class RelatedLink:
    """A link to the same story at another outlet ("also reported by")."""

    outlet: str
    title: str
    url: str | None


@dataclass(frozen=True, slots=True)
class FeedEntry:
    """One entry of a published feed."""

    guid: str
    title: str
    link: str | None
    summary: str
    content_html: str
    published: datetime
    updated: datetime
    source_name: str
    source_title: str
    source_url: str | None = None
    authors: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    related: tuple[RelatedLink, ...] = ()
    more_outlets: int = 0
    labels: tuple[tuple[str, str], ...] = ()  # (category, title) of the categories that are tags
    page: str | None = None  # a story entry's page comparing its outlets, relative to output/


FeedKind = Literal["all", "source", "tag"]


@dataclass(frozen=True, slots=True)
class FeedListing:
    """A published feed as the index and OPML list it; ``key`` is its source name or tag."""

    path: str
    title: str
    description: str
    kind: FeedKind
    key: str = ""


@dataclass(frozen=True, slots=True)
class FeedSpec:
    """One feed to publish (in every format) under ``output/<path>.<ext>``."""

    path: str
    title: str
    description: str
    kind: FeedKind
    entries: tuple[FeedEntry, ...]
    key: str = ""

    @property
    def listing(self) -> FeedListing:
        """The feed without its entries."""
        return FeedListing(self.path, self.title, self.description, self.kind, self.key)


@dataclass(frozen=True, slots=True)
class PublishResult:
    """Which output files were rewritten, already up to date, or removed as stale."""

    written: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PublishMarks:
    """What changed since the last publish: sources, stories and tags marked, up to ``upto``."""

    upto: int = 0
    sources: frozenset[str] = frozenset()
    stories: frozenset[str] = frozenset()
    tags: frozenset[str] = frozenset()

    @property
    def empty(self) -> bool:
        """Whether nothing changed."""
        return not (self.sources or self.stories or self.tags)


# --------------------------------------------------------------------------- run


@dataclass(frozen=True, slots=True)
class SourceResult:
    """What one cycle did for one source."""

    source: str
    status: FetchStatus
    new: int = 0
    updated: int = 0
    error: str | None = None
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class RunResult:
    """What one cycle did."""

    started: datetime
    finished: datetime
    sources: tuple[SourceResult, ...]
    published: PublishResult | None = None
    timings: Mapping[str, float] = field(default_factory=dict)

    @property
    def failed(self) -> tuple[SourceResult, ...]:
        """The sources whose cycle ended in an error."""
        return tuple(s for s in self.sources if s.status == "error")


# --------------------------------------------------------------------------- stories


@dataclass(frozen=True, slots=True)
class ArticleText:
    """What grouping needs of a stored article: key, link, title, text, date, hash, analysis."""

    source: str
    id: str
    url: str | None
    title: str
    text: str
    published: datetime
    content_hash: str
    features: str | None = None  # the stored analysis (``stories.stored``), if any


@dataclass(frozen=True, slots=True)
class StoryAssignment:
    """The story engine's decision for one article, to be recorded in the store."""

    source: str
    article_id: str
    story_id: str
    layer: str
    score: float
    matched: str | None = None
    signals: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class StoredDecision:
    """How a story round placed one article: its story now, and the layer that decided."""

    story_id: str
    layer: str
    score: float
    matched: str | None
    decided_at: datetime


@dataclass(frozen=True, slots=True)
class StoryUpdate:
    """A story's current shape after a round of assignments, to be stored."""

    id: str
    representative_source: str
    representative_id: str
    members: int
    founded: datetime | None = None


@dataclass(frozen=True, slots=True)
class StoryView:
    """One stored story as publishing sees it: the representative and (some of) the others.

    ``others`` holds every other member, oldest first, or, when the store was
    asked for a bounded view, the first report of each other outlet, up to the
    bound; ``members`` and ``outlets`` count the whole story and ``updated``
    is the latest date of any member (the story last changed then).
    """

    id: str
    representative: Article
    others: tuple[Article, ...]
    members: int
    outlets: int
    updated: datetime


# --------------------------------------------------------------------------- workers


@dataclass(frozen=True, slots=True)
class WorkerState:
    """A ``feedsvc worker`` process as stored: who, since when, what it did and holds now."""

    id: str
    host: str
    pid: int
    started_at: datetime
    seen_at: datetime
    stopped_at: datetime | None
    alive: bool
    publisher: bool
    fetches: int
    articles: int
    leases: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class WorkLoad:
    """The work waiting: sources due (leased or never fetched), the lag, recent throughput."""

    due: int
    leased: int
    never_fetched: int
    lag: timedelta
    fetched_recently: int
    window: timedelta

"""The HTML pages publish writes, as records: what each page shows, nothing about markup.

A ``StoryPage`` per story (``stories/<id>.html``: every outlet's reports, the
story's tags, when each outlet joined), a ``MovedPage`` for the id of a story
merged into another (pointing to the survivor), a ``TagPage`` and a
``SourcePage`` beside each tag's and source's feeds, the ``IndexPage``
(latest stories, each tag with its last headlines, a summary of the sources'
health with the failing ones) and the pages of the source directory
(``DirectoryPage``: every source with its health, a bounded number to a page,
``sources.html``, ``sources-2.html``, ...). Every
``path`` is relative to the output directory. Data only; ``pageplan`` builds
them, ``pages`` renders them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from feedsvc.types import Article, FeedListing, FetchStatus


@dataclass(frozen=True, slots=True)
class TagLink:
    """A tag as pages link to it: its title, its page and its feed (without extension)."""

    slug: str
    title: str
    page: str | None
    feed: str | None


@dataclass(frozen=True, slots=True)
class StoryReport:
    """One member of a story: the article, its outlet's title and when it joined the story."""

    article: Article
    outlet: str
    joined: datetime | None = None


@dataclass(frozen=True, slots=True)
class StoryPage:
    """A story's page: its reports in story order (the representative first), tags, counts."""

    id: str
    path: str
    title: str
    reports: tuple[StoryReport, ...]
    tags: tuple[TagLink, ...]
    outlets: int
    updated: datetime


@dataclass(frozen=True, slots=True)
class MovedPage:
    """The page of a story id merged into another: it points to the survivor's page."""

    path: str
    story_id: str
    target: str


@dataclass(frozen=True, slots=True)
class StoryCard:
    """A story in a list: its headline, first outlet, date, outlet count and page (if any)."""

    title: str
    page: str | None
    outlet: str
    published: datetime
    outlets: int
    link: str | None = None


@dataclass(frozen=True, slots=True)
class TagPage:
    """A tag's page: its feed's listing and the stories in that feed."""

    path: str
    listing: FeedListing
    stories: tuple[StoryCard, ...]


@dataclass(frozen=True, slots=True)
class SourceItem:
    """An article on its source's page, with its story's page and outlet count when known."""

    article: Article
    page: str | None = None
    outlets: int = 1


@dataclass(frozen=True, slots=True)
class SourcePage:
    """A source's page: its feed's listing, where it comes from and its latest articles."""

    path: str
    listing: FeedListing
    location: str | None
    articles: tuple[SourceItem, ...]
    directory: str | None = None


@dataclass(frozen=True, slots=True)
class SourceHealth:
    """How a source's fetching is going, as the source directory shows it.

    Given only its name, title and page: a source never fetched.
    """

    name: str
    title: str
    page: str | None
    status: FetchStatus | None = None
    last_fetch: datetime | None = None
    http_status: int | None = None
    error: str | None = None
    failures: int = 0
    next_fetch: datetime | None = None
    disabled: str | None = None

    @property
    def failing(self) -> bool:
        """Whether the source is disabled or its last fetch failed."""
        return bool(self.disabled) or self.status == "error"


@dataclass(frozen=True, slots=True)
class TagSummary:
    """A tag on the front page: its feed, its page and its last few stories."""

    listing: FeedListing
    page: str | None
    stories: tuple[StoryCard, ...]


def latest_fetch(sources: tuple[SourceHealth, ...]) -> datetime | None:
    """The latest fetch among ``sources`` (what their health is shown as of), None before any."""
    return max((s.last_fetch for s in sources if s.last_fetch), default=None)


@dataclass(frozen=True, slots=True)
class SourcesSummary:
    """The front page's word on the sources: how many, how many failing, the worst few."""

    total: int = 0
    failing: int = 0
    disabled: int = 0
    problems: tuple[SourceHealth, ...] = ()
    checked: datetime | None = None
    directory: str | None = None


@dataclass(frozen=True, slots=True)
class IndexPage:
    """The front page: latest stories, tags, a summary of the sources, and the feeds it names.

    ``listings`` are the feeds its head advertises for autodiscovery: the
    all-stories feed and the tags' (each source's feed is on its own page).
    """

    listings: tuple[FeedListing, ...]
    stories: tuple[StoryCard, ...] = ()
    tags: tuple[TagSummary, ...] = ()
    sources: SourcesSummary = SourcesSummary()
    path: str = "index.html"


@dataclass(frozen=True, slots=True)
class DirectoryPage:
    """One page of the source directory: its sources, with their health and feeds, in order.

    ``number`` counts from 1; ``pages`` are the paths of every page of the
    directory, in order (for navigation); ``first`` is the position of this
    page's first source among ``total``; ``letters`` say where the titles of
    each first letter begin: (letter, page, source name), in order.
    """

    path: str
    number: int
    pages: tuple[str, ...]
    sources: tuple[SourceHealth, ...]
    feeds: tuple[FeedListing, ...]
    first: int
    total: int
    letters: tuple[tuple[str, str, str], ...] = ()

    @property
    def checked(self) -> datetime | None:
        """The latest fetch this page's health is shown as of (None before any fetch)."""
        return latest_fetch(self.sources)


Page = StoryPage | MovedPage | TagPage | SourcePage | IndexPage | DirectoryPage


@dataclass(frozen=True, slots=True)
class FrontPage:
    """What the site's root holds: the front page, the OPML list of ``listings``, the icon."""

    index: IndexPage
    listings: tuple[FeedListing, ...]

"""Pure planning of the HTML pages: stored records in, page records out.

Which page a story, tag or source gets (its path beside its feeds), what each
page lists and in which order: a story's reports grouped by outlet in the
order the outlets first reported it, a tag page's stories exactly as its feed
holds them, the front page's latest stories, each tag's last few headlines
and a summary of the sources (``directory`` plans the pages listing each
source's health). Nothing here touches the file system,
the clock or the database; the pages are rendered by ``pages``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

from feedsvc.config_types import SourceConfig
from feedsvc.publish.pagespec import (
    IndexPage,
    MovedPage,
    SourceItem,
    SourcePage,
    SourcesSummary,
    StoryCard,
    StoryPage,
    StoryReport,
    TagLink,
    TagPage,
    TagSummary,
)
from feedsvc.publish.plan import (
    has_page,
    listing_page,
    stories_in_feed_order,
    story_page_path,
)
from feedsvc.types import Article, FeedEntry, FeedListing, FeedSpec, StoryView

# Stories on the front page, and headlines under each tag there.
INDEX_STORIES = 20
TAG_HEADLINES = 3

Key = tuple[str, str]


def _outlet(article: Article, sources: Mapping[str, SourceConfig]) -> str:
    source = sources.get(article.source)
    return source.title if source is not None else article.source


def story_card(view: StoryView, sources: Mapping[str, SourceConfig]) -> StoryCard:
    """A story in a list: the representative's headline and outlet, the story's page."""
    rep = view.representative
    return StoryCard(
        title=rep.title,
        page=story_page_path(view.id) if has_page(view.outlets) else None,
        outlet=_outlet(rep, sources),
        published=rep.published,
        outlets=view.outlets,
        link=rep.url,
    )


def card_from_entry(entry: FeedEntry) -> StoryCard:
    """A story entry of a feed as a story in a list."""
    return StoryCard(
        title=entry.title,
        page=entry.page,
        outlet=entry.source_title or entry.source_name,
        published=entry.published,
        outlets=1 + len(entry.related) + entry.more_outlets,
        link=entry.link,
    )


def tag_links(slugs: Iterable[str], listings: Sequence[FeedListing]) -> tuple[TagLink, ...]:
    """The story's tags, titled, linking to their pages and feeds when those are published."""
    published = {listing.key: listing for listing in listings if listing.kind == "tag"}
    links = []
    for slug in sorted(set(slugs)):
        listing = published.get(slug)
        if listing is None:
            links.append(TagLink(slug, slug, None, None))
        else:
            links.append(TagLink(slug, listing.title, listing_page(listing), listing.path))
    return tuple(links)


def story_order(members: Iterable[Article]) -> list[Article]:
    """Members grouped by outlet, outlets in the order they first reported, each oldest first."""
    ordered = sorted(members, key=lambda a: (a.published, a.source, a.id))
    first: dict[str, int] = {}
    for article in ordered:
        first.setdefault(article.source, len(first))
    return sorted(ordered, key=lambda a: first[a.source])


def story_page(
    view: StoryView,
    sources: Mapping[str, SourceConfig],
    tags: tuple[TagLink, ...],
    joined: Mapping[Key, datetime],
) -> StoryPage:
    """The page of one story: every member (``view`` unbounded), its tags, when each joined."""
    members = story_order([view.representative, *view.others])
    reports = tuple(
        StoryReport(a, _outlet(a, sources), joined.get((a.source, a.id))) for a in members
    )
    return StoryPage(
        id=view.id,
        path=story_page_path(view.id),
        title=view.representative.title,
        reports=reports,
        tags=tags,
        outlets=len({a.source for a in members}),
        updated=view.updated,
    )


def moved_page(story_id: str, survivor: str) -> MovedPage:
    """The page left at a merged-away story id, pointing to the page of the story it joined."""
    target = story_page_path(survivor).rsplit("/", 1)[-1]
    return MovedPage(story_page_path(story_id), story_id, target)


def tag_page(spec: FeedSpec) -> TagPage:
    """A tag's page: the stories of its feed, as the feed holds them."""
    cards = tuple(card_from_entry(entry) for entry in spec.entries)
    return TagPage(listing_page(spec.listing), spec.listing, cards)


def source_page(
    listing: FeedListing,
    source: SourceConfig,
    articles: Sequence[Article],
    stories: Mapping[Key, tuple[str, int]],
    directory: str | None = None,
) -> SourcePage:
    """A source's page: its latest articles, each with its story's page and outlet count.

    ``directory`` is the page of the source directory that shows its health.
    """
    items = []
    for article in articles:
        story = stories.get((article.source, article.id))
        if story is None:
            items.append(SourceItem(article))
        else:
            page = story_page_path(story[0]) if has_page(story[1]) else None
            items.append(SourceItem(article, page, story[1]))
    return SourcePage(listing_page(listing), listing, source.location, tuple(items), directory)


def index_page(
    listings: Sequence[FeedListing],
    summary: SourcesSummary,
    *,
    stories: Sequence[StoryView] = (),
    tag_stories: Mapping[str, Sequence[StoryView]] | None = None,
    sources: Mapping[str, SourceConfig] | None = None,
) -> IndexPage:
    """The front page: the latest stories, each tag's last headlines, the sources in summary.

    Its head advertises the all-stories feed and the tags' feeds (``listings``
    of those kinds); each source's feed is advertised by its own page.
    """
    known = sources or {}
    tags = tuple(
        TagSummary(
            listing,
            listing_page(listing),
            tuple(
                story_card(v, known)
                for v in stories_in_feed_order((tag_stories or {}).get(listing.key, ()))
            ),
        )
        for listing in listings
        if listing.kind == "tag"
    )
    return IndexPage(
        listings=tuple(listing for listing in listings if listing.kind != "source"),
        stories=tuple(story_card(v, known) for v in stories_in_feed_order(stories)),
        tags=tags,
        sources=summary,
    )

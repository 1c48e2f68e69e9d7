"""Pure planning of what to publish: entry identities, entries, and feed specs.

``entry_guid`` gives an article a permanent guid, ``entry_from_article`` turns a
stored article into a feed entry, ``entry_from_story`` turns a whole story into
one entry with "also reported by" links and a link to the story's page
(``story_page_path``), and ``plan_feeds`` decides which feeds exist
(all / per source / per tag), their titles and their bounded, newest-first
entries. Nothing here touches the file system, the clock or the database.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from operator import attrgetter
from typing import TYPE_CHECKING, TypeVar

from feedsvc.config_types import FeedSet, Settings, SourceConfig, TagConfig
from feedsvc.publish.text import INDEX_FILE, is_http, utc
from feedsvc.types import Article, FeedEntry, FeedListing, FeedSpec, RelatedLink, StoryView

if TYPE_CHECKING:
    from feedsvc.tags import Tagger

T = TypeVar("T")

# Fixed for good: changing it would change every published guid.
_ENTRY_NAMESPACE = uuid.UUID("28245e89-1296-4c10-b3a4-d0bdf5ec5d8b")
_SAFE_SEGMENT = re.compile(r"[a-z0-9][a-z0-9._-]*")
_UNSAFE_RUN = re.compile(r"[^a-z0-9._-]+")

ALL_PATH = "all"
STORIES_DIR = "stories"
PAGE_SUFFIX = ".html"
# How many outlets a story needs for a page of its own (``has_page``).
PAGE_OUTLETS = 2
ALL_TITLE = "All stories"
ALL_DESCRIPTION = "Every story feedsvc collected, newest first"
# Other outlets linked from a story's entry; the rest are counted, not listed.
RELATED_LIMIT = 10


def entry_guid(source: str, article_id: str) -> str:
    """The stable ``urn:uuid:`` guid of the article ``article_id`` of ``source``."""
    name = json.dumps([source, article_id], ensure_ascii=False)
    return f"urn:uuid:{uuid.uuid5(_ENTRY_NAMESPACE, name)}"


def _merged_categories(tags: Iterable[str], categories: Iterable[str]) -> tuple[str, ...]:
    seen: dict[str, str] = {}
    for term in (*tags, *categories):
        seen.setdefault(term.casefold(), term)
    return tuple(seen.values())


def entry_from_article(
    article: Article, source: SourceConfig, tagger: Tagger | None = None
) -> FeedEntry:
    """The feed entry of ``article``; categories are its tags, then its own categories.

    With a ``tagger``, tags carry their titles as labels, and the article's own
    categories that name a tag (or all of them, when the vocabulary drops
    them) are left out.
    """
    plain = article.categories if tagger is None else tagger.plain_categories(article.categories)
    labels = () if tagger is None else tuple((tag, tagger.title(tag)) for tag in article.tags)
    return FeedEntry(
        guid=entry_guid(article.source, article.id),
        title=article.title,
        link=article.url,
        summary=article.summary,
        content_html=article.content_html,
        published=article.published,
        updated=article.updated or article.published,
        source_name=source.name,
        source_title=source.title,
        source_url=_outlet_feed(source),
        authors=article.authors,
        categories=_merged_categories(article.tags, plain),
        labels=labels,
    )


def _outlet_feed(source: SourceConfig) -> str | None:
    """The outlet's own feed, named as the entry's source: a page source's URL is no feed."""
    return source.url if source.kind == "feed" and is_http(source.url) else None


def has_page(outlets: int) -> bool:
    """Whether a story of ``outlets`` outlets has a page: once a second outlet reports it.

    A page compares outlets; with one there is nothing to compare, and the
    feeds and lists link to the report itself. The page appears, at its
    stable path, when a second outlet joins.
    """
    return outlets >= PAGE_OUTLETS


def listing_page(listing: FeedListing) -> str:
    """The path of the page beside a tag's or source's feed (``tags/<slug>.html``)."""
    return f"{listing.path}{PAGE_SUFFIX}"


def home_page(listing: FeedListing) -> str:
    """The path of a feed's web page: a tag's or source's own page, else the front page."""
    return listing_page(listing) if listing.kind in ("source", "tag") else INDEX_FILE


def story_page_path(story_id: str) -> str:
    """The path of a story's page in the output dir: keyed by its id, so stable as outlets join."""
    return f"{STORIES_DIR}/{path_segment(story_id)}{PAGE_SUFFIX}"


def story_guid(story_id: str) -> str:
    """The stable guid of a story's entry: it stays the same when members join."""
    return entry_guid("story", story_id)


def entry_from_story(
    story: StoryView,
    sources: Mapping[str, SourceConfig],
    related_limit: int = RELATED_LIMIT,
    *,
    tags: Sequence[str] | None = None,
    tagger: Tagger | None = None,
) -> FeedEntry:
    """One entry for a whole story: the representative's text, other outlets as related links.

    The entry's ``page`` is the story's page comparing its outlets, once it
    has two (``has_page``). Each other
    outlet is linked once, by its first report, up to ``related_limit`` of
    them; the entry counts the outlets left out. ``tags``
    are the story's tags (the union of its members'; by default the
    representative's), which become the entry's categories.
    """
    rep = story.representative
    if tags is not None:
        rep = replace(rep, tags=tuple(tags))
    base = entry_from_article(rep, sources[rep.source], tagger)
    firsts: dict[str, Article] = {}
    for article in story.others:
        if article.source in sources and article.source != rep.source:
            firsts.setdefault(article.source, article)
    related = tuple(
        RelatedLink(outlet=_outlet(a, sources), title=a.title, url=a.url)
        for a in list(firsts.values())[:related_limit]
    )
    more = max(0, story.outlets - 1 - len(related))
    return replace(
        base,
        guid=story_guid(story.id),
        updated=story.updated,
        related=related,
        more_outlets=more,
        page=story_page_path(story.id) if has_page(story.outlets) else None,
    )


def _outlet(article: Article, sources: Mapping[str, SourceConfig]) -> str:
    return sources[article.source].title


def path_segment(name: str) -> str:
    """A file-name-safe segment for a source name or tag, distinct per name.

    Lower-case names of ``[a-z0-9._-]`` are used as they are; anything else is
    slugged and suffixed with a short hash of the original so two names never
    share a file.
    """
    if _SAFE_SEGMENT.fullmatch(name):
        return name
    slug = _UNSAFE_RUN.sub("-", name.casefold()).strip("-.")
    digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return f"{slug}-{digest}" if slug else f"x-{digest}"


def in_feed_order(
    items: Iterable[T], guid: Callable[[T], str], published: Callable[[T], datetime]
) -> list[T]:
    """Newest published first, ties by guid: the order of every list feedsvc publishes."""
    by_guid = sorted(items, key=guid)
    return sorted(by_guid, key=lambda item: utc(published(item)), reverse=True)


def stories_in_feed_order(views: Iterable[StoryView]) -> list[StoryView]:
    """Stories in the order their entries take in a feed (a page lists them alike)."""
    return in_feed_order(views, lambda v: story_guid(v.id), lambda v: v.representative.published)


def newest_first(
    entries: Iterable[FeedEntry], size: int, max_age: timedelta | None = None
) -> tuple[FeedEntry, ...]:
    """At most ``size`` entries, newest published first (ties by guid), one per guid.

    With ``max_age``, entries published more than that before the newest one
    are left out (measured from the data, not the clock, so output stays
    reproducible).
    """
    ordered = in_feed_order(entries, attrgetter("guid"), attrgetter("published"))
    unique: dict[str, FeedEntry] = {}
    for entry in ordered:
        unique.setdefault(entry.guid, entry)
    kept = tuple(unique.values())[: max(size, 0)]
    if max_age is None or not kept:
        return kept
    oldest = utc(kept[0].published) - max_age
    return tuple(entry for entry in kept if utc(entry.published) >= oldest)


def feed_listings(
    sources: Mapping[str, str],
    tags: Iterable[str] | Sequence[TagConfig],
    sets: Sequence[FeedSet] = ("all", "sources", "tags"),
) -> list[FeedListing]:
    """Every feed published: "all", one per source (name → title, in order), one per tag.

    ``tags`` are slugs, or vocabulary entries whose titles and descriptions
    the tag feeds take; ``sets`` chooses which of the three kinds exist.
    """
    listings: list[FeedListing] = []
    if "all" in sets:
        listings.append(FeedListing(ALL_PATH, ALL_TITLE, ALL_DESCRIPTION, "all"))
    if "sources" in sets:
        listings += [
            FeedListing(
                f"sources/{path_segment(name)}", title, f"Articles from {title}", "source", name
            )
            for name, title in sources.items()
        ]
    if "tags" in sets:
        listings += [_tag_listing(tag) for tag in _vocabulary(tags)]
    return listings


def _vocabulary(tags: Iterable[str] | Sequence[TagConfig]) -> list[TagConfig]:
    entries = [tag if isinstance(tag, TagConfig) else TagConfig(tag, tag) for tag in tags]
    unique = {tag.slug: tag for tag in entries}
    return [unique[slug] for slug in sorted(unique)]


def _tag_listing(tag: TagConfig) -> FeedListing:
    title = tag.title if tag.title != tag.slug else f"Tag: {tag.slug}"
    description = tag.description or f"Stories tagged {tag.title}"
    return FeedListing(f"tags/{path_segment(tag.slug)}", title, description, "tag", tag.slug)


def feed_spec(
    listing: FeedListing,
    entries: Iterable[FeedEntry],
    size: int,
    max_age: timedelta | None = None,
) -> FeedSpec:
    """The feed ``listing`` holding at most ``size`` of ``entries``, newest first."""
    return FeedSpec(
        listing.path,
        listing.title,
        listing.description,
        listing.kind,
        newest_first(entries, size, max_age),
        listing.key,
    )


def plan_feeds(
    all_entries: Sequence[FeedEntry],
    by_source: Mapping[str, Sequence[FeedEntry]],
    by_tag: Mapping[str, Sequence[FeedEntry]],
    sources: Sequence[SourceConfig],
    settings: Settings,
) -> list[FeedSpec]:
    """The feeds to publish: "all", one per source (config order), one per tag (sorted).

    Entries of a source that is not configured get a feed of their own after
    the configured ones, titled by the source name.
    """
    titles = {s.name: s.title for s in sources}
    titles.update({name: name for name in sorted(by_source) if name not in titles})

    def entries_of(listing: FeedListing) -> Sequence[FeedEntry]:
        if listing.kind == "all":
            return all_entries
        return (by_source if listing.kind == "source" else by_tag).get(listing.key, ())

    feeds = settings.feeds
    return [
        feed_spec(listing, entries_of(listing), settings.feed_size, feeds.max_age)
        for listing in feed_listings(titles, by_tag, feeds.sets)
    ]

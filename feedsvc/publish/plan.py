"""Pure planning of what to publish: entry identities, entries, and feed specs.

``entry_guid`` gives an article a permanent guid, ``entry_from_article`` turns a
stored article into a feed entry, ``entry_from_story`` turns a whole story into
one entry with "also reported by" links, and ``plan_feeds`` decides which feeds exist
(all / per source / per tag), their titles and their bounded, newest-first
entries. Nothing here touches the file system, the clock or the database.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace

from feedsvc.publish.text import is_http, utc
from feedsvc.types import (
    Article,
    FeedEntry,
    FeedListing,
    FeedSpec,
    RelatedLink,
    Settings,
    SourceConfig,
    StoryView,
)

# Fixed for good: changing it would change every published guid.
_ENTRY_NAMESPACE = uuid.UUID("28245e89-1296-4c10-b3a4-d0bdf5ec5d8b")
_SAFE_SEGMENT = re.compile(r"[a-z0-9][a-z0-9._-]*")
_UNSAFE_RUN = re.compile(r"[^a-z0-9._-]+")

ALL_PATH = "all"
# Other outlets linked from a story's entry; the rest are counted, not listed.
RELATED_LIMIT = 10


def entry_guid(source: str, article_id: str) -> str:
    """The stable ``urn:uuid:`` guid of the article ``article_id`` of ``source``."""
    name = json.dumps([source, article_id], ensure_ascii=False)
    return f"urn:uuid:{uuid.uuid5(_ENTRY_NAMESPACE, name)}"


def _merged_categories(article: Article) -> tuple[str, ...]:
    seen: dict[str, str] = {}
    for term in (*article.tags, *article.categories):
        seen.setdefault(term.casefold(), term)
    return tuple(seen.values())


def entry_from_article(article: Article, source: SourceConfig) -> FeedEntry:
    """The feed entry of ``article``; categories are its tags, then its own categories."""
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
        source_url=source.url if is_http(source.url) else None,
        authors=article.authors,
        categories=_merged_categories(article),
    )


def story_guid(story_id: str) -> str:
    """The stable guid of a story's entry: it stays the same when members join."""
    return entry_guid("story", story_id)


def entry_from_story(
    story: StoryView, sources: Mapping[str, SourceConfig], related_limit: int = RELATED_LIMIT
) -> FeedEntry:
    """One entry for a whole story: the representative's text, other outlets as related links.

    Each other outlet is linked once, by its first report, up to
    ``related_limit`` of them; the entry counts the outlets left out.
    """
    rep = story.representative
    base = entry_from_article(rep, sources[rep.source])
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
        base, guid=story_guid(story.id), updated=story.updated, related=related, more_outlets=more
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


def newest_first(entries: Iterable[FeedEntry], size: int) -> tuple[FeedEntry, ...]:
    """At most ``size`` entries, newest published first (ties by guid), one per guid."""
    by_guid = sorted(entries, key=lambda e: e.guid)
    ordered = sorted(by_guid, key=lambda e: utc(e.published), reverse=True)
    unique: dict[str, FeedEntry] = {}
    for entry in ordered:
        unique.setdefault(entry.guid, entry)
    return tuple(unique.values())[: max(size, 0)]


def feed_listings(sources: Mapping[str, str], tags: Iterable[str]) -> list[FeedListing]:
    """Every feed published: "all", one per source (name → title, in order), one per tag."""
    return [
        FeedListing(ALL_PATH, "All stories", "Every story feedsvc collected, newest first", "all"),
        *(
            FeedListing(
                f"sources/{path_segment(name)}", title, f"Articles from {title}", "source", name
            )
            for name, title in sources.items()
        ),
        *(
            FeedListing(f"tags/{path_segment(t)}", f"Tag: {t}", f"Articles tagged {t}", "tag", t)
            for t in sorted(set(tags))
        ),
    ]


def feed_spec(listing: FeedListing, entries: Iterable[FeedEntry], size: int) -> FeedSpec:
    """The feed ``listing`` holding at most ``size`` of ``entries``, newest first."""
    return FeedSpec(
        listing.path,
        listing.title,
        listing.description,
        listing.kind,
        newest_first(entries, size),
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

    return [
        feed_spec(listing, entries_of(listing), settings.feed_size)
        for listing in feed_listings(titles, by_tag)
    ]

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


def entry_from_story(story: StoryView, sources: Mapping[str, SourceConfig]) -> FeedEntry:
    """One entry for a whole story: the representative's text, the others as related links."""
    rep = story.representative
    base = entry_from_article(rep, sources[rep.source])
    related = tuple(
        RelatedLink(outlet=_outlet(a, sources), title=a.title, url=a.url)
        for a in story.others
        if a.source in sources
    )
    return replace(base, guid=story_guid(story.id), updated=story.updated, related=related)


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


def _all_spec(entries: Sequence[FeedEntry], size: int) -> FeedSpec:
    return FeedSpec(
        path=ALL_PATH,
        title="All stories",
        description="Every story feedsvc collected, newest first",
        kind="all",
        entries=newest_first(entries, size),
    )


def _source_spec(name: str, title: str, entries: Sequence[FeedEntry], size: int) -> FeedSpec:
    return FeedSpec(
        path=f"sources/{path_segment(name)}",
        title=title,
        description=f"Articles from {title}",
        kind="source",
        entries=newest_first(entries, size),
    )


def _source_specs(
    by_source: Mapping[str, Sequence[FeedEntry]], sources: Sequence[SourceConfig], size: int
) -> list[FeedSpec]:
    titles = {s.name: s.title for s in sources}
    extra = sorted(name for name in by_source if name not in titles)
    names = [*titles, *extra]
    return [_source_spec(n, titles.get(n, n), by_source.get(n, ()), size) for n in names]


def _tag_specs(by_tag: Mapping[str, Sequence[FeedEntry]], size: int) -> list[FeedSpec]:
    return [
        FeedSpec(
            path=f"tags/{path_segment(tag)}",
            title=f"Tag: {tag}",
            description=f"Articles tagged {tag}",
            kind="tag",
            entries=newest_first(by_tag[tag], size),
        )
        for tag in sorted(by_tag)
    ]


def plan_feeds(
    all_entries: Sequence[FeedEntry],
    by_source: Mapping[str, Sequence[FeedEntry]],
    by_tag: Mapping[str, Sequence[FeedEntry]],
    sources: Sequence[SourceConfig],
    settings: Settings,
) -> list[FeedSpec]:
    """The feeds to publish: "all", one per source (config order), one per tag (sorted)."""
    size = settings.feed_size
    return [
        _all_spec(all_entries, size),
        *_source_specs(by_source, sources, size),
        *_tag_specs(by_tag, size),
    ]

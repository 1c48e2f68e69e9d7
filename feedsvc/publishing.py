"""The publish stage of a cycle: render what changed since the last publish.

Orchestration between the store and the publisher, as ``assign`` is for
stories. The store keeps marks of the sources whose articles changed and the
stories whose shape changed, written in the same transactions as the changes.
A publish reads them, renders only the feeds they touch (a changed source: its
feed; a changed story: the all-stories feed and the feed of every tag its
members carry), each feed read from the store and rendered one at a time, then
drops the marks it rendered. A killed publish drops nothing, so the next one
renders it again.

A publish is **full** (every feed, and stale files pruned) when asked for,
when the output's fingerprint differs from the one the last publish stored
(the settings and sources that shape the output, and the feedsvc version), or
when ``index.html`` is missing. When nothing is marked and nothing else asks
for it, nothing is rendered at all. This module runs no SQL and renders no
bytes itself.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Executor
from functools import partial
from typing import TYPE_CHECKING

from feedsvc.fingerprint import FINGERPRINT_KEY, output_fingerprint
from feedsvc.publish.plan import (
    RELATED_LIMIT,
    entry_from_article,
    entry_from_story,
    feed_listings,
    feed_spec,
)
from feedsvc.publish.text import INDEX_FILE
from feedsvc.tags import tagger_for
from feedsvc.types import (
    Article,
    Config,
    FeedEntry,
    FeedListing,
    FeedSpec,
    PublishMarks,
    PublishResult,
    Settings,
)
from feedsvc.workers import bounded_map

if TYPE_CHECKING:
    from feedsvc.publish.output import Rendered, SpecRenderer
    from feedsvc.store import Store

log = logging.getLogger("feedsvc.publishing")

# Feeds read ahead of the one being rendered (bounds memory, keeps workers busy).
RENDER_WINDOW = 8
# Source feeds read from the store in one query (bounds memory, saves round trips).
SOURCES_PER_QUERY = 25


def publish_changes(
    config: Config, store: Store, *, full: bool = False, pool: Executor | None = None
) -> PublishResult:
    """Render the feeds changed since the last publish (every feed when ``full``).

    With a ``pool``, feeds are rendered in its workers while the next ones are read.
    """
    marks = store.publish_marks()
    fingerprint = output_fingerprint(config)
    if not full and store.service_state(FINGERPRINT_KEY) != fingerprint:
        log.info("publishing everything: the configuration or feedsvc changed")
        full = True
    if not full and not (config.settings.output_dir / INDEX_FILE).is_file():
        log.info("publishing everything: %s is missing", INDEX_FILE)
        full = True
    if not full and marks.empty:
        log.info("published nothing: nothing changed")
        return PublishResult()
    # The rendering modules (feedgen, lxml) load only when something is rendered.
    from feedsvc.publish.output import render_in_turn, write_output

    listings = feed_listings(
        {s.name: s.title for s in config.sources}, config.tags.tags, config.settings.feeds.sets
    )
    chosen = listings if full else touched_feeds(listings, marks, store)
    specs = _specs(config, store, chosen)
    render = render_in_turn if pool is None else _pool_renderer(pool)
    result = write_output(specs, config.settings, listings=listings, prune=full, render=render)
    store.published(marks.upto, {FINGERPRINT_KEY: fingerprint})
    return result


def touched_feeds(
    listings: Sequence[FeedListing], marks: PublishMarks, store: Store
) -> list[FeedListing]:
    """The feeds that the marked sources and stories appear in."""
    tags = store.tags_of_stories(marks.stories) if marks.stories else set()

    def touched(listing: FeedListing) -> bool:
        if listing.kind == "all":
            return bool(marks.stories)
        return listing.key in (marks.sources if listing.kind == "source" else tags)

    return [listing for listing in listings if touched(listing)]


def _pool_renderer(pool: Executor) -> SpecRenderer:
    """Render specs in ``pool``, a few in flight per worker, in order."""

    from feedsvc.publish.output import render_spec

    def render(specs: Iterable[FeedSpec], settings: Settings) -> Iterator[Rendered]:
        return bounded_map(pool, partial(render_spec, settings=settings), specs, RENDER_WINDOW)

    return render


def _specs(config: Config, store: Store, listings: Sequence[FeedListing]) -> Iterator[FeedSpec]:
    """Each feed with its newest entries, read from the store shortly before it is rendered.

    Source feeds are read ``SOURCES_PER_QUERY`` at a time, in one query each.
    Story entries carry the story's tags (every tag of any member) as categories.
    """
    size, max_age = config.settings.feed_size, config.settings.feeds.max_age
    sources = {s.name: s for s in config.sources}
    tagger = tagger_for(config.tags)
    names = [listing.key for listing in listings if listing.kind == "source"]
    read: dict[str, list[Article]] = {}
    position = 0
    for listing in listings:
        entries: list[FeedEntry]
        if listing.kind == "source":
            if listing.key not in read:
                ahead = names[position : position + SOURCES_PER_QUERY]
                read = store.recent_articles_by_source(ahead, size)
            position += 1
            articles = read.pop(listing.key, [])
            entries = [entry_from_article(a, sources[a.source], tagger) for a in articles]
        else:
            tag = listing.key if listing.kind == "tag" else None
            views = store.recent_stories(size, tag=tag, others=RELATED_LIMIT)
            tags = store.story_tags(v.id for v in views)
            entries = [
                entry_from_story(v, sources, tags=tags.get(v.id, ()), tagger=tagger)
                for v in views
                if v.representative.source in sources
            ]
        yield feed_spec(listing, entries, size, max_age)

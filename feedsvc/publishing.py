"""The publish stage of a cycle: render what changed since the last publish.

Orchestration between the store and the publisher, as ``assign`` is for
stories. The store keeps marks of the sources whose articles changed, the
stories whose shape changed and the tags an article gained or lost, written in
the same transactions as the changes. A publish reads them, renders only the
feeds they touch (a changed source: its feed; a changed story: the all-stories
feed and the feed of every tag its members carry; a marked tag: its feed),
each feed read from the store and rendered one at a time, then
drops the marks it rendered. A killed publish drops nothing, so the next one
renders it again.

Pages follow the same marks: a tag's or source's page is rendered with its
feed (from the same entries), a marked story's page with it, and so is the
small page left at each id the story absorbed in a merge (pointing to it);
the front page (latest stories, tags, the sources in summary) is rendered on
every publish that renders anything. The source directory (``directory``:
every source's health, a bounded number to a page) is rendered a page at a
time: only the pages whose health (failing or not, the error, the failure
count, disabled) differs from what they said, by a digest of each page kept
beside the output fingerprint. A run where no article changed renders nothing
unless some source's health changed; then it renders the front page and the
directory pages that show that source. The times of the last and next fetch,
which change on every run, do not count, so a run where nothing changed
costs one read of the sources' states and renders nothing.

A publish is **full** (every feed, and stale files pruned) when asked for,
when the output's fingerprint differs from the one the last publish stored
(the settings and sources that shape the output, and the feedsvc version), or
when ``index.html`` or ``sources.html`` is missing; it renders the page of
every story of two outlets or more (``plan.has_page``) too, in chunks.
When nothing is marked and nothing else asks for it, nothing is rendered at
all. This module runs no SQL and renders no
bytes itself.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Executor
from functools import partial
from itertools import chain
from typing import TYPE_CHECKING

from feedsvc.config_types import Config, Settings
from feedsvc.fingerprint import FINGERPRINT_KEY, output_fingerprint
from feedsvc.publish.directory import (
    changed_pages,
    directory_of,
    directory_pages,
    directory_path,
    source_health,
    sources_summary,
)
from feedsvc.publish.pageplan import (
    INDEX_STORIES,
    TAG_HEADLINES,
    index_page,
    moved_page,
    source_page,
    story_page,
    tag_links,
    tag_page,
)
from feedsvc.publish.plan import (
    PAGE_OUTLETS,
    RELATED_LIMIT,
    entry_from_article,
    entry_from_story,
    feed_listings,
    feed_spec,
    has_page,
)
from feedsvc.publish.text import INDEX_FILE
from feedsvc.tags import tagger_for
from feedsvc.types import Article, FeedListing, FeedSpec, PublishMarks, PublishResult
from feedsvc.workers import bounded_map, rest_workers

if TYPE_CHECKING:
    from feedsvc.publish.output import Listed, Output, Rendered, SpecRenderer
    from feedsvc.publish.pagespec import IndexPage, SourcesSummary
    from feedsvc.store import Store
    from feedsvc.tags import Tagger

log = logging.getLogger("feedsvc.publishing")

# Feeds read ahead of the one being rendered (bounds memory, keeps workers busy).
RENDER_WINDOW = 8
# Source feeds read from the store in one query (bounds memory, saves round trips).
SOURCES_PER_QUERY = 25
# Outlet counts of stories remembered from one chunk of source pages to the next
# (a big story is in many of them): beyond this many, forgotten and read again,
# so a publish of 10,000 sources' pages does not hold every story's count.
OUTLET_COUNTS_KEPT = 20_000
# Where the last publish keeps the digests of the source health each page of the
# directory shows (space-separated, in page order): the front page's summary
# changes only with them.
DIRECTORY_KEY = "directory_health"
# Directory pages a publish of health alone renders in this process (more go to workers).
HEALTH_PAGES_HERE = 2
# Stories whose pages are read from the store in one go, every member's text
# included: 10 holds the publisher about 4 MB smaller than 50 did on the
# realistic benchmark corpus, at the same speed (bench/speed.py).
STORIES_PER_QUERY = 10


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
    for page in (INDEX_FILE, directory_path(1)):
        if not full and not (config.settings.output_dir / page).is_file():
            log.info("publishing everything: %s is missing", page)
            full = True
    listings = feed_listings(
        {s.name: s.title for s in config.sources}, config.tags.tags, config.settings.feeds.sets
    )
    health = source_health(store.source_states(counts=False), config.sources, listings)
    before = store.service_state(DIRECTORY_KEY)
    directory, digests = changed_pages(
        directory_pages(health, listings), None if full or before is None else before.split()
    )
    health_only = not full and marks.empty
    if health_only and not directory:
        log.debug("published nothing: nothing changed")
        return PublishResult()
    # The rendering modules (feedgen, lxml) load only when something is rendered,
    # and only in the workers when there are workers.
    from feedsvc.publish.output import write_output

    if health_only:
        log.info(
            "publishing the front page and %d directory pages alone: a source's health changed",
            len(directory),
        )
        chosen: Sequence[FeedListing] = []
        stories: Sequence[str] = []
    else:
        chosen = listings if full else touched_feeds(listings, marks, store)
        stories = store.story_ids(min_outlets=PAGE_OUTLETS) if full else sorted(marks.stories)
    outputs = chain(_specs(config, store, chosen), _story_pages(config, store, listings, stories))
    # a few pages of health are not worth starting worker processes for (many are:
    # 10,000 sources failing at once rewrite 50 pages, 10 MB of HTML)
    few = health_only and len(directory) <= HEALTH_PAGES_HERE
    render = None if pool is None or few else _pool_renderer(pool)
    result = write_output(
        outputs,
        config.settings,
        listings=listings,
        prune=full,
        render=render,
        index=_index(config, store, listings, sources_summary(health)),
        directory=directory,
    )
    store.published(marks.upto, {FINGERPRINT_KEY: fingerprint, DIRECTORY_KEY: " ".join(digests)})
    return result


def touched_feeds(
    listings: Sequence[FeedListing], marks: PublishMarks, store: Store
) -> list[FeedListing]:
    """The feeds that the marked sources and stories appear in, and the marked tags'.

    A source whose article is in a marked story counts too: its page shows
    that story's outlet count and links its page, which may just have appeared.
    A marked tag is one an article gained or lost: a story may have left its feed.
    """
    tags = {*marks.tags, *(store.tags_of_stories(marks.stories) if marks.stories else ())}
    sources = {*marks.sources, *(store.sources_of_stories(marks.stories) if marks.stories else ())}

    def touched(listing: FeedListing) -> bool:
        if listing.kind == "all":
            return bool(marks.stories)
        return listing.key in (sources if listing.kind == "source" else tags)

    return [listing for listing in listings if touched(listing)]


def _pool_renderer(pool: Executor) -> SpecRenderer:
    """Render feeds and pages in ``pool``, a few in flight per worker, in order; end its workers."""

    from feedsvc.publish.output import render_item

    def render(items: Iterable[Output], settings: Settings) -> Iterator[Rendered]:
        yield from bounded_map(pool, partial(render_item, settings=settings), items, RENDER_WINDOW)
        # the front page was the last item: the commit needs no worker, their memory goes now
        rest_workers(pool)

    return render


def _specs(config: Config, store: Store, listings: Sequence[FeedListing]) -> Iterator[Listed]:
    """Each feed with its newest entries, read from the store shortly before it is rendered.

    Source feeds are read ``SOURCES_PER_QUERY`` at a time, in one query each
    (with the stories of their articles, for their pages). Story entries carry
    the story's tags (every tag of any member) as categories. Each tag's and
    source's feed is followed by its page, made from the same entries.
    """
    size, max_age = config.settings.feed_size, config.settings.feeds.max_age
    sources = {s.name: s for s in config.sources}
    directory = directory_of(config.sources)
    tagger = tagger_for(config.tags)
    names = [listing.key for listing in listings if listing.kind == "source"]
    read: dict[str, list[Article]] = {}
    stories: dict[tuple[str, str], tuple[str, int]] = {}
    outlets: dict[str, int] = {}  # a big story is in many sources' pages: counted once
    position = 0
    for listing in listings:
        if listing.kind != "source":
            spec = _story_feed(config, store, listing, tagger)
            yield spec
            if listing.kind == "tag":
                yield tag_page(spec)
            continue
        if listing.key not in read:
            ahead = names[position : position + SOURCES_PER_QUERY]
            read = store.recent_articles_by_source(ahead, size)
            stories = store.stories_of_articles(
                [(a.source, a.id) for g in read.values() for a in g], outlets
            )
            if len(outlets) > OUTLET_COUNTS_KEPT:
                outlets.clear()
            outlets.update(stories.values())
        position += 1
        articles = read.pop(listing.key, [])
        entries = [entry_from_article(a, sources[a.source], tagger) for a in articles]
        spec = feed_spec(listing, entries, size, max_age)
        yield spec
        kept = {entry.guid for entry in spec.entries}
        shown = [a for a, entry in zip(articles, entries, strict=True) if entry.guid in kept]
        yield source_page(listing, sources[listing.key], shown, stories, directory.get(listing.key))


def _story_feed(config: Config, store: Store, listing: FeedListing, tagger: Tagger) -> FeedSpec:
    """The all-stories feed or a tag's feed: the newest stories, each as one entry."""
    size, max_age = config.settings.feed_size, config.settings.feeds.max_age
    sources = {s.name: s for s in config.sources}
    tag = listing.key if listing.kind == "tag" else None
    views = store.recent_stories(size, tag=tag, others=RELATED_LIMIT)
    tags = store.story_tags(v.id for v in views)
    entries = [
        entry_from_story(v, sources, tags=tags.get(v.id, ()), tagger=tagger)
        for v in views
        if v.representative.source in sources
    ]
    return feed_spec(listing, entries, size, max_age)


def _story_pages(
    config: Config, store: Store, listings: Sequence[FeedListing], story_ids: Sequence[str]
) -> Iterator[Listed]:
    """The page of each of these stories that has one, and a page at each id it absorbed.

    Only a story of two outlets or more has a page (``plan.has_page``); an id
    it absorbed gets a small page pointing to it. Stories are read
    ``STORIES_PER_QUERY`` at a time, each with every member.
    """
    sources = {s.name: s for s in config.sources}
    for start in range(0, len(story_ids), STORIES_PER_QUERY):
        chunk = story_ids[start : start + STORIES_PER_QUERY]
        views = [view for view in store.stories_by_id(chunk, tags=False) if has_page(view.outlets)]
        live = [view.id for view in views]
        tags = store.story_tags(live)
        joins = store.story_joins(live)
        for view in views:
            links = tag_links(tags.get(view.id, ()), listings)
            yield story_page(view, sources, links, joins)
        for alias, survivor in sorted(store.aliases_into(live).items()):
            if alias not in live:
                yield moved_page(alias, survivor)


def _index(
    config: Config,
    store: Store,
    listings: Sequence[FeedListing],
    summary: SourcesSummary,
) -> IndexPage:
    """The front page's data: latest stories, each tag's last ones, the sources in summary."""
    sources = {s.name: s for s in config.sources}
    latest = store.recent_stories(INDEX_STORIES, others=0)
    by_tag = {
        listing.key: store.recent_stories(TAG_HEADLINES, tag=listing.key, others=0)
        for listing in listings
        if listing.kind == "tag"
    }
    return index_page(listings, summary, stories=latest, tag_stories=by_tag, sources=sources)

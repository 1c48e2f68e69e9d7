"""Writing every published file into the output directory.

``write_output`` has feed specs (RSS, Atom, JSON Feed) and HTML pages (story,
moved-story, tag and source pages) rendered one at a time, then the pages of
the source directory it is given (``sources.html``, ``sources-2.html``, ...),
then index.html, feeds.opml and the site's icon (the ``FrontPage``), staging
each changed file;
the rendering itself is ``rendering``'s, in this process or in workers (then
this one never loads feedgen, lxml or Jinja2). Only when everything rendered are the
staged files made visible, together (``atomic.staged_writes``), so a rendering
bug writes nothing and memory holds one feed at a time; then, on a full
publish, it removes feed files under ``sources/`` and ``tags/`` (and ``all.*``)
that no listed feed produces any more, in a format still published, and the
``.html`` pages under ``stories/``, ``sources/`` and ``tags/`` and the source
directory's pages at the root (``sources-3.html``) that this publish did not
render (nothing else is ever removed). With a WebSub hub
configured, JSON Feeds list it under ``hubs``; ``changed_feed_urls`` names
the public URLs of the feeds a publish rewrote, for the hub ping. It does not
decide which feeds and pages exist (see ``plan`` and ``pageplan``), runs no
SQL and fetches nothing (the ping itself is ``websub.notify_hub``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import chain
from pathlib import Path

from feedsvc.config_types import Settings
from feedsvc.errors import PublishError
from feedsvc.publish.atomic import files_under, remove_file, staged_writes
from feedsvc.publish.directory import (
    DIRECTORY,
    DIRECTORY_PAGE,
    directory_pages,
    listed_health,
    sources_summary,
)
from feedsvc.publish.pageplan import index_page
from feedsvc.publish.pagespec import DirectoryPage, FrontPage, IndexPage, Page
from feedsvc.publish.plan import ALL_PATH, PAGE_SUFFIX, STORIES_DIR
from feedsvc.publish.text import public_url
from feedsvc.tempfiles import remove_leftovers
from feedsvc.types import FeedListing, FeedSpec, PublishResult

log = logging.getLogger("feedsvc.publish")

Rendered = list[tuple[str, bytes]]
Output = FeedSpec | Page | FrontPage
"""A feed (every format), a page or the root files: what write_output renders, one at a time."""
Listed = FeedSpec | Page
"""What callers of write_output hand it (it adds the ``FrontPage`` itself)."""
SpecRenderer = Callable[[Iterable[Output], Settings], Iterable[Rendered]]
"""Renders feeds and pages to their files, in order: in turn, or in worker processes."""

# The suffix of each feed format, in the order they are rendered (``rendering``).
FEED_FORMATS = (".rss", ".atom", ".json")
FEED_SUFFIXES = frozenset(FEED_FORMATS)
PRUNED_DIRS = ("sources", "tags")
PAGE_DIRS = (STORIES_DIR, *PRUNED_DIRS)
PAGE_SUFFIXES = frozenset({PAGE_SUFFIX})
_SEGMENT = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*")


def check_paths(listings: Sequence[FeedListing]) -> None:
    """Refuse unsafe feed paths and two feeds on one path (``PublishError``)."""
    seen: set[str] = set()
    for listing in listings:
        if not all(_SEGMENT.fullmatch(part) for part in listing.path.split("/")):
            raise PublishError(f"unsafe feed path {listing.path!r}")
        if listing.path in seen:
            raise PublishError(f"two feeds share the path {listing.path!r}")
        seen.add(listing.path)


def published_suffixes(settings: Settings) -> list[str]:
    """The file suffixes of the formats published (``settings.feeds.formats``), in order."""
    return [ext for ext in FEED_FORMATS if ext[1:] in settings.feeds.formats]


def render_item(item: Output, settings: Settings) -> Rendered:
    """``rendering.render_output``, loaded on the first call: what a worker process is sent."""
    from feedsvc.publish.rendering import render_output

    return render_output(item, settings)


def _stale_files(
    root: Path, listings: Sequence[FeedListing], suffixes: Sequence[str]
) -> list[Path]:
    live = {f"{listing.path}{ext}" for listing in listings for ext in suffixes}
    candidates = [p for d in PRUNED_DIRS for p in files_under(root / d, FEED_SUFFIXES)]
    candidates += [root / f"{ALL_PATH}{ext}" for ext in FEED_SUFFIXES]
    return [p for p in candidates if p.is_file() and p.relative_to(root).as_posix() not in live]


def remove_stale(
    root: Path, listings: Sequence[FeedListing], suffixes: Sequence[str] = tuple(FEED_SUFFIXES)
) -> list[str]:
    """Remove feed files (under sources/ and tags/, and all.*) that no listed feed produces."""
    stale = _stale_files(root, listings, suffixes)
    for path in stale:
        remove_file(path)
    return [p.relative_to(root).as_posix() for p in stale]


def write_output(
    specs: Iterable[Listed],
    settings: Settings,
    *,
    listings: Sequence[FeedListing] | None = None,
    prune: bool = True,
    render: SpecRenderer | None = None,
    index: IndexPage | None = None,
    directory: Sequence[DirectoryPage] | None = None,
) -> PublishResult:
    """Render and write feeds, pages, index.html and feeds.opml; prune stale files.

    ``specs`` (feeds and pages) are rendered one at a time (they may come from
    a generator, so memory holds a few feeds, not the output; ``render`` may
    render them in worker processes, and renders the ``FrontPage`` last; None
    renders in this process); ``listings`` name every published feed
    for the index, the OPML file and pruning (by default: the specs'). The
    front page is ``index`` (by default: the feeds alone, no stories, no fetch
    health), and ``directory`` the pages of the source directory to render (by
    default: every page, no fetch health; a publish that knows the health
    passes the pages whose health changed).
    Nothing becomes visible unless every file rendered; then all changed files
    are replaced together. ``prune=False`` keeps stale files (an incremental
    publish renders only some feeds and pages and leaves pruning to a full one).
    """
    if listings is None:
        specs = list(specs)
        listings = [spec.listing for spec in specs if isinstance(spec, FeedSpec)]
    check_paths(listings)
    listed = {listing.path for listing in listings}
    root = settings.output_dir
    for folder in (root, *(root / d for d in PAGE_DIRS)):
        remove_leftovers(folder)  # temporary files of a publish that was killed
    if render is None:
        from feedsvc.publish.rendering import render_in_turn

        render = render_in_turn
    written: list[str] = []
    unchanged: list[str] = []
    health = listed_health(listings) if index is None or directory is None else ()
    if index is None:
        index = index_page(listings, sources_summary(health))
    if directory is None:
        directory = directory_pages(health, listings)
    for page in directory:
        if not DIRECTORY_PAGE.fullmatch(page.path):
            raise PublishError(f"unsafe directory page path {page.path!r}")
    front = FrontPage(index, tuple(listings))
    with staged_writes() as batch:
        items = chain(_listed(specs, listed), directory, [front])
        for files in render(items, settings):
            for relative, data in files:
                (written if batch.stage(root / relative, data) else unchanged).append(relative)
    removed: list[str] = []
    if prune:
        removed += remove_stale(root, listings, published_suffixes(settings))
        removed += remove_stale_pages(root, {*written, *unchanged})
    log.info(
        "published output_dir=%s feeds=%d written=%d unchanged=%d removed=%d",
        root,
        len(listings),
        len(written),
        len(unchanged),
        len(removed),
    )
    return PublishResult(written=tuple(written), unchanged=tuple(unchanged), removed=tuple(removed))


def remove_stale_pages(root: Path, live: set[str]) -> list[str]:
    """Remove the ``.html`` pages under stories/, sources/ and tags/ not among ``live`` paths.

    The source directory's pages at the root (``sources-3.html``) go the same way.
    """
    pages = [p for directory in PAGE_DIRS for p in files_under(root / directory, PAGE_SUFFIXES)]
    listed = root.glob(f"{DIRECTORY}*{PAGE_SUFFIX}")
    pages += [p for p in listed if DIRECTORY_PAGE.fullmatch(p.name)]
    stale = [path for path in pages if path.relative_to(root).as_posix() not in live]
    for path in stale:
        remove_file(path)
    return [p.relative_to(root).as_posix() for p in stale]


def _listed(items: Iterable[Listed], listed: set[str]) -> Iterator[Output]:
    for item in items:
        if isinstance(item, FeedSpec):
            if item.path not in listed:
                raise PublishError(f"feed {item.path!r} is not among the listed feeds")
        elif not _is_page_path(item.path):
            raise PublishError(f"unsafe page path {item.path!r}")
        yield item


def _is_page_path(path: str) -> bool:
    directory, _, name = path.partition("/")
    return (
        directory in PAGE_DIRS
        and name.endswith(PAGE_SUFFIX)
        and all(_SEGMENT.fullmatch(part) for part in name.split("/"))
    )


def changed_feed_urls(paths: Iterable[str], settings: Settings) -> list[str]:
    """The public URLs of the feed files among ``paths`` (relative to the output dir)."""
    return [public_url(settings, p) for p in paths if Path(p).suffix in FEED_SUFFIXES]

"""Writing every published file into the output directory.

``write_output`` renders feed specs (RSS, Atom, JSON Feed) and HTML pages
(story, moved-story, tag and source pages) one at a time, staging each changed
file, then index.html, feeds.opml and the site's icon; only when everything rendered are the
staged files made visible, together (``atomic.staged_writes``), so a rendering
bug writes nothing and memory holds one feed at a time; then, on a full
publish, it removes feed files under ``sources/`` and ``tags/`` (and ``all.*``)
that no listed feed produces any more, in a format still published, and the
``.html`` pages under ``stories/``, ``sources/`` and ``tags/`` that this
publish did not render (nothing else is ever removed). With a WebSub hub
configured, JSON Feeds list it under ``hubs``; ``changed_feed_urls`` names
the public URLs of the feeds a publish rewrote, for the hub ping. It does not
decide which feeds and pages exist (see ``plan`` and ``pageplan``), runs no
SQL and fetches nothing (the ping itself is ``websub.notify_hub``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

from feedsvc.config_types import Settings
from feedsvc.errors import PublishError
from feedsvc.publish.atomic import files_under, remove_file, staged_writes
from feedsvc.publish.index import render_index
from feedsvc.publish.jsonfeed import render_json
from feedsvc.publish.opml import render_opml
from feedsvc.publish.pageplan import PAGE_SUFFIX, index_page
from feedsvc.publish.pages import render_page
from feedsvc.publish.pagespec import IndexPage, Page
from feedsvc.publish.plan import ALL_PATH, STORIES_DIR
from feedsvc.publish.syndication import render_atom, render_rss
from feedsvc.publish.templating import FAVICON, favicon
from feedsvc.publish.text import INDEX_FILE, OPML_FILE, public_url
from feedsvc.tempfiles import remove_leftovers
from feedsvc.types import FeedListing, FeedSpec, PublishResult

log = logging.getLogger("feedsvc.publish")

Renderer = Callable[[FeedSpec, Settings], bytes]
Rendered = list[tuple[str, bytes]]
Output = FeedSpec | Page
"""A feed (every format) or a page: what write_output renders, one at a time."""
SpecRenderer = Callable[[Iterable[Output], Settings], Iterable[Rendered]]
"""Renders feeds and pages to their files, in order: in turn, or in worker processes."""


RENDERERS: tuple[tuple[str, Renderer], ...] = (
    (".rss", render_rss),
    (".atom", render_atom),
    (".json", render_json),
)
FEED_SUFFIXES = frozenset(ext for ext, _ in RENDERERS)
PRUNED_DIRS = ("sources", "tags")
PAGE_DIRS = (STORIES_DIR, *PRUNED_DIRS)
PAGE_SUFFIXES = frozenset({PAGE_SUFFIX})
_SEGMENT = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*")


def _check_paths(listings: Sequence[FeedListing]) -> None:
    seen: set[str] = set()
    for listing in listings:
        if not all(_SEGMENT.fullmatch(part) for part in listing.path.split("/")):
            raise PublishError(f"unsafe feed path {listing.path!r}")
        if listing.path in seen:
            raise PublishError(f"two feeds share the path {listing.path!r}")
        seen.add(listing.path)


def published_suffixes(settings: Settings) -> list[str]:
    """The file suffixes of the formats published (``settings.feeds.formats``), in order."""
    return [ext for ext, _ in RENDERERS if ext[1:] in settings.feeds.formats]


def render_spec(spec: FeedSpec, settings: Settings) -> list[tuple[str, bytes]]:
    """Each file of one feed (every format published): its path in the output dir, its bytes."""
    formats = settings.feeds.formats
    return [
        (f"{spec.path}{ext}", render(spec, settings))
        for ext, render in RENDERERS
        if ext[1:] in formats
    ]


def render_output(item: Output, settings: Settings) -> Rendered:
    """The files of one feed (every format published) or one page: paths and bytes."""
    if isinstance(item, FeedSpec):
        return render_spec(item, settings)
    return render_page(item, settings)


def render_in_turn(items: Iterable[Output], settings: Settings) -> Iterator[Rendered]:
    """Render each feed or page in this process, one after the other (the default)."""
    for item in items:
        yield render_output(item, settings)


def render_files(specs: Sequence[FeedSpec], settings: Settings) -> dict[str, bytes]:
    """Every output file's bytes keyed by its path relative to the output dir."""
    listings = [spec.listing for spec in specs]
    _check_paths(listings)
    files = {path: data for spec in specs for path, data in render_spec(spec, settings)}
    files[INDEX_FILE] = render_index(index_page(listings), settings)
    files[OPML_FILE] = render_opml(listings, settings)
    files[FAVICON] = favicon()
    return files


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
    specs: Iterable[Output],
    settings: Settings,
    *,
    listings: Sequence[FeedListing] | None = None,
    prune: bool = True,
    render: SpecRenderer = render_in_turn,
    index: IndexPage | None = None,
) -> PublishResult:
    """Render and write feeds, pages, index.html and feeds.opml; prune stale files.

    ``specs`` (feeds and pages) are rendered one at a time (they may come from
    a generator, so memory holds a few feeds, not the output; ``render`` may
    render them in worker processes); ``listings`` name every published feed
    for the index, the OPML file and pruning (by default: the specs'). The
    front page is ``index`` (by default: the feeds alone, no stories).
    Nothing becomes visible unless every file rendered; then all changed files
    are replaced together. ``prune=False`` keeps stale files (an incremental
    publish renders only some feeds and pages and leaves pruning to a full one).
    """
    if listings is None:
        specs = list(specs)
        listings = [spec.listing for spec in specs if isinstance(spec, FeedSpec)]
    _check_paths(listings)
    listed = {listing.path for listing in listings}
    root = settings.output_dir
    for directory in (root, *(root / d for d in PAGE_DIRS)):
        remove_leftovers(directory)  # temporary files of a publish that was killed
    written: list[str] = []
    unchanged: list[str] = []
    front = index or index_page(listings)
    with staged_writes() as batch:
        for files in render(_listed(specs, listed), settings):
            for relative, data in files:
                (written if batch.stage(root / relative, data) else unchanged).append(relative)
        last = (
            (INDEX_FILE, render_index(front, settings)),
            (OPML_FILE, render_opml(listings, settings)),
            (FAVICON, favicon()),
        )
        for relative, data in last:
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
    """Remove the ``.html`` pages under stories/, sources/ and tags/ not among ``live`` paths."""
    stale = [
        path
        for directory in PAGE_DIRS
        for path in files_under(root / directory, PAGE_SUFFIXES)
        if path.relative_to(root).as_posix() not in live
    ]
    for path in stale:
        remove_file(path)
    return [p.relative_to(root).as_posix() for p in stale]


def _listed(items: Iterable[Output], listed: set[str]) -> Iterator[Output]:
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

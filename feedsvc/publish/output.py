"""Writing every published file into the output directory.

``write_output`` renders all feed specs (RSS, Atom, JSON Feed), index.html and
feeds.opml to bytes first, so a rendering bug writes nothing; then writes each
file atomically and only when its bytes change; then removes feed files under
``sources/`` and ``tags/`` that no spec produces any more (nothing else is ever
removed). With a WebSub hub configured, JSON Feeds list it under ``hubs``;
``changed_feed_urls`` names the public URLs of the feeds a publish rewrote, for
the hub ping. It does not decide which feeds exist (see ``plan``), runs no SQL
and fetches nothing (the ping itself is ``fetch.notify_hub``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from feedsvc.errors import PublishError
from feedsvc.publish.atomic import files_under, remove_file, write_if_changed
from feedsvc.publish.index import render_index
from feedsvc.publish.jsonfeed import render_json
from feedsvc.publish.opml import render_opml
from feedsvc.publish.syndication import render_atom, render_rss
from feedsvc.publish.text import INDEX_FILE, OPML_FILE, public_url
from feedsvc.types import FeedSpec, PublishResult, Settings

log = logging.getLogger("feedsvc.publish")

Renderer = Callable[[FeedSpec, Settings], bytes]


RENDERERS: tuple[tuple[str, Renderer], ...] = (
    (".rss", render_rss),
    (".atom", render_atom),
    (".json", render_json),
)
FEED_SUFFIXES = frozenset(ext for ext, _ in RENDERERS)
PRUNED_DIRS = ("sources", "tags")
_SEGMENT = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*")


def _check_paths(specs: Sequence[FeedSpec]) -> None:
    seen: set[str] = set()
    for spec in specs:
        if not all(_SEGMENT.fullmatch(part) for part in spec.path.split("/")):
            raise PublishError(f"unsafe feed path {spec.path!r}")
        if spec.path in seen:
            raise PublishError(f"two feeds share the path {spec.path!r}")
        seen.add(spec.path)


def render_files(specs: Sequence[FeedSpec], settings: Settings) -> dict[str, bytes]:
    """Every output file's bytes keyed by its path relative to the output dir."""
    _check_paths(specs)
    files = {
        f"{spec.path}{ext}": render(spec, settings) for spec in specs for ext, render in RENDERERS
    }
    files[INDEX_FILE] = render_index(specs, settings)
    files[OPML_FILE] = render_opml(specs, settings)
    return files


def _stale_files(root: Path, specs: Sequence[FeedSpec]) -> list[Path]:
    live = {spec.path for spec in specs}
    candidates = [p for d in PRUNED_DIRS for p in files_under(root / d, FEED_SUFFIXES)]
    return [p for p in candidates if p.relative_to(root).with_suffix("").as_posix() not in live]


def remove_stale(root: Path, specs: Sequence[FeedSpec]) -> list[str]:
    """Remove feed files under sources/ and tags/ that no spec produces; return them."""
    stale = _stale_files(root, specs)
    for path in stale:
        remove_file(path)
    return [p.relative_to(root).as_posix() for p in stale]


def write_output(specs: Sequence[FeedSpec], settings: Settings) -> PublishResult:
    """Render and write every feed, index.html and feeds.opml; prune stale feed files."""
    root = settings.output_dir
    written: list[str] = []
    unchanged: list[str] = []
    for relative, data in render_files(specs, settings).items():
        (written if write_if_changed(root / relative, data) else unchanged).append(relative)
    removed = remove_stale(root, specs)
    log.info(
        "published output_dir=%s feeds=%d written=%d unchanged=%d removed=%d",
        root,
        len(specs),
        len(written),
        len(unchanged),
        len(removed),
    )
    return PublishResult(written=tuple(written), unchanged=tuple(unchanged), removed=tuple(removed))


def changed_feed_urls(paths: Iterable[str], settings: Settings) -> list[str]:
    """The public URLs of the feed files among ``paths`` (relative to the output dir)."""
    return [public_url(settings, p) for p in paths if Path(p).suffix in FEED_SUFFIXES]

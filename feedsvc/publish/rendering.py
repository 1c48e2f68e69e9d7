"""Rendering what ``output`` writes: feeds (every format), pages and the site's root files.

The only module of the writing path that loads the rendering stack (feedgen,
lxml, Jinja2): ``output`` stages and commits files and imports it only to
render in turn, so a publisher that renders in worker processes never loads
it. Pure: specs in, bytes out; it writes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence

from feedsvc.config_types import Settings
from feedsvc.publish.directory import directory_pages, listed_health, sources_summary
from feedsvc.publish.index import render_index
from feedsvc.publish.jsonfeed import render_json
from feedsvc.publish.opml import render_opml
from feedsvc.publish.output import FEED_FORMATS, Output, Rendered, check_paths
from feedsvc.publish.pageplan import index_page
from feedsvc.publish.pages import render_page
from feedsvc.publish.pagespec import FrontPage
from feedsvc.publish.syndication import render_atom, render_rss
from feedsvc.publish.templating import FAVICON, favicon
from feedsvc.publish.text import INDEX_FILE, OPML_FILE, forget_memos
from feedsvc.types import FeedSpec

Renderer = Callable[[FeedSpec, Settings], bytes]

RENDERERS: tuple[tuple[str, Renderer], ...] = tuple(
    zip(FEED_FORMATS, (render_rss, render_atom, render_json), strict=True)
)


def render_spec(spec: FeedSpec, settings: Settings) -> Rendered:
    """Each file of one feed (every format published): its path in the output dir, its bytes."""
    formats = settings.feeds.formats
    return [
        (f"{spec.path}{ext}", render(spec, settings))
        for ext, render in RENDERERS
        if ext[1:] in formats
    ]


def render_front(front: FrontPage, settings: Settings) -> Rendered:
    """index.html, feeds.opml and the site's icon."""
    return [
        (INDEX_FILE, render_index(front.index, settings)),
        (OPML_FILE, render_opml(front.listings, settings)),
        (FAVICON, favicon()),
    ]


def render_output(item: Output, settings: Settings) -> Rendered:
    """The files of one feed (every format published), one page or the root files."""
    try:
        if isinstance(item, FeedSpec):
            return render_spec(item, settings)
        if isinstance(item, FrontPage):
            return render_front(item, settings)
        return render_page(item, settings)
    finally:
        forget_memos()  # the item's strings, shared by its formats, are not needed again


def render_in_turn(items: Iterable[Output], settings: Settings) -> Iterator[Rendered]:
    """Render each feed or page in this process, one after the other (the default)."""
    for item in items:
        yield render_output(item, settings)


def render_files(specs: Sequence[FeedSpec], settings: Settings) -> dict[str, bytes]:
    """Every output file's bytes keyed by its path relative to the output dir.

    The front page and the source directory list the feeds alone (no stories, no health).
    """
    listings = tuple(spec.listing for spec in specs)
    check_paths(listings)
    files = {path: data for spec in specs for path, data in render_output(spec, settings)}
    health = listed_health(listings)
    for page in directory_pages(health, listings):
        files.update(render_page(page, settings))
    front = FrontPage(index_page(listings, sources_summary(health)), listings)
    files.update(render_front(front, settings))
    return files

"""Rendering of the HTML pages: a page record in, its file's path and bytes out.

Each kind of page has its template (``story.html``, ``tag.html``,
``source.html``, ``moved.html``, ``sources.html`` for the source directory;
the front page is ``index``'s); this module gathers what the
template needs besides the record: the feed formats published, public URLs
for autodiscovery and, for a story, what differs between its outlets
(``feedsvc.compare``, run here, so in the worker that renders the page).
Equal records give equal bytes. It does no I/O beyond reading templates.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from feedsvc.compare import Differences, Report, find_differences
from feedsvc.config_types import Settings
from feedsvc.publish.index import published_formats, render_index
from feedsvc.publish.pagespec import (
    DirectoryPage,
    IndexPage,
    MovedPage,
    Page,
    SourcePage,
    StoryPage,
    TagPage,
)
from feedsvc.publish.plan import ALL_PATH
from feedsvc.publish.templating import render_template
from feedsvc.publish.text import public_url
from feedsvc.types import FeedListing

ALL_LISTING = FeedListing(ALL_PATH, "All stories", "", "all")


def story_differences(page: StoryPage) -> Differences:
    """What differs between the outlets of a story, each outlet's reports read together."""
    return find_differences(
        [Report(r.outlet, r.article.title, r.article.text) for r in page.reports]
    )


def _common(settings: Settings) -> dict[str, Any]:
    everything = ALL_LISTING if "all" in settings.feeds.sets else None
    return {
        "formats": published_formats(settings),
        "public": partial(public_url, settings),
        "everything": everything,
    }


def render_story(page: StoryPage, settings: Settings) -> bytes:
    """The page of one story: every outlet's reports and what differs between them."""
    return render_template(
        "story.html",
        page.path,
        page=page,
        first=page.reports[0] if page.reports else None,
        differences=story_differences(page),
        **_common(settings),
    )


def render_moved(page: MovedPage, settings: Settings) -> bytes:
    """The page of a merged-away story id, pointing to the story it joined."""
    return render_template("moved.html", page.path, page=page, **_common(settings))


def render_tag(page: TagPage, settings: Settings) -> bytes:
    """A tag's page: its stories and the links to subscribe to its feed."""
    return render_template("tag.html", page.path, page=page, **_common(settings))


def render_source(page: SourcePage, settings: Settings) -> bytes:
    """A source's page: its latest reports and the links to subscribe to its feed."""
    return render_template("source.html", page.path, page=page, **_common(settings))


def render_directory(page: DirectoryPage, settings: Settings) -> bytes:
    """A page of the source directory: each source's health and the links to its feed."""
    feeds = {listing.key: listing for listing in page.feeds}
    return render_template("sources.html", page.path, page=page, feeds=feeds, **_common(settings))


_RENDERERS: dict[type, Callable[[Any, Settings], bytes]] = {
    StoryPage: render_story,
    MovedPage: render_moved,
    TagPage: render_tag,
    SourcePage: render_source,
    IndexPage: render_index,
    DirectoryPage: render_directory,
}


def render_page(page: Page, settings: Settings) -> list[tuple[str, bytes]]:
    """The file of one page: its path in the output dir and its bytes."""
    return [(page.path, _RENDERERS[type(page)](page, settings))]

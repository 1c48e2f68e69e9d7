"""The HTML index page (index.html) listing every published feed.

A small static HTML5 page: autodiscovery ``<link rel="alternate">`` elements in
``<head>`` for every feed in every format, then one list per group (all,
sources, tags) with links to the three formats and to feeds.opml. No
JavaScript, no clock: equal input gives equal bytes. Every piece of text is
HTML-escaped here. This module does no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence

from feedsvc.publish.jsonfeed import JSON_FEED_TYPE
from feedsvc.publish.syndication import ATOM_TYPE, RSS_TYPE
from feedsvc.publish.text import OPML_FILE, escape, public_url, xml_text
from feedsvc.types import FeedListing, Settings

PAGE_TITLE = "feedsvc feeds"
# (extension, media type, label) of every format, in the order they are listed.
FORMATS = (
    (".rss", RSS_TYPE, "RSS"),
    (".atom", ATOM_TYPE, "Atom"),
    (".json", JSON_FEED_TYPE, "JSON Feed"),
)
GROUPS = (("all", "All"), ("source", "Sources"), ("tag", "Tags"))


def feed_title(spec: FeedListing) -> str:
    """The display title of a feed, XML-safe and never empty."""
    return xml_text(spec.title).strip() or spec.path


def published_formats(settings: Settings) -> list[tuple[str, str, str]]:
    """(extension, media type, label) of each format published, in order."""
    return [f for f in FORMATS if f[0][1:] in settings.feeds.formats]


def _autodiscovery(spec: FeedListing, settings: Settings) -> list[str]:
    title = feed_title(spec)
    return [
        f'<link rel="alternate" type="{mime}" title="{escape(f"{title} ({label})")}"'
        f' href="{escape(public_url(settings, spec.path + ext))}">'
        for ext, mime, label in published_formats(settings)
    ]


def _item(spec: FeedListing, settings: Settings) -> str:
    links = " · ".join(
        f'<a href="{escape(spec.path + ext)}" type="{mime}">{label}</a>'
        for ext, mime, label in published_formats(settings)
    )
    return f'<li><span class="feed-title">{escape(feed_title(spec))}</span>: {links}</li>'


def _sections(specs: Sequence[FeedListing], settings: Settings) -> list[str]:
    lines: list[str] = []
    for kind, heading in GROUPS:
        members = [_item(s, settings) for s in specs if s.kind == kind]
        if members:
            lines += [f"<h2>{heading}</h2>", "<ul>", *members, "</ul>"]
    return lines


def render_index(specs: Sequence[FeedListing], settings: Settings) -> bytes:
    """The index.html page listing ``specs`` as UTF-8 bytes."""
    head = [line for spec in specs for line in _autodiscovery(spec, settings)]
    lines = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{PAGE_TITLE}</title>",
        *head,
        "</head>",
        "<body>",
        f"<h1>{PAGE_TITLE}</h1>",
        f'<p><a href="{OPML_FILE}" type="text/x-opml">All feeds as OPML</a></p>',
        *_sections(specs, settings),
        "</body>",
        "</html>",
    ]
    return ("\n".join(lines) + "\n").encode("utf-8")

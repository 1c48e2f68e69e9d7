"""The front page, index.html: latest stories, tags with their headlines, the sources in summary.

Rendered from an ``IndexPage`` with the ``index.html`` template (Jinja2,
escaping everything): autodiscovery ``<link rel="alternate">`` elements in
``<head>`` for the all-stories feed and every tag's, in every published
format; the latest stories with their outlet counts and pages; each tag with
its last few headlines and its subscribe links; how many sources there are
and how many fail, the longest-failing few, and a link to the source
directory (each source's own page advertises its feed); the OPML link. No
JavaScript, no clock: equal input gives equal bytes. The feed formats and
titles shared with the OPML file live here too. No I/O.
"""

from __future__ import annotations

from feedsvc.config_types import Settings
from feedsvc.publish.jsonfeed import JSON_FEED_TYPE
from feedsvc.publish.pagespec import IndexPage
from feedsvc.publish.syndication import ATOM_TYPE, RSS_TYPE
from feedsvc.publish.templating import render_template
from feedsvc.publish.text import public_url, xml_text
from feedsvc.types import FeedListing

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


def render_index(page: IndexPage, settings: Settings) -> bytes:
    """The front page as UTF-8 bytes."""
    everything = next((listing for listing in page.listings if listing.kind == "all"), None)
    return render_template(
        "index.html",
        page.path,
        page=page,
        everything=everything,
        formats=published_formats(settings),
        public=lambda relative: public_url(settings, relative),
    )

"""RSS 2.0 and Atom 1.0 rendering of one feed spec; the only feedgen user.

feedgen's sharp edges are handled here and nowhere else: every timestamp is set
from the data (feedgen would use "now"), entries are added with
``order="append"`` (feedgen prepends by default), the generator carries no
version, text is made XML-safe before lxml sees it, and the result is rendered
to bytes. With a WebSub hub configured, both formats carry
``<atom:link rel="hub">`` (feedgen writes only the self link into RSS, so the
hub link is added to RSS by a small feed extension). Writing the bytes is the
caller's job; this module does no I/O.
"""

from __future__ import annotations

import html
from typing import Any

from feedgen.feed import FeedGenerator
from feedgen.util import xml_elem

from feedsvc.config_types import Settings
from feedsvc.publish.plan import home_page, path_segment
from feedsvc.publish.text import (
    COMPARE_LABEL,
    entry_authors,
    entry_categories,
    entry_content,
    entry_link,
    entry_title,
    feed_updated,
    is_http,
    page_url,
    public_url,
    rfc3339,
    utc,
    xml_text,
)
from feedsvc.types import FeedEntry, FeedSpec

RSS_TYPE = "application/rss+xml"
ATOM_TYPE = "application/atom+xml"
ATOM_NS = "http://www.w3.org/2005/Atom"
_EXTRAS = "feedsvc_extras"
_HUB = "feedsvc_hub"


class _RssHub:
    """feedgen feed extension: ``<atom:link rel="hub">`` right after the RSS self link."""

    def __init__(self) -> None:
        self.hub = ""

    def extend_ns(self) -> dict[str, str]:
        """The atom namespace is already declared by feedgen's RSS output."""
        return {}

    def extend_rss(self, feed: Any) -> Any:
        """Insert the hub link into the channel, after the self link."""
        channel = feed.find("channel")
        link = xml_elem(f"{{{ATOM_NS}}}link", channel, rel="hub", href=self.hub)
        self_link = channel.find(f"{{{ATOM_NS}}}link")
        if self_link is not None and self_link is not link:
            channel.remove(link)
            self_link.addnext(link)
        return feed


class _EntryExtras:
    """feedgen entry extension: source attribution and related links.

    RSS gets ``<source url="...">title</source>``: the outlet's feed URL when it
    is http(s), else feedsvc's own feed of that outlet (RSS requires the url).
    Atom gets ``<source>`` with the outlet's ``id``, ``title``, ``updated`` (the
    entry's: the outlet as of this entry) and a link (``rel="self"`` to the
    outlet's own feed, else ``rel="alternate"`` to feedsvc's feed of it), plus
    one ``<link rel="related">`` per related URL and one (``type="text/html"``)
    to a story's page comparing its outlets; feedgen 1.0 drops the ``rel`` of
    entry links, so they are written here.
    """

    def __init__(self) -> None:
        self.source_title = ""
        self.source_url: str | None = None
        self.source_id = ""
        self.source_feed: str | None = None
        self.source_updated = ""
        self.related: list[tuple[str, str]] = []
        self.page: str | None = None

    def extend_ns(self) -> dict[str, str]:
        """No extra namespace is needed."""
        return {}

    def extend_rss(self, item: Any) -> Any:
        """Append the RSS ``<source>`` element to ``item``."""
        url = self.source_url or self.source_feed
        if url:
            element = xml_elem("source", item, url=url)
            element.text = self.source_title
        return item

    def extend_atom(self, entry: Any) -> Any:
        """Append the related links and the ``<source>`` element to ``entry``."""
        for href, title in self.related:
            xml_elem("link", entry, rel="related", href=href, title=title)
        if self.page:
            xml_elem(
                "link", entry, rel="related", href=self.page, type="text/html", title=COMPARE_LABEL
            )
        source = xml_elem("source", entry)
        xml_elem("id", source).text = self.source_id
        xml_elem("title", source).text = self.source_title
        xml_elem("updated", source).text = self.source_updated
        if self.source_url:
            xml_elem("link", source, rel="self", href=self.source_url)
        elif self.source_feed:
            xml_elem("link", source, rel="alternate", href=self.source_feed, type=ATOM_TYPE)
        return entry


def _generator(spec: FeedSpec, settings: Settings, ext: str, mime: str) -> Any:
    fg = FeedGenerator()
    title = xml_text(spec.title).strip() or spec.path
    fg.id(public_url(settings, f"{spec.path}.atom"))
    fg.title(title)
    fg.description(xml_text(spec.description).strip() or title)
    # feedgen uses the LAST feed link as the RSS <link>: self first, alternate last.
    fg.link(href=public_url(settings, f"{spec.path}{ext}"), rel="self", type=mime)
    if settings.websub_hub and ext == ".atom":
        fg.link(href=xml_text(settings.websub_hub), rel="hub")
    fg.link(href=public_url(settings, home_page(spec.listing)), rel="alternate", type="text/html")
    fg.updated(feed_updated(spec.entries))
    fg.generator("feedsvc")
    return fg


def _extras(fe: Any, entry: FeedEntry, settings: Settings, ext: str) -> None:
    fe.register_extension(_EXTRAS, _EntryExtras, atom=True, rss=True)
    extras: _EntryExtras = getattr(fe, _EXTRAS)
    extras.source_title = xml_text(entry.source_title).strip() or entry.source_name
    extras.source_url = xml_text(entry.source_url or "") if is_http(entry.source_url) else None
    own_feed = public_url(settings, f"sources/{path_segment(entry.source_name)}{ext}")
    extras.source_id = extras.source_url or own_feed
    if "sources" in settings.feeds.sets:
        extras.source_feed = own_feed
    extras.source_updated = rfc3339(entry.updated)
    extras.related = [
        (xml_text(link.url), xml_text(link.outlet).strip())
        for link in entry.related
        if link.url and is_http(link.url)
    ]
    page = page_url(entry, settings)
    extras.page = xml_text(page) if page and is_http(page) else None


def _categories(entry: FeedEntry, settings: Settings) -> list[dict[str, str]]:
    labels = {term.casefold(): xml_text(label).strip() for term, label in entry.labels}
    scheme = public_url(settings, "tags/")
    found = []
    for term in entry_categories(entry):
        label = labels.get(term.casefold())
        category = {"term": term}
        if label is not None:
            category |= {"scheme": scheme} | ({"label": label} if label else {})
        found.append(category)
    return found


def _add_entry(fg: Any, entry: FeedEntry, settings: Settings, ext: str) -> Any:
    fe = fg.add_entry(order="append")
    fe.guid(xml_text(entry.guid), permalink=False)
    fe.title(entry_title(entry))
    link = entry_link(entry)
    if link:
        fe.link(href=link, rel="alternate")
    fe.published(utc(entry.published))
    fe.updated(utc(entry.updated))
    fe.content(entry_content(entry, page_url(entry, settings)), type="html")
    summary = xml_text(entry.summary).strip()
    if summary:
        fe.summary(html.escape(summary), type="html")
    authors = entry_authors(entry)
    if ext == ".atom" and not authors:  # Atom requires an author: the outlet stands in
        authors = [xml_text(entry.source_title).strip() or entry.source_name]
    if authors:
        fe.author([{"name": name} for name in authors])
    categories = _categories(entry, settings)
    if categories:
        fe.category(categories)
    _extras(fe, entry, settings, ext)
    return fe


def render_rss(spec: FeedSpec, settings: Settings) -> bytes:
    """``spec`` as RSS 2.0 bytes (authors as ``dc:creator``, content as ``content:encoded``)."""
    fg = _generator(spec, settings, ".rss", RSS_TYPE)
    fg.load_extension("dc", atom=False, rss=True)
    if settings.websub_hub:
        fg.register_extension(_HUB, _RssHub, atom=False, rss=True)
        getattr(fg, _HUB).hub = xml_text(settings.websub_hub)
    for entry in spec.entries:
        fe = _add_entry(fg, entry, settings, ".rss")
        authors = entry_authors(entry)
        if authors:
            fe.dc.dc_creator(authors)
    data: bytes = fg.rss_str(pretty=True)
    return data


def render_atom(spec: FeedSpec, settings: Settings) -> bytes:
    """``spec`` as Atom 1.0 bytes (html content, ``rel="related"`` links)."""
    fg = _generator(spec, settings, ".atom", ATOM_TYPE)
    for entry in spec.entries:
        _add_entry(fg, entry, settings, ".atom")
    data: bytes = fg.atom_str(pretty=True)
    return data

"""RSS 2.0 and Atom 1.0 documents from plain records, written by hand (no feed library).

Bodies are HTML fragments: escaped into RSS ``<description>`` and into Atom
``type="html"`` ``<summary>``/``<content>``, as most publishers do.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime
from xml.sax.saxutils import escape, quoteattr


@dataclass(frozen=True, slots=True)
class EntrySpec:
    """One feed entry: ``body_html`` is an HTML fragment, ``summary_html`` may be empty."""

    guid: str
    guid_is_link: bool
    title: str
    link: str
    author: str
    published: datetime
    updated: datetime
    body_html: str
    summary_html: str = ""
    categories: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class FeedSpec:
    """One feed's channel-level data."""

    id: str
    title: str
    link: str
    description: str
    updated: datetime


def rss_document(feed: FeedSpec, entries: list[EntrySpec]) -> str:
    """An RSS 2.0 document."""
    head = (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/">\n<channel>\n'
        f"<title>{escape(feed.title)}</title>\n<link>{escape(feed.link)}</link>\n"
        f"<description>{escape(feed.description)}</description>\n<language>en</language>\n"
        f"<lastBuildDate>{format_datetime(feed.updated)}</lastBuildDate>\n"
    )
    return head + "".join(rss_item(e) for e in entries) + "</channel>\n</rss>\n"


def rss_item(entry: EntrySpec) -> str:
    """One RSS ``<item>`` element."""
    permalink = "true" if entry.guid_is_link else "false"
    categories = "".join(f"<category>{escape(c)}</category>" for c in entry.categories)
    return (
        f"<item>\n<title>{escape(entry.title)}</title>\n<link>{escape(entry.link)}</link>\n"
        f'<guid isPermaLink="{permalink}">{escape(entry.guid)}</guid>\n'
        f"<pubDate>{format_datetime(entry.published)}</pubDate>\n"
        f"<dc:creator>{escape(entry.author)}</dc:creator>{categories}\n"
        f"<description>{escape(entry.body_html)}</description>\n</item>\n"
    )


def atom_document(feed: FeedSpec, entries: list[EntrySpec]) -> str:
    """An Atom 1.0 document."""
    head = (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="en">\n'
        f"<id>{escape(feed.id)}</id>\n<title>{escape(feed.title)}</title>\n"
        f"<subtitle>{escape(feed.description)}</subtitle>\n"
        f'<link rel="alternate" type="text/html" href={quoteattr(feed.link)}/>\n'
        f"<updated>{_iso(feed.updated)}</updated>\n"
    )
    return head + "".join(atom_entry(e) for e in entries) + "</feed>\n"


def atom_entry(entry: EntrySpec) -> str:
    """One Atom ``<entry>`` element."""
    summary = (
        f'<summary type="html">{escape(entry.summary_html)}</summary>\n'
        if entry.summary_html
        else ""
    )
    categories = "".join(f"<category term={quoteattr(c)}/>" for c in entry.categories)
    return (
        f"<entry>\n<id>{escape(entry.guid)}</id>\n<title>{escape(entry.title)}</title>\n"
        f'<link rel="alternate" type="text/html" href={quoteattr(entry.link)}/>\n'
        f"<author><name>{escape(entry.author)}</name></author>{categories}\n"
        f"<published>{_iso(entry.published)}</published>\n"
        f"<updated>{_iso(entry.updated)}</updated>\n{summary}"
        f'<content type="html">{escape(entry.body_html)}</content>\n</entry>\n'
    )


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")

"""Text, URL and date helpers shared by every output format of the publisher.

It makes text safe for XML 1.0 (dropping characters that lxml refuses), builds
public URLs from ``Settings.base_url``, formats timestamps from the data, and
renders the escaped "also reported by" block and the "Compare coverage" link
to a story's page. It does not write files and does
not know about any feed format.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import lru_cache
from urllib.parse import urlsplit

from feedsvc.config_types import Settings
from feedsvc.types import UNTITLED, FeedEntry, RelatedLink

# Timestamp of an empty feed: fixed, never the clock, and plausible (the W3C feed
# validator warns about dates before 1990).
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
INDEX_FILE = "index.html"
OPML_FILE = "feeds.opml"

# A feed is written in up to three formats from the same entries: each string's
# XML-safe form, and whether each URL is http(s), are worked out once for all
# three. ``rendering`` forgets both after each feed or page, so the memos hold
# no more than the strings of the item being rendered (``forget_memos``).
_MEMO = 4096
# Everything outside XML 1.0's Char production: C0 controls except tab, LF, CR;
# lone surrogates; U+FFFE and U+FFFF.
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


@lru_cache(maxsize=_MEMO)
def xml_text(text: str) -> str:
    """Return ``text`` without the characters XML 1.0 forbids."""
    return _XML_ILLEGAL.sub("", text)


def escape(text: str) -> str:
    """Escape ``text`` for HTML element content and attribute values, XML-safe."""
    return html.escape(xml_text(text), quote=True)


@lru_cache(maxsize=_MEMO)
def is_http(url: str | None) -> bool:
    """Whether ``url`` is an absolute http(s) URL with a host."""
    if not url:
        return False
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. an invalid IPv6 host
        return False
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def forget_memos() -> None:
    """Empty the memos of ``xml_text`` and ``is_http`` (their strings go back to the heap)."""
    for memoised in _MEMOISED:
        memoised.cache_clear()


_MEMOISED = (xml_text, is_http)


def public_url(settings: Settings, relative: str) -> str:
    """The public URL of ``relative`` (a path inside the output directory)."""
    return f"{settings.base_url.rstrip('/')}/{relative}"


def utc(moment: datetime) -> datetime:
    """``moment`` in UTC; a naive datetime is a bug and raises ValueError."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"naive datetime in a feed entry: {moment!r}")
    return moment.astimezone(UTC)


def rfc3339(moment: datetime) -> str:
    """Format ``moment`` as RFC 3339 in UTC with a ``Z`` suffix."""
    return utc(moment).isoformat().replace("+00:00", "Z")


def feed_updated(entries: Sequence[FeedEntry]) -> datetime:
    """The feed's timestamp: the newest entry date, or EPOCH for an empty feed."""
    moments = [utc(e.updated) for e in entries] + [utc(e.published) for e in entries]
    return max(moments, default=EPOCH)


def entry_title(entry: FeedEntry) -> str:
    """The entry title made XML-safe, never empty."""
    return xml_text(entry.title).strip() or UNTITLED


def entry_link(entry: FeedEntry) -> str | None:
    """The entry's link (XML-safe) when it is http(s), else None."""
    return xml_text(entry.link) if entry.link and is_http(entry.link) else None


def _related_item(link: RelatedLink) -> str:
    outlet = escape(link.outlet.strip() or "another outlet")
    named = f'<a href="{escape(link.url or "")}">{outlet}</a>' if is_http(link.url) else outlet
    title = link.title.strip()
    return f"{named} ({escape(title)})" if title else named


def related_html(related: Sequence[RelatedLink], more: int = 0) -> str:
    """The escaped "Also reported by" paragraph, or "" when there is nothing."""
    if not related:
        return ""
    items = ", ".join(_related_item(link) for link in related)
    if more:
        items += f" and {more} more outlet{'s' if more > 1 else ''}"
    return f'<p class="also-reported">Also reported by: {items}</p>'


COMPARE_LABEL = "Compare coverage"


def page_url(entry: FeedEntry, settings: Settings) -> str | None:
    """The public URL of a story entry's page comparing its outlets, or None."""
    return public_url(settings, entry.page) if entry.page else None


def compare_html(url: str | None) -> str:
    """The escaped "Compare coverage" paragraph linking to a story's page, or ""."""
    if not url or not is_http(url):
        return ""
    return f'<p class="compare"><a href="{escape(url)}">{COMPARE_LABEL}</a></p>'


def entry_content(entry: FeedEntry, page: str | None = None) -> str:
    """The entry's HTML content, the related block and the link to ``page``; never empty."""
    body = entry.content_html.strip()
    if not body:
        fallback = entry.summary.strip() or entry_title(entry)
        body = f"<p>{escape(fallback)}</p>"
    blocks = [b for b in (related_html(entry.related, entry.more_outlets), compare_html(page)) if b]
    return xml_text("\n".join([body, *blocks]))


def entry_categories(entry: FeedEntry) -> list[str]:
    """The entry's categories, XML-safe, without blanks or duplicates."""
    seen: dict[str, str] = {}
    for raw in entry.categories:
        term = xml_text(raw).strip()
        if term and term.casefold() not in seen:
            seen[term.casefold()] = term
    return list(seen.values())


def entry_authors(entry: FeedEntry) -> list[str]:
    """The entry's author names, XML-safe, without blanks."""
    return [name for name in (xml_text(a).strip() for a in entry.authors) if name]

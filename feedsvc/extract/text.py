"""Plain-text drop bytes → Extracted with one RawEntry (content_type text/plain).

Two shapes are read:

1. A dateline drop: optional header lines at the top (``title: ...``,
   ``author: ...``, and a ``date YYYY-MM-DD`` / ``date: ...`` marker that may be
   followed on the same line by the article), then the article, whose first
   paragraph may open with a dateline ``PLACE —`` (also ``--`` and `` - ``).
2. A web page saved as text: page date banner, teasers, the article with its
   headline, captions printed twice and sub-headings, trailing navigation.
   ``_textlayout`` finds the article region and its headline.

The title is, in order: a ``title:`` header, the headline found before the
article, a first line that looks like a headline, else the first sentence
shortened at a word boundary to ``TITLE_LIMIT`` characters with "…". The
published date is the ``date`` marker, else the first date inside the article
region (headline, captions included), else the page's date banner, else None.
Content is the article's paragraphs and sub-headings separated by blank lines,
without the marker, dateline, captions, teasers or navigation. Bytes are
decoded as UTF-8 (BOM allowed), then cp1252, then latin-1. No I/O, no
normalisation beyond that.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field, replace
from datetime import datetime

from feedsvc.errors import ExtractError
from feedsvc.extract._dates import first_text_date, parse_iso
from feedsvc.extract._decode import decode_text
from feedsvc.extract._textlayout import (
    Layout,
    find_layout,
    is_byline,
    is_date_line,
    sentences,
    split_units,
)
from feedsvc.types import Document, Extracted, RawEntry

log = logging.getLogger("feedsvc.extract.text")

TITLE_LIMIT = 100
"""A title made from the first sentence is cut to at most this many characters."""

_HEADER = re.compile(r"^(?P<key>title|author|by|language|lang)\s*:\s*(?P<value>\S.*)$", re.I)
_ISO_DATE = (
    r"\d{4}-\d{1,2}-\d{1,2}"
    r"(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?"
)
_DATE_MARKER = re.compile(
    r"^(?:date|published|dated)\s*:?\s+(?P<date>" + _ISO_DATE + r")\b\s*(?P<rest>.*)$", re.I
)
_DATELINE = re.compile(
    r"^(?P<place>[A-Z][A-Z'’.\-]+(?:[ ,]+[A-Z][A-Z'’.\-]+){0,4})"
    r"(?P<extra>,?\s+[A-Z][a-z]{2,8}\.?\s+\d{1,2}|\s+\([A-Za-z .&]{2,30}\)){0,2}"
    r"\s*(?:—|–|\s--\s|\s-\s)\s*(?=\S)"
)
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class _Header:
    """What the marker lines at the top of a drop say."""

    title: str | None = None
    published: datetime | None = None
    authors: tuple[str, ...] = ()
    language: str | None = None
    first_line: str | None = None
    rest: list[str] = field(default_factory=list)


def parse_text(document: Document) -> Extracted:
    """Read a plain-text drop as one article; raise ExtractError when it holds none."""
    text = decode_text(document).replace("\r\n", "\n").replace("\r", "\n")
    header = _read_header(text.split("\n"))
    lines = ([header.first_line] if header.first_line else []) + header.rest
    units = split_units("\n".join(lines))
    layout = find_layout(units)
    if layout is None:
        raise ExtractError("no article in plain-text document: no paragraph of prose found")
    entry = _entry(header, layout, document.url)
    log.debug(
        "text drop read url=%s title=%r chars=%d",
        document.url,
        entry.title,
        len(entry.content or ""),
    )
    return Extracted(entries=(entry,), title=entry.title, language=entry.language)


def _entry(header: _Header, layout: Layout, url: str) -> RawEntry:
    body = layout.body()
    dateline, first = _split_dateline(body[0])
    paragraphs = [first, *body[1:]] if first else body[1:]
    headline = layout.units[layout.headline] if layout.headline is not None else None
    return RawEntry(
        title=header.title or headline or _title_from(paragraphs),
        content="\n\n".join(paragraphs),
        content_type="text/plain",
        published=header.published or _published(layout),
        authors=header.authors or _byline_authors(layout),
        language=header.language,
        dateline=dateline,
        base_url=url,
    )


# --------------------------------------------------------------------------- header


def _read_header(lines: list[str]) -> _Header:
    """Consume ``title:``/``author:``/``date`` marker lines at the top of the drop."""
    header = _Header()
    for position, raw in enumerate(lines):
        line = raw.strip()
        if not line:
            continue
        updated = _header_line(header, line)
        if updated is None:
            return replace(header, rest=lines[position:])
        header = updated
        if header.first_line:
            return replace(header, rest=lines[position + 1 :])
    return header


def _header_line(header: _Header, line: str) -> _Header | None:
    """``header`` updated with one marker line, or None when the line is not one."""
    if marker := _DATE_MARKER.match(line):
        rest = marker.group("rest").strip() or None
        published = parse_iso(marker.group("date")) or first_text_date(marker.group("date"))
        return replace(header, published=published, first_line=rest)
    if not (match := _HEADER.match(line)):
        return None
    key, value = match.group("key").lower(), match.group("value").strip()
    if key == "title":
        return replace(header, title=value)
    if key in {"author", "by"}:
        return replace(header, authors=tuple(a.strip() for a in value.split(";") if a.strip()))
    return replace(header, language=value)


# --------------------------------------------------------------------------- fields


def _split_dateline(paragraph: str) -> tuple[str | None, str]:
    """Split "NARA — Japanese Prime Minister..." into ("NARA", "Japanese Prime Minister...")."""
    match = _DATELINE.match(paragraph)
    if match is None:
        return None, paragraph
    return match.group("place").strip(" ,"), paragraph[match.end() :].strip()


def _published(layout: Layout) -> datetime | None:
    """The first date in the article region, else the page's date banner."""
    for unit in layout.lead_in():
        if (value := first_text_date(unit)) is not None:
            return value
    banners = [u for u in layout.before() if is_date_line(u)]
    return first_text_date(banners[0]) if banners else None


def _byline_authors(layout: Layout) -> tuple[str, ...]:
    for unit in layout.lead_in()[:4]:
        if is_byline(unit):
            name = unit.split(None, 1)[1].strip()
            return tuple(n.strip() for n in re.split(r",| and ", name) if n.strip())
    return ()


def _title_from(paragraphs: list[str]) -> str | None:
    """The first sentence, cut at a word boundary to ``TITLE_LIMIT`` characters."""
    if not paragraphs:
        return None
    first = _SPACES.sub(" ", sentences(paragraphs[0])[0]).strip()
    first = first.rstrip(".").strip() if first.endswith(".") and not first.endswith("..") else first
    if len(first) <= TITLE_LIMIT:
        return first or None
    cut = first[: TITLE_LIMIT - 1].rsplit(" ", 1)[0].rstrip(" ,;:—–-")
    return cut + "…"

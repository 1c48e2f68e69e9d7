"""Extraction: one fetched Document → Extracted (RawEntry records plus warnings).

Three readers, one per kind of document: ``feed`` (RSS/Atom/RDF/CDF through
feedparser, and JSON Feed), ``page`` (one article from an HTML page through
trafilatura) and ``text`` (plain-text drops with a date marker or a saved page).
A ``file`` source is routed by extension, then content type, then by sniffing
the first bytes. Extraction does no I/O and does not normalise: URLs are not
canonicalised, HTML is not sanitised beyond what the parsers do, no ids are
made. An unusable document raises ExtractError; nothing else escapes.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Literal
from urllib.parse import unquote, urlsplit

from feedsvc.config_types import SourceKind
from feedsvc.extract._decode import media_type
from feedsvc.extract.feed import parse_feed
from feedsvc.extract.text import parse_text
from feedsvc.types import Document, Extracted

__all__ = ["extract", "parse_feed", "parse_page", "parse_text", "reader_for_file"]

Reader = Literal["feed", "page", "text"]

_EXTENSIONS: dict[str, Reader] = {
    ".xml": "feed",
    ".rss": "feed",
    ".atom": "feed",
    ".rdf": "feed",
    ".json": "feed",
    ".html": "page",
    ".htm": "page",
    ".xhtml": "page",
    ".txt": "text",
    ".text": "text",
}
_FEED_STARTS = (b"<?xml", b"<rss", b"<feed", b"<rdf", b"{")
_PAGE_STARTS = (b"<html", b"<!doctype html")
_SNIFF_BYTES = 512


def extract(document: Document, kind: SourceKind) -> Extracted:
    """Read ``document`` as a source of ``kind``; raise ExtractError when it holds nothing."""
    reader: Reader = reader_for_file(document) if kind == "file" else kind
    if reader == "feed":
        return parse_feed(document)
    if reader == "page":
        return parse_page(document)
    return parse_text(document)


def parse_page(document: Document) -> Extracted:
    """Read one article from an HTML page (``extract.page``, loaded on first use).

    trafilatura and its helpers cost about 15 MB in every process that imports
    them; processes that only ever read feeds never do.
    """
    from feedsvc.extract.page import parse_page as parse

    return parse(document)


def reader_for_file(document: Document) -> Reader:
    """Which reader a file-source document needs: by extension, content type, first bytes."""
    return (
        _by_extension(document.url)
        or _by_media_type(media_type(document))
        or _by_sniffing(document.body)
    )


def _by_extension(url: str) -> Reader | None:
    try:
        path = unquote(urlsplit(url).path)
    except ValueError:
        return None
    return _EXTENSIONS.get(PurePosixPath(path).suffix.lower())


def _by_media_type(media: str) -> Reader | None:
    if not media:
        return None
    if "html" in media:
        return "page"
    if any(word in media for word in ("xml", "rss", "atom", "json")):
        return "feed"
    return "text" if media == "text/plain" else None


def _by_sniffing(body: bytes) -> Reader:
    head = body[:_SNIFF_BYTES].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith(_PAGE_STARTS):
        return "page"
    if head.startswith(_FEED_STARTS):
        return "feed"
    return "text"

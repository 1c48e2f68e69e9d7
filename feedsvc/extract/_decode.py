"""Bytes to text for the page and text extractors: charset from headers, BOM, meta.

Feeds are not decoded here (feedparser decodes them itself, from the bytes and
the response headers), but ``repair_utf8`` mends a UTF-8 feed with a few
invalid bytes first (feedparser would read all of it as windows-1252).
Decoding never fails: the last resort is latin-1, which maps every byte.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Mapping

from feedsvc.types import Document

_CHARSET_PARAM = re.compile(r"""charset\s*=\s*["']?\s*([A-Za-z0-9._:\-]+)""", re.I)
_META_CHARSET = re.compile(
    rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9._:\-]+)""",
    re.I,
)
_XML_ENCODING = re.compile(rb"""^\s*<\?xml[^>]+encoding\s*=\s*["']([A-Za-z0-9._:\-]+)""", re.I)
_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_SNIFF_BYTES = 4096
_UTF8_MULTIBYTE = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}")


def content_type(document: Document) -> str:
    """The document's content type: the explicit one, else its Content-Type header."""
    return document.content_type or _header(document.headers, "content-type") or ""


def media_type(document: Document) -> str:
    """The lower-cased media type of the document without parameters ("" when unknown)."""
    return content_type(document).split(";")[0].strip().lower()


def declared_charset(value: str) -> str | None:
    """The charset parameter of a Content-Type value, when Python knows the codec."""
    match = _CHARSET_PARAM.search(value)
    return _known_codec(match.group(1)) if match else None


def decode_text(document: Document) -> str:
    """Decode a plain-text body: BOM, declared charset, UTF-8, then cp1252, then latin-1."""
    body, bom_codec = _strip_bom(document.body)
    candidates = [bom_codec, declared_charset(content_type(document)), "utf-8", "cp1252"]
    return _first_decoding(body, candidates)


def decode_html(document: Document) -> str:
    """Decode an HTML body: BOM, Content-Type charset, <meta> or XML charset, UTF-8, cp1252."""
    body, bom_codec = _strip_bom(document.body)
    head = body[:_SNIFF_BYTES]
    candidates = [
        bom_codec,
        declared_charset(content_type(document)),
        _sniffed(_META_CHARSET, head),
        _sniffed(_XML_ENCODING, head),
        "utf-8",
        "cp1252",
    ]
    return _first_decoding(body, candidates)


def repair_utf8(document: Document) -> bytes | None:
    """The body with invalid bytes replaced by U+FFFD, when it is UTF-8 that has a few.

    Only for a body declared UTF-8 (or not declared at all) that is not valid
    UTF-8 but holds real UTF-8 sequences; a body without any is more likely
    windows-1252 mislabelled, which feedparser recognises itself. None: leave it.
    """
    body = document.body
    if body.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or b"\x00" in body[:4]:
        return None
    declared = declared_charset(content_type(document)) or _sniffed(_XML_ENCODING, body[:200])
    if declared not in (None, "utf-8"):
        return None
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        if _UTF8_MULTIBYTE.search(body) is None:
            return None
        return body.decode("utf-8", errors="replace").encode("utf-8")
    return None


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None:
        value = next((v for k, v in headers.items() if k.lower() == name), None)
    return value


def _strip_bom(body: bytes) -> tuple[bytes, str | None]:
    for bom, codec in _BOMS:
        if body.startswith(bom):
            return body[len(bom) :], codec
    return body, None


def _sniffed(pattern: re.Pattern[bytes], head: bytes) -> str | None:
    match = pattern.search(head)
    return _known_codec(match.group(1).decode("ascii", "replace")) if match else None


def _known_codec(name: str) -> str | None:
    try:
        codec = codecs.lookup(name.strip())
    except (LookupError, ValueError):
        return None
    # Browsers read latin-1 and ascii labels as windows-1252, and so do we.
    return "cp1252" if codec.name in {"iso8859-1", "ascii"} else codec.name


def _first_decoding(body: bytes, candidates: list[str | None]) -> str:
    for codec in candidates:
        if codec is None:
            continue
        try:
            return body.decode(codec)
        except (UnicodeDecodeError, LookupError):
            continue
    return body.decode("latin-1")

"""HTML article page bytes → Extracted with one RawEntry (the only trafilatura user).

The page is decoded here (Content-Type charset, BOM, ``<meta charset>``, then
UTF-8/cp1252), parsed once with lxml, and its stated metadata read first
(``_pagemeta``: canonical link, language, ``article:published_time`` / JSON-LD
/ ``<time>`` dates). trafilatura then finds the main article: title, authors
and the body as HTML, in precision mode so navigation, teasers, "most popular"
lists and share buttons stay out. A leading heading that repeats the title and
paragraphs repeated verbatim (photo captions shown twice) are dropped.

Dates come from ``_pagemeta`` only. trafilatura's own date (htmldate) is not
used: even without its extensive search, htmldate takes a "today is ..." banner
in the page chrome for the article date. It still runs inside trafilatura, with
the cheap non-extensive settings. An undated page gives None.

trafilatura and htmldate log every page they cannot use at WARNING/ERROR; their
records are passed on at DEBUG only when ``feedsvc.extract.page`` is enabled for
DEBUG, and dropped otherwise. This module does not fetch, sanitise HTML beyond
what trafilatura emits, or normalise URLs.
"""

from __future__ import annotations

import html
import logging
import re
from typing import Any

import lxml.etree
import lxml.html
import trafilatura
from lxml.html import HtmlElement
from trafilatura.htmlprocessing import build_html_output

from feedsvc.errors import ExtractError
from feedsvc.extract._decode import decode_html
from feedsvc.extract._pagemeta import read_meta
from feedsvc.types import Document, Extracted, RawEntry

log = logging.getLogger("feedsvc.extract.page")

MIN_ARTICLE_CHARS = 100
"""An extracted body with less text than this is no article (a 404 page, a stub)."""

MAX_PAGE_BYTES = 16 * 1024 * 1024
"""Larger pages are refused before they are even decoded."""

MAX_PAGE_CHARS = 2 * 1024 * 1024
"""Pages with more markup than this, once scripts, styles and comments are gone, are no
article page: extracting one would cost many seconds and over 300 MB."""

MAX_LINK_SHARE = 0.6
"""A page whose main text is mostly the text of its links is a section or link page."""

MIN_REPEAT_CHARS = 25
"""Only blocks at least this long are dropped when they repeat an earlier block."""

_LIBRARY_LOGGERS = ("trafilatura", "htmldate", "justext", "courlan", "readability")
_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>", re.I)
_HEAVY = re.compile(
    r"<!--.*?-->|<script\b(?![^>]*ld\+json)[^>]*>.*?</script\s*>|<(style|svg)\b.*?</\1\s*>",
    re.I | re.S,
)
_BLOCK_TAGS = frozenset({"p", "h1", "h2", "h3", "h4", "h5", "h6", "li", "blockquote", "pre"})
_SPACES = re.compile(r"\s+")
_DATE_PARAMS = {"original_date": True, "extensive_search": False}


def parse_page(document: Document) -> Extracted:
    """Extract the one article of an HTML page; raise ExtractError when there is none."""
    if len(document.body) > MAX_PAGE_BYTES:
        size = len(document.body)
        raise ExtractError(f"no article in page: {size} bytes is more than {MAX_PAGE_BYTES}")
    text = _without_heavy_parts(_decode(document))
    if len(text) > MAX_PAGE_CHARS:
        message = (
            f"no article in page: {len(text)} characters of markup, more than {MAX_PAGE_CHARS}"
        )
        raise ExtractError(message)
    tree = _parse_tree(text)
    meta = read_meta(tree, document.url, document.headers.get("content-language"))
    result = _run_trafilatura(text, document.url)
    if _link_share(tree, result.text) > MAX_LINK_SHARE:
        raise ExtractError("no article in page: its main text is mostly links (a section page)")
    title = _clean(result.title)
    content = _body_html(result, title)
    entry = RawEntry(
        link=meta.link or document.url,
        title=title,
        summary=_summary(result),
        content=content,
        content_type="text/html",
        published=meta.published,
        updated=meta.updated,
        authors=_authors(result.author),
        categories=_categories(result),
        language=meta.language or _clean(result.language),
        base_url=document.url,
    )
    log.debug("page extracted url=%s title=%r chars=%d", document.url, title, len(content))
    return Extracted(entries=(entry,), title=title, link=entry.link, language=entry.language)


def _decode(document: Document) -> str:
    text = _XML_DECLARATION.sub("", decode_html(document), count=1)
    if not text.strip():
        raise ExtractError("no article in page: the document is empty")
    return text


def _without_heavy_parts(text: str) -> str:
    """The page without scripts (JSON-LD kept), styles, SVG and comments: no article there."""
    return _HEAVY.sub("", text)


def _parse_tree(text: str) -> HtmlElement:
    try:
        tree = lxml.html.document_fromstring(text)
    except (lxml.etree.LxmlError, ValueError) as exc:
        raise ExtractError(f"no article in page: unparsable HTML: {exc}") from exc
    if not isinstance(tree, HtmlElement):
        raise ExtractError("no article in page: not an HTML document")
    return tree


def _run_trafilatura(text: str, url: str) -> Any:
    """The trafilatura Document of the page's main article, precision first."""
    for precision in (True, False):
        result = _bare_extraction(text, url, precision)
        if result is not None and len(_clean(result.text) or "") >= MIN_ARTICLE_CHARS:
            return result
    raise ExtractError("no article in page: no main text found")


def _bare_extraction(text: str, url: str, precision: bool) -> Any:
    try:
        return trafilatura.bare_extraction(
            text,
            url=url,
            with_metadata=True,
            favor_precision=precision,
            include_comments=False,
            include_tables=True,
            include_images=False,
            include_links=False,
            include_formatting=True,
            date_extraction_params=dict(_DATE_PARAMS),
        )
    except Exception as exc:  # trafilatura's failure modes are many and undocumented
        raise ExtractError(f"no article in page: extractor failed: {exc}") from exc


def _link_share(tree: HtmlElement, text: str | None) -> float:
    """How much of ``text`` (by characters, line by line) is the text of a link on the page."""
    lines = [_SPACES.sub(" ", line).strip() for line in (text or "").splitlines()]
    lines = [line for line in lines if line]
    total = sum(len(line) for line in lines)
    if not total:
        return 0.0
    anchors = {_norm(a) for a in tree.iter("a")}
    return sum(len(line) for line in lines if line in anchors) / total


# --------------------------------------------------------------------------- body


def _body_html(result: Any, title: str | None) -> str:
    """The article body as HTML blocks, without a title heading or repeated blocks."""
    try:
        root = lxml.html.fromstring(build_html_output(result))
    except (lxml.etree.LxmlError, ValueError) as exc:
        raise ExtractError(f"no article in page: unusable extractor output: {exc}") from exc
    body = root.find("body")
    blocks = list(body if body is not None else root)
    _drop_title_heading(blocks, title)
    _drop_repeated_blocks(blocks)
    markup = "\n".join(_serialise(b) for b in blocks if _is_kept(b))
    if not markup.strip():
        raise ExtractError("no article in page: the main text is empty")
    return markup


def _drop_title_heading(blocks: list[HtmlElement], title: str | None) -> None:
    """Drop the heading that repeats the title, and whatever came before it (teasers)."""
    if not title:
        return
    wanted = _SPACES.sub(" ", title)
    for position, block in enumerate(blocks):
        if block.tag in {"h1", "h2"} and _norm(block) == wanted:
            del blocks[: position + 1]
            return


def _drop_repeated_blocks(blocks: list[HtmlElement]) -> None:
    """Remove every block whose text repeats an earlier block (captions shown twice)."""
    seen: set[str] = set()
    for block in blocks:
        for element in [block, *block.iterdescendants()]:
            if element.tag not in _BLOCK_TAGS or element.getparent() is None:
                continue
            text = _norm(element)
            if len(text) >= MIN_REPEAT_CHARS and text in seen:
                element.drop_tree()
            else:
                seen.add(text)


def _is_kept(block: HtmlElement) -> bool:
    return block.getparent() is not None and bool(_norm(block))


def _serialise(block: HtmlElement) -> str:
    return str(lxml.html.tostring(block, encoding="unicode", with_tail=False)).strip()


def _norm(element: HtmlElement) -> str:
    return _SPACES.sub(" ", element.text_content()).strip()


# --------------------------------------------------------------------------- metadata


def _summary(result: Any) -> str | None:
    description = _clean(result.description)
    return html.escape(description, quote=False) if description else None


def _authors(value: object) -> tuple[str, ...]:
    names = (n.strip() for n in value.split(";")) if isinstance(value, str) else ()
    return tuple(dict.fromkeys(n for n in names if n))


def _categories(result: Any) -> tuple[str, ...]:
    values = [*(result.categories or []), *(result.tags or [])]
    return tuple(dict.fromkeys(v.strip() for v in values if isinstance(v, str) and v.strip()))


def _clean(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    return _SPACES.sub(" ", value).strip() or None


# --------------------------------------------------------------------------- logging


class _LibraryLogFilter(logging.Filter):
    """Pass trafilatura/htmldate records on at DEBUG, or drop them when DEBUG is off."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not log.isEnabledFor(logging.DEBUG):
            return False
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return True


def _quiet_library_loggers() -> None:
    """Install the filter on every logger of the extraction libraries (idempotent)."""
    for name, logger in list(logging.Logger.manager.loggerDict.items()):
        if not isinstance(logger, logging.Logger):
            continue
        if not any(name == p or name.startswith(p + ".") for p in _LIBRARY_LOGGERS):
            continue
        if not any(isinstance(f, _LibraryLogFilter) for f in logger.filters):
            logger.addFilter(_LibraryLogFilter())


_quiet_library_loggers()

"""HTML sanitising and HTML <-> plain-text conversion: the one place for both.

``sanitise_html`` runs untrusted HTML through nh3 (the Ammonia sanitiser) with a
conservative allowlist: no scripts, styles, frames, forms, event handlers or
style attributes; only http, https and mailto URLs; relative URLs resolved
against the document's base URL (or dropped when there is none); every link gets
``rel="noopener noreferrer nofollow"``. ``html_to_text`` turns HTML into plain
text whose paragraphs are separated by a blank line. ``text_to_html`` escapes
plain text and wraps its paragraphs in ``<p>``.

This module does not fetch, parse feeds, pick which field of an entry to use, or
decide titles and summaries (that is ``feedsvc.normalise``).
"""

from __future__ import annotations

import html
import logging
import re
from html.parser import HTMLParser
from typing import Literal
from urllib.parse import urlsplit

import nh3

log = logging.getLogger("feedsvc.htmltext")

ALLOWED_TAGS: frozenset[str] = frozenset(
    {
        "p", "br", "hr", "div", "span", "a", "strong", "em", "b", "i", "u", "s",
        "h1", "section", "article", "header", "footer", "aside", "main", "address",
        "blockquote", "q", "cite", "ul", "ol", "li", "dl", "dt", "dd",
        "h2", "h3", "h4", "h5", "h6", "pre", "code", "figure", "figcaption", "img",
        "table", "caption", "thead", "tbody", "tfoot", "tr", "th", "td", "sup", "sub",
    }
)  # fmt: skip
"""Tags kept by ``sanitise_html``; any other tag is removed and its text kept.

Attribute-free structural tags (h1, section, article...) are kept because
removing them would run the words of neighbouring blocks together.
"""

ALLOWED_ATTRIBUTES: dict[str, set[str]] = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "th": {"colspan", "rowspan"},
    "td": {"colspan", "rowspan"},
}
"""Attributes kept per tag; every other attribute (on*, style, class, id...) goes."""

DROPPED_WITH_CONTENT: frozenset[str] = frozenset(
    {
        "script", "style", "iframe", "frame", "frameset", "object", "embed", "applet",
        "form", "noscript", "template", "textarea", "select", "svg", "math", "title",
        "head",
    }
)  # fmt: skip
"""Tags removed together with everything inside them."""

URL_SCHEMES: frozenset[str] = frozenset({"http", "https", "mailto"})
LINK_REL = "noopener noreferrer nofollow"

_BLOCK_TAGS = frozenset(
    {
        "p", "div", "section", "article", "header", "footer", "main", "aside", "nav",
        "blockquote", "ul", "ol", "li", "dl", "dt", "dd", "h1", "h2", "h3", "h4", "h5",
        "h6", "pre", "figure", "figcaption", "table", "caption", "thead", "tbody",
        "tfoot", "tr", "hr", "address", "details", "summary", "body", "html",
    }
)  # fmt: skip
_CELL_TAGS = frozenset({"td", "th"})
_PARAGRAPH = "\x00"  # marker for a paragraph break while collecting text
_LINE = "\n"  # marker for a line break (<br>) while collecting text
_BLANK_LINES = re.compile(r"\n[ \t\r\f\v]*\n\s*")
_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def sanitise_html(html_in: str, base_url: str | None = None) -> str:
    """Return ``html_in`` reduced to safe, allowlisted HTML with absolute URLs."""
    cleaner = nh3.Cleaner(
        tags=set(ALLOWED_TAGS),
        clean_content_tags=set(DROPPED_WITH_CONTENT),
        attributes={tag: set(attrs) for tag, attrs in ALLOWED_ATTRIBUTES.items()},
        url_schemes=set(URL_SCHEMES),
        link_rel=LINK_REL,
        url_relative=_relative_policy(base_url),
        strip_comments=True,
    )
    return cleaner.clean(_drop_controls(html_in)).strip()


_RelativePolicy = Literal["deny"] | tuple[Literal["rewrite_with_base"], str]


def _relative_policy(base_url: str | None) -> _RelativePolicy:
    """How nh3 treats relative URLs: resolve against a usable base, else drop them."""
    if base_url is None:
        return "deny"
    try:
        parts = urlsplit(base_url.strip())
    except ValueError:
        log.debug("unusable base url=%r", base_url)
        return "deny"
    if parts.scheme.lower() in {"http", "https"} and parts.hostname:
        return ("rewrite_with_base", base_url.strip())
    return "deny"


def html_to_text(html_in: str) -> str:
    """Return the plain text of ``html_in``: paragraphs separated by a blank line."""
    collector = _TextCollector()
    collector.feed(_drop_controls(html_in))
    collector.close()
    return _paragraphs_to_text("".join(collector.pieces))


def text_to_html(text: str) -> str:
    """Return ``text`` escaped, one ``<p>`` per paragraph, ``<br>`` for single newlines."""
    paragraphs = split_paragraphs(text.replace("\r\n", "\n").replace("\r", "\n"))
    return "\n".join(f"<p>{_lines_to_html(p)}</p>" for p in paragraphs)


def split_paragraphs(text: str) -> list[str]:
    """Split plain text at blank lines; drop empty paragraphs, strip the rest."""
    return [p.strip() for p in _BLANK_LINES.split(text) if p.strip()]


def collapse_whitespace(text: str) -> str:
    """Return ``text`` with every run of whitespace turned into one space, stripped."""
    return " ".join(text.split())


def _lines_to_html(paragraph: str) -> str:
    lines = (collapse_whitespace(line) for line in paragraph.split("\n"))
    return "<br>".join(html.escape(line, quote=False) for line in lines if line)


def _drop_controls(text: str) -> str:
    """Remove control characters other than tab, newline and carriage return."""
    return _CONTROLS.sub("", text)


def _paragraphs_to_text(collected: str) -> str:
    """Turn collected text with break markers into clean paragraphs."""
    paragraphs: list[str] = []
    for block in collected.split(_PARAGRAPH):
        paragraphs.extend(_block_paragraphs(block))
    return "\n\n".join(paragraphs)


def _block_paragraphs(block: str) -> list[str]:
    """Split one block at blank lines (``<br><br>``); keep single line breaks."""
    result: list[str] = []
    current: list[str] = []
    for line in block.split(_LINE):
        clean = collapse_whitespace(line)
        if clean:
            current.append(clean)
        elif current:
            result.append("\n".join(current))
            current = []
    if current:
        result.append("\n".join(current))
    return result


class _TextCollector(HTMLParser):
    """Collects the text of an HTML document with paragraph and line-break markers."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.pieces: list[str] = []
        self._skip_depth = 0
        self._pre_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """Open a tag: start skipping, or emit a break."""
        if tag in DROPPED_WITH_CONTENT:
            self._skip_depth += 1
        elif tag == "pre":
            self._pre_depth += 1
        self._mark(tag)

    def handle_endtag(self, tag: str) -> None:
        """Close a tag: stop skipping, or emit a break."""
        if tag in DROPPED_WITH_CONTENT:
            self._skip_depth = max(0, self._skip_depth - 1)
        elif tag == "pre":
            self._pre_depth = max(0, self._pre_depth - 1)
        if tag != "br":
            self._mark(tag)

    def handle_data(self, data: str) -> None:
        """Keep text outside dropped elements; inside <pre> newlines are line breaks."""
        if self._skip_depth:
            return
        if self._pre_depth:
            self.pieces.append(data.replace("\r", ""))
        else:
            self.pieces.append(" ".join(data.split(_LINE)))

    def _mark(self, tag: str) -> None:
        if self._skip_depth and tag not in DROPPED_WITH_CONTENT:
            return
        if tag in _BLOCK_TAGS:
            self.pieces.append(_PARAGRAPH)
        elif tag == "br":
            self.pieces.append(_LINE)
        elif tag in _CELL_TAGS:
            self.pieces.append(" ")

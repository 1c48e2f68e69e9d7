"""HTML sanitising and HTML <-> plain-text conversion: the one place for both.

``sanitise_html`` runs untrusted HTML through nh3 (the Ammonia sanitiser) with a
conservative allowlist: no scripts, styles, frames, forms, event handlers or
style attributes; only http, https and mailto URLs; relative URLs resolved
against the document's base URL (or dropped when there is none); every link gets
``rel="noopener noreferrer nofollow"``. ``html_to_text`` turns HTML into plain
text whose paragraphs are separated by a blank line (``sanitised_to_text`` does
the same, faster, for HTML that ``sanitise_html`` already cleaned: its markup is
regular enough for one regular expression). ``text_to_html`` escapes
plain text and wraps its paragraphs in ``<p>``.

This module does not fetch, parse feeds, pick which field of an entry to use, or
decide titles and summaries (that is ``feedsvc.normalise``).
"""

from __future__ import annotations

import functools
import html
import logging
import re
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
_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufeff\ud800-\udfff]")
_SAFE_TAG = re.compile(r'<(/?)([A-Za-z][A-Za-z0-9]*)(?:[^>"]|"[^"]*")*>')


def sanitise_html(html_in: str, base_url: str | None = None) -> str:
    """Return ``html_in`` reduced to safe, allowlisted HTML with absolute URLs."""
    return _cleaner_for(base_url).clean(_drop_controls(html_in)).strip()


def _cleaner_for(base_url: str | None) -> nh3.Cleaner:
    """The cleaner for ``base_url``; one nh3 cannot use as a base denies relative URLs."""
    try:
        return _cleaner(_relative_policy(base_url))
    except ValueError:  # Python's URL parser took it, nh3's (WHATWG) does not: "http://08"
        log.debug("unusable base url=%r", base_url)
        return _cleaner("deny")


@functools.lru_cache(maxsize=64)
def _cleaner(relative: _RelativePolicy) -> nh3.Cleaner:
    """The nh3 cleaner for one relative-URL policy (built once: building costs a clean)."""
    return nh3.Cleaner(
        tags=set(ALLOWED_TAGS),
        clean_content_tags=set(DROPPED_WITH_CONTENT),
        attributes={tag: set(attrs) for tag, attrs in ALLOWED_ATTRIBUTES.items()},
        url_schemes=set(URL_SCHEMES),
        link_rel=LINK_REL,
        url_relative=relative,
        strip_comments=True,
    )


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
    return sanitised_to_text(sanitise_html(html_in))


def sanitised_to_text(safe_html: str) -> str:
    """Return the plain text of HTML that ``sanitise_html`` produced.

    Its markup is regular (html5ever's serialisation: no comments, scripts or
    styles, quoted attributes, ``<`` escaped in text), so one regular
    expression finds every tag; text between tags has its entities decoded.
    Use ``html_to_text`` for HTML from anywhere else.
    """
    pieces: list[str] = []
    pre = 0
    position = 0
    for match in _SAFE_TAG.finditer(safe_html):
        if match.start() > position:
            pieces.append(_data(html.unescape(safe_html[position : match.start()]), pre))
        position = match.end()
        tag = match.group(2).lower()
        if tag == "pre":
            pre = max(0, pre - 1) if match.group(1) else pre + 1
        if tag in _BLOCK_TAGS:
            pieces.append(_PARAGRAPH)
        elif tag == "br" and not match.group(1):
            pieces.append(_LINE)
        elif tag in _CELL_TAGS:
            pieces.append(" ")
    if position < len(safe_html):
        pieces.append(_data(html.unescape(safe_html[position:]), pre))
    return _paragraphs_to_text("".join(pieces))


def _data(text: str, pre: int) -> str:
    """Text between tags: inside <pre> newlines are line breaks, elsewhere spaces."""
    return text.replace("\r", "") if pre else " ".join(text.split(_LINE))


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
    """Remove controls (but tab, newline, carriage return), BOMs and lone surrogates."""
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

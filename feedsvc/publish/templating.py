"""The Jinja2 environment the HTML pages are rendered with, and the filters their templates use.

Templates live in ``feedsvc/publish/templates`` (package data). The environment
escapes every value by default (``autoescape``), fails on an undefined name
(``StrictUndefined``) and passes every printed value through ``page_text``,
which drops the characters HTML forbids in a document (controls, lone
surrogates, noncharacters) and the bidirectional overrides that would reverse
the text around them, so text from outlets can neither inject markup nor
make a page invalid. The one style sheet is inlined in each page and allowed
by the page's Content-Security-Policy by its hash, so pages load nothing
else but the site's icon (one local SVG file, ``favicon``): no scripts, no
fonts, no images. Filters format dates from the data
(never the clock), keep only http(s) URLs, and cut a report's lead. The
environment is built once per process and never changed after (``environment``);
it holds compiled templates, no data. No I/O beyond reading the templates.
"""

from __future__ import annotations

import base64
import hashlib
import re
from datetime import UTC, datetime
from functools import cache
from typing import Any

import jinja2
from markupsafe import Markup

from feedsvc.publish.plan import path_segment
from feedsvc.publish.text import is_http, rfc3339

TEMPLATES = "templates"
STYLE_SHEET = "style.css"
FAVICON = "favicon.svg"
LEAD_PARAGRAPHS = 2
LEAD_CHARACTERS = 900
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_NONCHARACTERS = "".join(
    f"{chr(plane * 0x10000 + 0xFFFE)}{chr(plane * 0x10000 + 0xFFFF)}" for plane in range(17)
)
# What the HTML standard makes a parse error in a document's text: controls other
# than whitespace (C0 and C1), lone surrogates and noncharacters. Also the
# bidirectional embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069):
# one left open in an outlet's or tag's title displayed the rest of the line
# backwards ("183" read "381" in the quote after it). The marks (U+200E, U+200F)
# stay: they change no text but their own neighbourhood.
_PAGE_ILLEGAL = re.compile(
    "[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff"
    f"\ufdd0-\ufdef{_NONCHARACTERS}]"
)


def page_text(value: Any) -> Any:
    """A printed value without forbidden characters or bidi overrides (our own markup is left)."""
    if isinstance(value, str) and not isinstance(value, Markup):
        return _PAGE_ILLEGAL.sub("", value.replace("\x0c", " "))
    return value


def when(moment: datetime) -> str:
    """A date for people, in UTC: "13 Jan 2026", with the time unless it is exactly midnight."""
    at = moment.astimezone(UTC)
    day = f"{at.day} {_MONTHS[at.month - 1]} {at.year}"
    if (at.hour, at.minute, at.second) == (0, 0, 0):
        return day
    return f"{day}, {at:%H:%M} UTC"


def http_url(url: str | None) -> str | None:
    """``url`` when it is an absolute http(s) URL, else None (no other scheme is ever linked)."""
    return url if url and is_http(url) else None


def lead(text: str) -> list[str]:
    """The first paragraph or two of a report's text, cut at a word near ``LEAD_CHARACTERS``."""
    paragraphs = [" ".join(p.split()) for p in text.split("\n\n")]
    kept: list[str] = []
    room = LEAD_CHARACTERS
    for paragraph in (p for p in paragraphs if p):
        if len(kept) == LEAD_PARAGRAPHS or room <= 0:
            break
        if len(paragraph) > room:
            paragraph = paragraph[:room].rsplit(" ", 1)[0].rstrip(",;:") + " …"
        kept.append(paragraph)
        room -= len(paragraph)
    return kept


def split_at(context: str, value: str) -> tuple[str, str, str]:
    """``context`` cut around the first ``value`` in it (to highlight it), or (context, "", "")."""
    before, found, after = context.partition(value)
    return (before, found, after) if found else (context, "", "")


def source_key(name: str) -> str:
    """The anchor of a source's row in the source directory (``source-<name>``)."""
    return f"source-{path_segment(name)}"


def plural(count: int, word: str) -> str:
    """``count`` and ``word``, with an "s" unless the count is one ("1 outlet", "3 outlets")."""
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def _package_file(name: str) -> str:
    loader = environment().loader
    assert loader is not None
    source, _, _ = loader.get_source(environment(), name)
    return source


@cache
def style_sheet() -> str:
    """The text of the style sheet every page inlines."""
    return _package_file(STYLE_SHEET)


def favicon() -> bytes:
    """The site's icon (an SVG file published beside index.html, so browsers ask for no other)."""
    return _package_file(FAVICON).encode("utf-8")


def content_security_policy() -> str:
    """The pages' policy: nothing may load or run but the inlined style sheet."""
    digest = hashlib.sha256(style_sheet().encode("utf-8")).digest()
    style = base64.b64encode(digest).decode("ascii")
    return (
        f"default-src 'none'; style-src 'sha256-{style}'; img-src 'self'; "
        "base-uri 'none'; form-action 'none'"
    )


@cache
def environment() -> jinja2.Environment:
    """The page templates' environment (built once per process, never changed after)."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("feedsvc.publish", TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        finalize=page_text,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        auto_reload=False,
    )
    env.filters.update(
        when=when,
        iso=rfc3339,
        http_url=http_url,
        lead=lead,
        split_at=split_at,
        plural=plural,
        source_key=source_key,
    )
    return env


def render_template(name: str, path: str, **context: Any) -> bytes:
    """Render the template ``name`` for the page at ``path`` (relative to output/) to bytes.

    Every template gets ``root``, the relative way back to the output dir
    (``""`` or ``"../"``), the inlined ``style`` and the ``csp`` allowing it.
    """
    template = environment().get_template(name)
    html = template.render(
        root="../" * path.count("/"),
        style=Markup(style_sheet()),
        csp=content_security_policy(),
        **context,
    )
    return html.encode("utf-8")

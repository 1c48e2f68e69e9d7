"""Keep an entry's content and summary in one markup kind, as RawEntry promises.

``RawEntry.content_type`` describes both ``content`` and ``summary``. When a
document mixes plain text with HTML (an Atom ``type="text"`` summary next to
``type="html"`` content), the plain part is escaped into HTML here. No HTML is
sanitised or rewritten; that is the normaliser's job.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

HTML = "text/html"
PLAIN = "text/plain"

_BLANK_LINE = re.compile(r"\n\s*\n")


@dataclass(frozen=True, slots=True)
class Part:
    """A piece of entry text and whether it is plain text (True) or HTML (False)."""

    value: str
    plain: bool


@dataclass(frozen=True, slots=True)
class Body:
    """Content and summary of one entry, both in the markup ``content_type`` names."""

    content: str | None
    summary: str | None
    content_type: str


def plain_to_html(text: str) -> str:
    """Escape plain text into HTML: one ``<p>`` per blank-line-separated paragraph."""
    paragraphs = [p.strip() for p in _BLANK_LINE.split(text) if p.strip()]
    if len(paragraphs) <= 1:
        return html.escape(text.strip(), quote=False)
    return "".join(f"<p>{html.escape(p, quote=False)}</p>" for p in paragraphs)


def harmonise(content: Part | None, summary: Part | None) -> Body:
    """Return content and summary in one markup: plain only when every part is plain."""
    parts = [p for p in (content, summary) if p is not None]
    if parts and all(p.plain for p in parts):
        return Body(_value(content), _value(summary), PLAIN)
    return Body(_as_html(content), _as_html(summary), HTML)


def _value(part: Part | None) -> str | None:
    return part.value if part is not None else None


def _as_html(part: Part | None) -> str | None:
    if part is None:
        return None
    return plain_to_html(part.value) if part.plain else part.value

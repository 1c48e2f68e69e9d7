"""Take a feed's internal DTD away before any XML parser sees it.

An internal DTD subset is where XML attacks live: entities that expand to
entities ("billion laughs"), one large entity referenced thousands of times
(quadratic blow-up), external entities naming local files or URLs. Feeds have
no use for any of that, so ``defuse`` removes the subset from the prolog
(keeping ``<!DOCTYPE name PUBLIC ...>`` without it, which feedparser reads for
the RSS 0.91 variant) and deals with the references to what it declared:

* an entity whose value is short plain text (no markup, no references but
  character references: the way some feeds declare ``&nbsp;``) is replaced
  by its value, once, by us; if that would more than double the document
  (or grow it by more than 1 MiB), the document is refused;
* every other declared entity (external, or expanding to markup or to other
  entities) is dropped, with a warning naming it.

Nothing is expanded recursively, nothing is fetched or opened. External DTDs
named by ``SYSTEM``/``PUBLIC`` stay in the text and are never loaded
(feedparser's XML reader does not load external entities; tests prove it).
A subset this scanner cannot delimit while the prolog declares entities makes
the document unusable, rather than risking a parser that reads it differently.

Works on the bytes of ASCII-compatible encodings (through a latin-1 view, which
maps every byte to one character and back) and on UTF-16/32 documents
(re-encoded as UTF-8 when a subset is removed). Pure: no I/O.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass, replace

from feedsvc.errors import ExtractError
from feedsvc.types import Document

MAX_VALUE_CHARS = 256
MIN_GROWTH_ALLOWED = 1024 * 1024
PREDEFINED = frozenset({"lt", "gt", "amp", "quot", "apos"})

_SAFE_VALUE = re.compile(r"(?:[^&<%]|&#[0-9]{1,7};|&#x[0-9a-fA-F]{1,6};)*")
_ENTITY = re.compile(
    r"<!ENTITY\s+(%\s+)?([^\s\"'<>%;&]+)\s+(?:\"([^\"]*)\"|'([^']*)'|(SYSTEM|PUBLIC)\b)"
)
_XML_DECL_ENCODING = re.compile(r"^(\s*<\?xml[^>]*?encoding\s*=\s*)([\"'])[^\"']*\2")
_WIDE = (
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF16_BE, "utf-16"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (b"\x00\x00\x00<", "utf-32-be"),
    (b"<\x00\x00\x00", "utf-32-le"),
    (b"\x00<\x00", "utf-16-be"),
    (b"<\x00?\x00", "utf-16-le"),
    (b"<\x00!\x00", "utf-16-le"),
)
_HEAD_CHARS = 64 * 1024


@dataclass(frozen=True, slots=True)
class _Doctype:
    """Where the DOCTYPE declaration is, what it says before its subset, and the subset."""

    start: int
    end: int
    header: str
    subset: str | None


class _Unreadable(Exception):
    """The prolog could not be delimited."""


def defuse(document: Document) -> tuple[Document, tuple[str, ...]]:
    """``document`` without an internal DTD subset, and warnings about entities dropped."""
    codec = _wide_codec(document.body)
    head = _decode(document.body[: _HEAD_CHARS * 4], codec)
    try:
        found = _doctype(head)
    except _Unreadable:
        found = _doctype_or_refuse(_decode(document.body, codec))
    if found is None or found.subset is None:
        return document, ()
    text = _decode(document.body, codec)
    found = _doctype(text)
    assert found is not None and found.subset is not None
    cleaned, warnings = _without_subset(text, found, len(document.body))
    if codec is None:
        return replace(document, body=cleaned.encode("latin-1")), warnings
    return _as_utf8(document, cleaned), warnings


def _wide_codec(body: bytes) -> str | None:
    return next((codec for start, codec in _WIDE if body.startswith(start)), None)


def _decode(body: bytes, codec: str | None) -> str:
    return body.decode(codec or "latin-1", errors="replace")


def _as_utf8(document: Document, text: str) -> Document:
    text = _XML_DECL_ENCODING.sub(r"\1\2utf-8\2", text.lstrip("\ufeff"), count=1)
    content_type = "application/xml; charset=utf-8"
    headers = {k: v for k, v in document.headers.items() if k.lower() != "content-type"}
    headers["content-type"] = content_type
    return replace(document, body=text.encode("utf-8"), content_type=content_type, headers=headers)


def _doctype_or_refuse(text: str) -> _Doctype | None:
    try:
        return _doctype(text)
    except _Unreadable as exc:
        if "<!ENTITY" in text:
            raise ExtractError(f"not a usable feed: unreadable DTD ({exc})") from exc
        return None


# --------------------------------------------------------------------------- scanning the prolog


def _doctype(text: str) -> _Doctype | None:
    """The DOCTYPE of the prolog, if any; raise _Unreadable when its end cannot be found."""
    position = len(text) - len(text.lstrip("\ufeff\xef\xbb\xbf"))
    while True:
        position = _skip_space(text, position)
        if text.startswith("<?", position):
            position = _after(text, "?>", position + 2)
        elif text.startswith("<!--", position):
            position = _after(text, "-->", position + 4)
        elif text[position : position + 9].upper() == "<!DOCTYPE":
            return _read_doctype(text, position)
        else:
            return None


def _read_doctype(text: str, start: int) -> _Doctype:
    position = start + 9
    while position < len(text):
        char = text[position]
        if char in "\"'":
            position = _after(text, char, position + 1)
        elif char == ">":
            return _Doctype(start, position + 1, text[start + 9 : position].strip(), None)
        elif char == "[":
            subset_end = _subset_end(text, position + 1)
            close = _skip_space(text, subset_end + 1)
            if not text.startswith(">", close):
                raise _Unreadable("no '>' after the internal subset")
            header = text[start + 9 : position].strip()
            return _Doctype(start, close + 1, header, text[position + 1 : subset_end])
        else:
            position += 1
    raise _Unreadable("the DOCTYPE does not end")


def _subset_end(text: str, position: int) -> int:
    """The index of the ``]`` that closes the internal subset starting at ``position``."""
    while position < len(text):
        if text.startswith("<!--", position):
            position = _after(text, "-->", position + 4)
        elif text.startswith("<?", position):
            position = _after(text, "?>", position + 2)
        elif text[position] in "\"'":
            position = _after(text, text[position], position + 1)
        elif text[position] == "]":
            return position
        else:
            position += 1
    raise _Unreadable("the internal subset does not end")


def _skip_space(text: str, position: int) -> int:
    while position < len(text) and text[position] in " \t\r\n":
        position += 1
    return position


def _after(text: str, marker: str, position: int) -> int:
    found = text.find(marker, position)
    if found < 0:
        raise _Unreadable(f"{marker!r} missing")
    return found + len(marker)


# --------------------------------------------------------------------------- removing it


def _without_subset(text: str, found: _Doctype, size: int) -> tuple[str, tuple[str, ...]]:
    assert found.subset is not None
    values, dropped = _declared(_without_comments(found.subset))
    rest = text[found.end :]
    if values or dropped:
        rest = _replace_references(rest, values, dropped, size)
    doctype = f"<!DOCTYPE {found.header}>" if found.header else ""
    warnings: tuple[str, ...] = ()
    if dropped:
        names = ", ".join(sorted(dropped)[:10])
        more = f" and {len(dropped) - 10} more" if len(dropped) > 10 else ""
        warnings = (f"DTD ignored; entities dropped: {names}{more}",)
    return text[: found.start] + doctype + rest, warnings


def _without_comments(subset: str) -> str:
    return re.sub(r"<!--.*?-->|<\?.*?\?>", " ", subset, flags=re.S)


def _declared(subset: str) -> tuple[dict[str, str], set[str]]:
    """General entities declared: those replaced by plain text, and those dropped."""
    values: dict[str, str] = {}
    dropped: set[str] = set()
    for match in _ENTITY.finditer(subset):
        parameter, name, double, single, external = match.groups()
        if parameter or name in PREDEFINED or name in values or name in dropped:
            continue
        value = double if double is not None else single
        if external or value is None or not _is_plain(value):
            dropped.add(name)
        else:
            values[name] = value.replace('"', "&quot;").replace("'", "&apos;")
    return values, dropped


def _is_plain(value: str) -> bool:
    return len(value) <= MAX_VALUE_CHARS and _SAFE_VALUE.fullmatch(value) is not None


def _replace_references(rest: str, values: dict[str, str], dropped: set[str], size: int) -> str:
    names = "|".join(re.escape(n) for n in sorted([*values, *dropped], key=len, reverse=True))
    pattern = re.compile(f"&({names});")
    budget = [max(size, MIN_GROWTH_ALLOWED)]

    def substitute(match: re.Match[str]) -> str:
        value = values.get(match.group(1), "")
        budget[0] -= len(value) - len(match.group(0))
        if budget[0] < 0:
            raise ExtractError(
                "not a usable feed: the entities its DTD declares would expand it"
                f" by more than {max(size, MIN_GROWTH_ALLOWED)} bytes"
            )
        return value

    return pattern.sub(substitute, rest)

"""JSON Feed 1.0/1.1 (https://jsonfeed.org) bytes → Extracted.

feedparser 6.0 reads no JSON, so JSON Feed is read here with the standard
library. Like the XML path, this resolves relative links against the document
URL but does not sanitise HTML (``content_html`` is passed on as the feed gave
it; the normaliser sanitises every HTML body) and does not normalise anything.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urljoin

from feedsvc.errors import ExtractError
from feedsvc.extract._dates import parse_iso
from feedsvc.extract._markup import Part, harmonise
from feedsvc.types import Document, Extracted, RawEntry

log = logging.getLogger("feedsvc.extract.jsonfeed")

VERSION_PREFIX = "https://jsonfeed.org/version/"


_SURROGATE = re.compile(r"[\ud800-\udfff]")


def parse_json_feed(document: Document) -> Extracted:
    """Read a JSON Feed document; raise ExtractError when it is not one."""
    data = _load(document.body)
    warnings: list[str] = []
    items = data.get("items")
    if not isinstance(items, list):
        warnings.append("JSON Feed without an items list, read as empty")
        items = []
    entries = []
    for position, item in enumerate(items):
        if not isinstance(item, Mapping):
            warnings.append(f"JSON Feed item {position} is not an object, skipped")
            continue
        entries.append(_entry(item, data, document.url))
    log.debug("json feed read url=%s entries=%d", document.url, len(entries))
    return Extracted(
        entries=tuple(entries),
        warnings=tuple(warnings),
        title=_text(data.get("title")),
        link=_url(data.get("home_page_url"), document.url),
        language=_text(data.get("language")),
    )


def _load(body: bytes) -> Mapping[str, Any]:
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise ExtractError(f"not a usable feed: invalid JSON: {exc}") from exc
    if not isinstance(data, dict) or not _is_json_feed(data):
        raise ExtractError("not a usable feed: the JSON document is not a JSON Feed")
    # only an escape (a backslash, "u" and four hex digits) leaves a lone surrogate
    return _mend_surrogates(data) if b"\\u" in body else data


def _mend_surrogates(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` with each lone surrogate (``"\\ud800"`` alone) in its strings made U+FFFD.

    JSON may escape half of a UTF-16 pair alone; no such text can be encoded
    (stored, sanitised or written) afterwards. Iterative: as deep as the JSON.
    """
    stack: list[dict[str, Any] | list[Any]] = [data]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            for index, value in enumerate(node):
                node[index] = _mended(value, stack)
            continue
        for key in [k for k in node if _SURROGATE.search(k)]:
            node[_SURROGATE.sub("\ufffd", key)] = node.pop(key)
        for key, value in node.items():
            node[key] = _mended(value, stack)
    return data


def _mended(value: Any, stack: list[dict[str, Any] | list[Any]]) -> Any:
    """A string mended; a container put on ``stack`` to mend later; anything else as it is."""
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, dict | list):
        stack.append(value)
    return value


def _is_json_feed(data: Mapping[str, Any]) -> bool:
    version = data.get("version")
    if isinstance(version, str) and version.startswith(VERSION_PREFIX):
        return True
    return isinstance(data.get("items"), list) and "title" in data


def _entry(item: Mapping[str, Any], feed: Mapping[str, Any], base_url: str) -> RawEntry:
    body = harmonise(_content(item), _summary(item))
    return RawEntry(
        guid=_identifier(item.get("id")),
        link=_url(item.get("url") or item.get("external_url"), base_url),
        title=_text(item.get("title")),
        summary=body.summary,
        content=body.content,
        content_type=body.content_type,
        published=parse_iso(item.get("date_published")),
        updated=parse_iso(item.get("date_modified")),
        authors=_authors(item) or _authors(feed),
        categories=_tags(item.get("tags")),
        language=_text(item.get("language")) or _text(feed.get("language")),
        base_url=base_url,
    )


def _content(item: Mapping[str, Any]) -> Part | None:
    html_body = _text(item.get("content_html"))
    if html_body is not None:
        return Part(html_body, plain=False)
    text_body = _text(item.get("content_text"))
    return Part(text_body, plain=True) if text_body is not None else None


def _summary(item: Mapping[str, Any]) -> Part | None:
    summary = _text(item.get("summary"))
    return Part(summary, plain=True) if summary is not None else None


def _authors(obj: Mapping[str, Any]) -> tuple[str, ...]:
    """Author names of JSON Feed 1.1 ``authors`` or 1.0 ``author`` (url when no name)."""
    raw = obj.get("authors")
    people = raw if isinstance(raw, list) else [obj.get("author")]
    names = [_person(p) for p in people if isinstance(p, Mapping)]
    return tuple(dict.fromkeys(n for n in names if n))


def _person(person: Mapping[str, Any]) -> str | None:
    return _text(person.get("name")) or _text(person.get("url"))


def _tags(value: object) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(dict.fromkeys(t for t in (_text(v) for v in value) if t))


def _identifier(value: object) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return str(value)
    return _text(value)


def _url(value: object, base_url: str) -> str | None:
    text = _text(value)
    if text is None:
        return None
    try:
        return urljoin(base_url, text)
    except ValueError:
        return text


def _text(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    stripped = value.strip()
    return stripped or None

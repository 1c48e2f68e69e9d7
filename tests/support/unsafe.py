"""Find unsafe markup in what feedsvc published, by parsing it, not by pattern matching.

Every published RSS, Atom and JSON Feed file is parsed (lxml for XML, json for
JSON Feed); each HTML payload it carries (RSS description and
content:encoded, Atom content/summary/title of type html or xhtml, JSON Feed
content_html) is parsed again as HTML, and every element and attribute is
checked: no script, style, frame, form or other active element, no event
handler or style attribute, no URL attribute with a scheme other than http,
https or mailto (so no ``javascript:``, ``vbscript:`` or ``data:``, however
spelled: lxml decodes entities and we strip the whitespace and control
characters browsers ignore). Link elements and JSON Feed URLs of the feeds
themselves are checked the same way. index.html and story pages are HTML
documents and are checked whole.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import lxml.etree
import lxml.html

FORBIDDEN_TAGS = frozenset(
    {
        "script", "style", "iframe", "frame", "frameset", "object", "embed", "applet",
        "form", "input", "button", "textarea", "select", "option", "meta", "link", "base",
        "svg", "math", "noscript", "template", "portal", "audio", "video", "source", "track",
        "param", "dialog",
    }
)  # fmt: skip
URL_ATTRIBUTES = frozenset(
    {
        "href", "src", "action", "formaction", "background", "cite", "longdesc", "lowsrc",
        "dynsrc", "poster", "data", "codebase", "usemap", "srcset", "xlink:href", "ping",
        "manifest", "icon", "profile", "archive", "classid",
    }
)  # fmt: skip
SAFE_SCHEMES = frozenset({"http", "https", "mailto"})
ATOM = "{http://www.w3.org/2005/Atom}"
CONTENT = "{http://purl.org/rss/1.0/modules/content/}encoded"
_IGNORED_IN_URLS = re.compile(r"[\x00-\x20\x7f-\x9f]+")
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):")


def unsafe_url(value: str) -> bool:
    """Whether a URL would run or embed something (any scheme but http, https, mailto)."""
    cleaned = _IGNORED_IN_URLS.sub("", value)
    match = _SCHEME.match(cleaned)
    return match is not None and match.group(1).lower() not in SAFE_SCHEMES


def unsafe_in_html(markup: str, where: str, *, page: bool = False) -> list[str]:
    """What is unsafe in one HTML payload (or, with ``page``, a whole HTML page)."""
    if not markup.strip():
        return []
    try:
        root = (
            lxml.html.document_fromstring(markup)
            if page
            else lxml.html.fragment_fromstring(markup, create_parent="div")
        )
    except (lxml.etree.ParserError, ValueError):
        return []
    found = []
    allowed_in_page = {"meta", "link", "style"} if page else set()
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue  # comments and processing instructions
        tag = element.tag.lower().rpartition("}")[2]
        if tag in FORBIDDEN_TAGS and tag not in allowed_in_page:
            found.append(f"{where}: <{tag}>")
        for name, value in element.attrib.items():
            attribute = name.lower().rpartition("}")[2]
            if attribute.startswith("on"):
                found.append(f"{where}: <{tag} {attribute}=...>")
            elif attribute == "style" and not page:
                found.append(f"{where}: <{tag} style=...>")
            elif attribute in URL_ATTRIBUTES and any(unsafe_url(v) for v in value.split(",")):
                found.append(f"{where}: <{tag} {attribute}={value[:60]!r}>")
    return found


def published_unsafe(output: Path) -> list[str]:
    """Everything unsafe in every feed and page under ``output``."""
    found: list[str] = []
    for path in sorted(output.rglob("*")):
        if path.name.startswith(".") or not path.is_file():
            continue
        where = path.relative_to(output).as_posix()
        if path.suffix in {".rss", ".atom"}:
            found += _unsafe_in_xml_feed(path.read_bytes(), where)
        elif path.suffix == ".json":
            found += _unsafe_in_json_feed(json.loads(path.read_bytes()), where)
        elif path.suffix == ".html":
            found += unsafe_in_html(path.read_text(encoding="utf-8"), where, page=True)
    return found


def unsafe_in_feed(name: str, data: bytes) -> list[str]:
    """Everything unsafe in one rendered feed file (``.rss``, ``.atom`` or ``.json``)."""
    if name.endswith(".json"):
        return _unsafe_in_json_feed(json.loads(data), name)
    return _unsafe_in_xml_feed(data, name)


def _unsafe_in_xml_feed(data: bytes, where: str) -> list[str]:
    root = lxml.etree.fromstring(data, lxml.etree.XMLParser(resolve_entities=False))
    found = []
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue
        for html_text in _html_payloads(element):
            found += unsafe_in_html(html_text, f"{where} {element.tag}")
        for attribute in ("href", "url", "src"):
            value = element.get(attribute)
            if value is not None and unsafe_url(value):
                found.append(f"{where}: {element.tag} {attribute}={value[:60]!r}")
        if element.tag in {"link", "comments", "docs"} and unsafe_url(element.text or ""):
            found.append(f"{where}: <{element.tag}>{(element.text or '')[:60]!r}")
    return found


def _html_payloads(element: lxml.etree._Element) -> Iterator[str]:
    tag = element.tag
    if tag in {"description", CONTENT, "title"}:
        yield element.text or ""
    elif isinstance(tag, str) and tag.startswith(ATOM):
        kind = element.get("type", "text")
        if kind == "html":
            yield element.text or ""
        elif kind == "xhtml":
            yield lxml.etree.tostring(element, encoding="unicode")


def _unsafe_in_json_feed(feed: object, where: str) -> list[str]:
    found = []
    items = feed.get("items", []) if isinstance(feed, dict) else []
    for item in [feed, *items]:
        if not isinstance(item, dict):
            continue
        for key in ("content_html", "summary_html"):
            if isinstance(item.get(key), str):
                found += unsafe_in_html(item[key], f"{where} {key}")
        for key in ("url", "external_url", "home_page_url", "feed_url", "image", "icon"):
            value = item.get(key)
            if isinstance(value, str) and unsafe_url(value):
                found.append(f"{where}: {key}={value[:60]!r}")
    return found

"""Article metadata read straight from an HTML tree: dates, canonical link, language.

The published date is, in this order: what the publisher states on purpose
(``article:published_time`` and kin, JSON-LD ``datePublished``, ``<time
itemprop=datePublished>`` or ``<time pubdate>``); a date in the byline area
between the first ``<h1>`` and the first body paragraph; a date in the
canonical URL's path. Page chrome (a "today is ..." banner in the header, the
footer's copyright year) is never looked at, and nothing falls back to today's
date: an undated page gives None. A date-only value is 00:00 UTC.
"""

from __future__ import annotations

import json
import re
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urljoin

from lxml.html import HtmlElement

from feedsvc.extract._dates import first_text_date, parse_iso

_PUBLISHED_KEYS = (
    "article:published_time",
    "og:article:published_time",
    "datepublished",
    "dc.date.issued",
    "dcterms.issued",
    "dcterms.created",
    "dc.date",
    "pubdate",
    "publishdate",
    "publish-date",
    "sailthru.date",
    "parsely-pub-date",
)
_UPDATED_KEYS = (
    "article:modified_time",
    "og:updated_time",
    "datemodified",
    "dcterms.modified",
    "last-modified",
)
_PUBLISHED_TIME_XPATH = "//time[@datetime][@itemprop='datePublished' or @pubdate]"
_BYLINE_ELEMENTS = 60
_BODY_PARAGRAPH_CHARS = 80
_URL_DATE = re.compile(r"/((?:19|20)\d\d)[/-](\d{1,2})[/-](\d{1,2})(?:[/_.-]|$)")
_MAX_JSON_LD_NODES = 500


@dataclass(frozen=True, slots=True)
class PageMeta:
    """What a page states about its article in markup."""

    link: str | None
    language: str | None
    published: datetime | None
    updated: datetime | None


def read_meta(tree: HtmlElement, url: str, content_language: str | None) -> PageMeta:
    """Read the stated metadata of the page ``tree`` fetched from ``url``."""
    metas = _meta_values(tree)
    json_ld = list(_json_ld_nodes(tree))
    link = canonical_link(tree, url, metas)
    return PageMeta(
        link=link,
        language=_language(tree, metas, content_language),
        published=_first_date(metas, json_ld, _PUBLISHED_KEYS, "datePublished")
        or _time_element_date(tree)
        or _byline_date(tree)
        or _url_date(link, url),
        updated=_first_date(metas, json_ld, _UPDATED_KEYS, "dateModified"),
    )


def canonical_link(tree: HtmlElement, url: str, metas: dict[str, str] | None = None) -> str | None:
    """``link rel=canonical``, else ``og:url``, resolved against ``url``."""
    metas = _meta_values(tree) if metas is None else metas
    for element in tree.xpath("//link[@href]"):
        rels = str(element.get("rel") or "").lower().split()
        if "canonical" in rels and str(element.get("href")).strip():
            return _resolve(url, str(element.get("href")))
    og_url = metas.get("og:url")
    return _resolve(url, og_url) if og_url else None


def _resolve(base: str, href: str) -> str:
    try:
        return urljoin(base, href.strip())
    except ValueError:
        return href.strip()


def _meta_values(tree: HtmlElement) -> dict[str, str]:
    """First value of each ``<meta>`` by lower-cased property/name/itemprop/http-equiv."""
    values: dict[str, str] = {}
    for element in tree.xpath("//meta"):
        content = str(element.get("content") or "").strip()
        if not content:
            continue
        for attribute in ("property", "name", "itemprop", "http-equiv"):
            key = str(element.get(attribute) or "").strip().lower()
            if key:
                values.setdefault(key, content)
    return values


def _language(tree: HtmlElement, metas: dict[str, str], header: str | None) -> str | None:
    candidates = (
        tree.get("lang"),
        tree.get("{http://www.w3.org/XML/1998/namespace}lang"),
        header,
        metas.get("content-language"),
        metas.get("og:locale"),
    )
    return next((c.strip() for c in candidates if c and c.strip()), None)


def _first_date(
    metas: dict[str, str], json_ld: list[dict[str, Any]], keys: tuple[str, ...], ld_key: str
) -> datetime | None:
    for key in keys:
        if (value := parse_iso(metas.get(key))) is not None:
            return value
    for node in json_ld:
        if (value := parse_iso(node.get(ld_key))) is not None:
            return value
    return None


def _time_element_date(tree: HtmlElement) -> datetime | None:
    for element in tree.xpath(_PUBLISHED_TIME_XPATH):
        if (value := parse_iso(element.get("datetime"))) is not None:
            return value
    return None


def _byline_date(tree: HtmlElement) -> datetime | None:
    """A date between the first ``<h1>`` and the first body paragraph (the byline area)."""
    for element in _byline_zone(tree):
        if element.tag == "time" and (value := parse_iso(element.get("datetime"))):
            return value
        for text in (element.text, element.tail):
            if text and (value := first_text_date(text)) is not None:
                return value
    return None


def _byline_zone(tree: HtmlElement) -> Iterator[HtmlElement]:
    headline = next(iter(tree.iter("h1")), None)
    if headline is None:
        return
    for count, element in enumerate(_following(headline)):
        if count >= _BYLINE_ELEMENTS or _is_body_paragraph(element):
            return
        yield element


def _following(element: HtmlElement) -> Iterator[HtmlElement]:
    """Elements (not comments) after ``element`` in document order, outside it."""
    current: HtmlElement | None = element
    while current is not None:
        for sibling in current.itersiblings():
            yield from (e for e in sibling.iter() if isinstance(e.tag, str))
        current = current.getparent()


def _is_body_paragraph(element: HtmlElement) -> bool:
    return element.tag == "p" and len(element.text_content().strip()) >= _BODY_PARAGRAPH_CHARS


def _url_date(*urls: str | None) -> datetime | None:
    """A date in a URL path such as ``/2025/11/04/`` or ``/2025-11-04-``."""
    for url in urls:
        match = _URL_DATE.search(url or "")
        if match is not None:
            value = first_text_date("-".join(match.groups()))
            if value is not None:
                return value
    return None


def _json_ld_nodes(tree: HtmlElement) -> Iterator[dict[str, Any]]:
    """Every JSON object in the page's JSON-LD scripts (``@graph`` included), bounded."""
    count = 0
    for script in tree.xpath("//script[@type='application/ld+json']"):
        try:
            data = json.loads(script.text or "")
        except (ValueError, RecursionError):
            continue
        for node in _walk(data):
            count += 1
            if count > _MAX_JSON_LD_NODES:
                return
            yield node


def _walk(data: object) -> Iterator[dict[str, Any]]:
    queue: deque[object] = deque([data])
    while queue:
        item = queue.popleft()
        if isinstance(item, dict):
            yield item
            queue.extend(v for v in item.values() if isinstance(v, dict | list))
        elif isinstance(item, list):
            queue.extend(item)

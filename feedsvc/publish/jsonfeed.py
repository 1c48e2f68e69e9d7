"""JSON Feed 1.1 rendering of one feed spec (feedgen does not write JSON Feed).

Output is ``json.dumps`` of plain dicts in a fixed key order, so equal input
gives equal bytes. Related links and a story's page (``compare_url``) go under
the ``_feedsvc`` extension key; the page is linked in ``content_html`` too. This
module does no I/O.
"""

from __future__ import annotations

import json
from typing import Any

from feedsvc.config_types import Settings
from feedsvc.publish.plan import home_page
from feedsvc.publish.text import (
    entry_authors,
    entry_categories,
    entry_content,
    entry_link,
    entry_title,
    is_http,
    page_url,
    public_url,
    rfc3339,
    xml_text,
)
from feedsvc.types import FeedEntry, FeedSpec, RelatedLink

JSON_FEED_VERSION = "https://jsonfeed.org/version/1.1"
JSON_FEED_TYPE = "application/feed+json"


def _related(link: RelatedLink) -> dict[str, str | None]:
    return {
        "outlet": xml_text(link.outlet),
        "title": xml_text(link.title),
        "url": xml_text(link.url) if link.url and is_http(link.url) else None,
    }


def _extension(entry: FeedEntry, page: str | None) -> dict[str, Any]:
    source = {"name": xml_text(entry.source_name), "title": xml_text(entry.source_title).strip()}
    if is_http(entry.source_url):
        source["feed_url"] = xml_text(entry.source_url or "")
    extension: dict[str, Any] = {"source": source}
    if entry.related:
        extension["also_reported_by"] = [_related(link) for link in entry.related]
    if entry.more_outlets:
        extension["more_outlets"] = entry.more_outlets
    if page:
        extension["compare_url"] = page
    return extension


def _item(entry: FeedEntry, settings: Settings) -> dict[str, Any]:
    page = page_url(entry, settings)
    item: dict[str, Any] = {"id": xml_text(entry.guid)}
    link = entry_link(entry)
    if link:
        item["url"] = link
    item["title"] = entry_title(entry)
    item["content_html"] = entry_content(entry, page)
    summary = xml_text(entry.summary).strip()
    if summary:
        item["summary"] = summary
    item["date_published"] = rfc3339(entry.published)
    item["date_modified"] = rfc3339(entry.updated)
    authors = entry_authors(entry)
    if authors:  # "one or more authors": an item that names none has no ``authors``
        item["authors"] = [{"name": name} for name in authors]
    item["tags"] = entry_categories(entry)
    item["_feedsvc"] = _extension(entry, page)
    return item


def render_json(spec: FeedSpec, settings: Settings) -> bytes:
    """``spec`` as JSON Feed 1.1 bytes (UTF-8, one line), listing the WebSub hub if any."""
    feed: dict[str, Any] = {
        "version": JSON_FEED_VERSION,
        "title": xml_text(spec.title).strip() or spec.path,
        "home_page_url": public_url(settings, home_page(spec.listing)),
        "feed_url": public_url(settings, f"{spec.path}.json"),
        "description": xml_text(spec.description),
    }
    if settings.websub_hub:
        feed["hubs"] = [{"type": "WebSub", "url": settings.websub_hub}]
    feed["items"] = [_item(entry, settings) for entry in spec.entries]
    return (json.dumps(feed, ensure_ascii=False) + "\n").encode("utf-8")

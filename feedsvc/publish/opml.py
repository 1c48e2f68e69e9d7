"""The OPML 2.0 subscription list (feeds.opml) of every published feed.

One ``type="rss"`` outline per feed, grouped under All / Sources / Tags, with
the public RSS URL as ``xmlUrl`` and the index page as ``htmlUrl``. No
``dateCreated`` or other clock values: equal input gives equal bytes. This
module does no I/O.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence

from feedsvc.publish.index import GROUPS, PAGE_TITLE, feed_title
from feedsvc.publish.text import index_url, public_url
from feedsvc.types import FeedListing, Settings

OPML_DOCS = "http://opml.org/spec2.opml"


def _outline(parent: ET.Element, spec: FeedListing, settings: Settings) -> None:
    title = feed_title(spec)
    ET.SubElement(
        parent,
        "outline",
        type="rss",
        text=title,
        title=title,
        xmlUrl=public_url(settings, f"{spec.path}.rss"),
        htmlUrl=index_url(settings),
    )


def render_opml(specs: Sequence[FeedListing], settings: Settings) -> bytes:
    """The feeds.opml document for ``specs`` as UTF-8 bytes."""
    root = ET.Element("opml", version="2.0")
    head = ET.SubElement(root, "head")
    ET.SubElement(head, "title").text = PAGE_TITLE
    ET.SubElement(head, "docs").text = OPML_DOCS
    body = ET.SubElement(root, "body")
    for kind, heading in GROUPS:
        members = [s for s in specs if s.kind == kind]
        if members:
            group = ET.SubElement(body, "outline", text=heading, title=heading)
            for spec in members:
                _outline(group, spec, settings)
    ET.indent(root)
    data: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return data + b"\n"

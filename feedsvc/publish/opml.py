"""The OPML 2.0 subscription list (feeds.opml) of every published feed.

One ``type="rss"`` outline per feed, grouped under All / Sources / Tags (folder
outlines carry only ``text``, as the W3C validator asks), with the public URL
of the first format published (RSS, else Atom, else JSON Feed) as ``xmlUrl``
and the feed's own page as ``htmlUrl`` (``plan.home_page``: a source's or
tag's page, the front page for the all-stories feed). No ``docs`` element (the validator does not
know it), no ``dateCreated`` or other clock values: equal input gives equal
bytes. This
module does no I/O.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence

from feedsvc.config_types import Settings
from feedsvc.publish.index import GROUPS, PAGE_TITLE, feed_title, published_formats
from feedsvc.publish.plan import home_page
from feedsvc.publish.text import public_url
from feedsvc.types import FeedListing


def _outline(parent: ET.Element, spec: FeedListing, settings: Settings, ext: str) -> None:
    title = feed_title(spec)
    ET.SubElement(
        parent,
        "outline",
        type="rss",
        text=title,
        title=title,
        xmlUrl=public_url(settings, f"{spec.path}{ext}"),
        htmlUrl=public_url(settings, home_page(spec)),
    )


def render_opml(specs: Sequence[FeedListing], settings: Settings) -> bytes:
    """The feeds.opml document for ``specs`` as UTF-8 bytes."""
    root = ET.Element("opml", version="2.0")
    head = ET.SubElement(root, "head")
    ET.SubElement(head, "title").text = PAGE_TITLE
    body = ET.SubElement(root, "body")
    formats = published_formats(settings)
    ext = formats[0][0] if formats else ".rss"
    for kind, heading in GROUPS:
        members = [s for s in specs if s.kind == kind]
        if members:
            group = ET.SubElement(body, "outline", text=heading)
            for spec in members:
                _outline(group, spec, settings, ext)
    ET.indent(root)
    data: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return data + b"\n"

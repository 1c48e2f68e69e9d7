"""A bounded fuzz run of extract → normalise → publish (hypothesis, fixed example count).

Made-up RSS, Atom and JSON Feed documents (hostile text, markup in every field,
odd dates and URLs, then sometimes truncated or with bytes flipped) go through
extraction, normalisation and rendering of all three output formats. The
properties: extraction ends in entries or an ``ExtractError``; every rendered
file parses strictly; nothing unsafe is in it (``support.unsafe``). A run is
about a minute here; ``derandomize`` keeps CI repeatable, and
``FEEDSVC_FUZZ_EXAMPLES`` runs more locally.
"""

from __future__ import annotations

import html
import json
import os
from datetime import UTC, datetime
from pathlib import Path

import lxml.etree
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from feedsvc.config_types import Settings, SourceConfig
from feedsvc.errors import ExtractError
from feedsvc.extract import extract
from feedsvc.normalise import normalise
from feedsvc.publish.plan import entry_from_article, feed_spec
from feedsvc.publish.rendering import render_spec
from feedsvc.types import Document, FeedListing
from tests.support.strategies import SCHEMES, hostile_text, html_fragments
from tests.support.unsafe import unsafe_in_feed

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
SOURCE = SourceConfig(name="fuzz", title="Fuzz", kind="feed", url="https://fuzz.example/feed")
SETTINGS = Settings(
    database_url="sqlite://", data_dir=Path(), output_dir=Path(), base_url="https://f.example/"
)
LISTING = FeedListing("sources/fuzz", "Fuzz", "Fuzzed feed", "source", "fuzz")
EXAMPLES = int(os.environ.get("FEEDSVC_FUZZ_EXAMPLES", "250"))

date_texts = st.sampled_from(
    ["Tue, 03 Nov 2026 10:00:00 GMT", "2026-11-03T10:00:00Z", "yesterday", "", "9999-99-99",
     "Mon, 01 Jan 0001 00:00:00 +2400", "2026-11-03T10:00:00+99:99", "1e309"]
)  # fmt: skip
link_texts = st.builds(lambda scheme, rest: scheme + rest, st.sampled_from(SCHEMES), hostile_text)


def escaped(text: str) -> str:
    return html.escape(text, quote=True)


@st.composite
def rss_item(draw: st.DrawFn) -> str:
    body = draw(html_fragments())
    wrap = draw(st.sampled_from(["escape", "cdata", "raw"]))
    description = {"escape": escaped(body), "cdata": f"<![CDATA[{body}]]>", "raw": body}[wrap]
    return (
        f"<item><title>{escaped(draw(hostile_text | html_fragments()))}</title>"
        f"<link>{escaped(draw(link_texts))}</link><guid>{escaped(draw(hostile_text))}</guid>"
        f"<pubDate>{draw(date_texts)}</pubDate><description>{description}</description>"
        f"<content:encoded>{escaped(draw(html_fragments()))}</content:encoded></item>"
    )


@st.composite
def atom_entry(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(["html", "xhtml", "text"]))
    body = draw(html_fragments())
    content = (
        f'<div xmlns="http://www.w3.org/1999/xhtml">{body}</div>'
        if kind == "xhtml"
        else escaped(body)
    )
    return (
        f"<entry><title type='html'>{escaped(draw(html_fragments()))}</title>"
        f"<id>{escaped(draw(hostile_text))}</id><link href='{escaped(draw(link_texts))}'/>"
        f"<updated>{draw(date_texts)}</updated><content type='{kind}'>{content}</content></entry>"
    )


@st.composite
def feed_documents(draw: st.DrawFn) -> Document:
    kind = draw(st.sampled_from(["rss", "atom", "json"]))
    if kind == "rss":
        items = "".join(draw(st.lists(rss_item(), max_size=4)))
        text = (
            '<?xml version="1.0" encoding="utf-8"?><rss version="2.0" '
            'xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel>'
            f"<title>{escaped(draw(hostile_text))}</title>{items}</channel></rss>"
        )
    elif kind == "atom":
        entries = "".join(draw(st.lists(atom_entry(), max_size=4)))
        base = escaped(draw(link_texts))
        text = f'<feed xmlns="http://www.w3.org/2005/Atom" xml:base="{base}">{entries}</feed>'
    else:
        items = [
            {"id": draw(hostile_text), "url": draw(link_texts), "title": draw(hostile_text),
             "content_html": draw(html_fragments()), "date_published": draw(date_texts)}
            for _ in range(draw(st.integers(0, 4)))
        ]  # fmt: skip
        text = json.dumps(
            {"version": "https://jsonfeed.org/version/1.1", "title": "F", "items": items}
        )
    body = text.encode("utf-8", errors="surrogatepass")
    damage = draw(st.sampled_from(["none", "none", "truncate", "flip"]))
    if damage == "truncate" and body:
        body = body[: draw(st.integers(0, len(body) - 1))]
    elif damage == "flip" and body:
        at = draw(st.integers(0, len(body) - 1))
        body = body[:at] + bytes([body[at] ^ draw(st.integers(1, 255))]) + body[at + 1 :]
    return Document("https://fuzz.example/feed", body, draw(st.sampled_from([None, "text/xml"])))


@pytest.mark.slow
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(feed_documents())
@example(  # found: what a malformed tag left in a title looked like a tag to readers
    Document(
        "https://fuzz.example/feed",
        b'<feed xmlns="http://www.w3.org/2005/Atom"><entry><title type="html">'
        b"&lt;a href=&quot;javascript:alert(1)&lt;&quot;&gt;x&lt;/a&gt;</title></entry></feed>",
    )
)
@example(  # found: a plain-text body that looks like a tag, made into a fallback title
    Document(
        "https://fuzz.example/feed",
        b'<feed xmlns="http://www.w3.org/2005/Atom"><entry><content type="text">'
        b"&lt;script&gt;&lt;/script&gt;</content></entry></feed>",
    )
)
@example(  # found: half a UTF-16 pair escaped alone in a JSON Feed failed the sanitiser
    Document(
        "https://fuzz.example/feed",
        b'{"version": "https://jsonfeed.org/version/1.1", "title": "F", "items": [{"id": "1",'
        b' "title": "\\uda26", "content_html": "<a href=\\"javascript:\\ud800\\udb00\\">x</a>"}]}',
    )
)
def test_fuzzed_feeds_publish_only_valid_safe_files(document: Document) -> None:
    try:
        extracted = extract(document, "feed")
    except ExtractError:
        return
    entries = [entry_from_article(normalise(raw, SOURCE, NOW), SOURCE) for raw in extracted.entries]
    for name, data in render_spec(feed_spec(LISTING, entries, 50), SETTINGS):
        if name.endswith(".json"):
            json.loads(data)
        else:
            lxml.etree.fromstring(data)
        assert unsafe_in_feed(name, data) == []

"""Tests of feedsvc.publish: plan, render, parse back as a reader would, atomic writes."""

from __future__ import annotations

import calendar
import dataclasses
import json
import os
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import feedparser
import pytest

from feedsvc.config_types import Settings, SourceConfig
from feedsvc.errors import PublishError
from feedsvc.publish import (
    entry_from_article,
    entry_guid,
    jsonfeed,
    plan_feeds,
    syndication,
    text,
    write_if_changed,
    write_output,
)
from feedsvc.publish.output import changed_feed_urls
from feedsvc.publish.pageplan import source_page
from feedsvc.publish.pages import render_page
from feedsvc.publish.plan import path_segment
from feedsvc.publish.rendering import render_files, render_output
from feedsvc.types import Article, FeedEntry, FeedSpec, RelatedLink

BASE = "https://feeds.example.test/pub/"
T0 = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)
COURIER = SourceConfig(
    name="courier",
    title="Lakeside Courier",
    kind="feed",
    url="https://courier.example.test/rss",
    tags=("lakes",),
)
GAZETTE = SourceConfig(
    name="gazette",
    title="Harbour Gazette",
    kind="file",
    path=Path("/srv/gazette"),
)


def settings_for(tmp_path: Path, feed_size: int = 50) -> Settings:
    return Settings(
        database_url="sqlite://",
        data_dir=tmp_path / "data",
        output_dir=tmp_path / "out",
        base_url=BASE,
        feed_size=feed_size,
    )


def make_entry(n: int, source: SourceConfig = COURIER, **changes: Any) -> FeedEntry:
    entry = FeedEntry(
        guid=entry_guid(source.name, f"story-{n}"),
        title=f"Ferry timetable change number {n}",
        link=f"https://{source.name}.example.test/news/{n}",
        summary=f"Summary of change {n}.",
        content_html=f"<p>The ferry to Pine Island changes for the {n}th time.</p>",
        published=T0 + timedelta(hours=n),
        updated=T0 + timedelta(hours=n, minutes=30),
        source_name=source.name,
        source_title=source.title,
        source_url=source.url,
        authors=(f"Reporter {n}",),
        categories=("ferries", f"route-{n}"),
    )
    return dataclasses.replace(entry, **changes)


def plan(
    entries: Sequence[FeedEntry], settings: Settings, sources: Sequence[SourceConfig] = ()
) -> list[FeedSpec]:
    by_source: dict[str, list[FeedEntry]] = {}
    by_tag: dict[str, list[FeedEntry]] = {}
    for entry in entries:
        by_source.setdefault(entry.source_name, []).append(entry)
        for tag in entry.categories:
            by_tag.setdefault(tag, []).append(entry)
    return plan_feeds(entries, by_source, by_tag, sources or (COURIER, GAZETTE), settings)


def parse(path: Path) -> Any:
    parsed = feedparser.parse(path.read_bytes())
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    return parsed


def files_in(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def to_datetime(struct: Any) -> datetime:
    return datetime.fromtimestamp(calendar.timegm(struct), UTC)


# --------------------------------------------------------------------------- plan


def test_entry_guid_is_stable_and_distinct() -> None:
    guid = entry_guid("courier", "story-1")
    assert guid == entry_guid("courier", "story-1")
    assert guid.startswith("urn:uuid:")
    assert guid == "urn:uuid:" + str(uuid.UUID(guid[9:]))
    assert guid != entry_guid("courier", "story-2")
    assert guid != entry_guid("gazette", "story-1")
    assert entry_guid("a", "bc") != entry_guid("ab", "c")


def test_entry_guid_pinned_value() -> None:
    # A published guid must never change between releases.
    assert entry_guid("courier", "story-1") == "urn:uuid:69cfd74c-4c3a-5645-a547-552079bff1b3"


def test_entry_from_article_maps_fields() -> None:
    article = Article(
        source="courier",
        id="a-17",
        url="https://courier.example.test/a-17",
        title="Lighthouse repainted",
        summary="The lighthouse is red again.",
        content_html="<p>The lighthouse is red again.</p>",
        text="The lighthouse is red again.",
        published=T0,
        updated=None,
        date_estimated=False,
        content_hash="h",
        authors=("Ines Keeper",),
        categories=("Coast", "lakes"),
        tags=("lakes", "maritime"),
    )
    entry = entry_from_article(article, COURIER)
    assert entry.guid == entry_guid("courier", "a-17")
    assert entry.updated == T0 == entry.published
    assert entry.link == article.url
    assert entry.source_title == "Lakeside Courier"
    assert entry.source_url == "https://courier.example.test/rss"
    assert entry.categories == ("lakes", "maritime", "Coast")
    assert entry.authors == ("Ines Keeper",)
    assert entry.related == ()
    from_file = entry_from_article(dataclasses.replace(article, source="gazette"), GAZETTE)
    assert from_file.source_url is None


def test_a_page_source_is_no_feed_to_cite_as_the_entrys_source(tmp_path: Path) -> None:
    # a page source's URL is one article's web page: readers that offer to
    # subscribe to an entry's source must be given feedsvc's feed of it instead
    page = SourceConfig(
        name="chronicle", title="Chronicle", kind="page", url="https://chronicle.example.test/a"
    )
    article = Article(
        source="chronicle", id="a", url=page.url, title="Pier reopens", summary="",
        content_html="<p>The pier reopens.</p>", text="The pier reopens.", published=T0,
        updated=None, date_estimated=False, content_hash="h",
    )  # fmt: skip
    entry = entry_from_article(article, page)
    assert entry.source_url is None
    settings = settings_for(tmp_path)
    (spec,) = plan_feeds([entry], {"chronicle": [entry]}, {}, [page], settings)[1:]
    files = render_files([spec], settings)
    own = f"{BASE}sources/chronicle"
    (rss,) = feedparser.parse(files["sources/chronicle.rss"]).entries
    assert rss.source.href == f"{own}.rss"
    atom = ET.fromstring(files["sources/chronicle.atom"])
    ns = "{http://www.w3.org/2005/Atom}"
    source = atom.find(f"{ns}entry/{ns}source")
    assert source is not None and source.findtext(f"{ns}id") == f"{own}.atom"
    assert [(ln.get("rel"), ln.get("href")) for ln in source.findall(f"{ns}link")] == [
        ("alternate", f"{own}.atom")
    ]
    (item,) = json.loads(files["sources/chronicle.json"])["items"]
    assert "feed_url" not in item["_feedsvc"]["source"]


def test_plan_feeds_paths_order_and_bound(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, feed_size=3)
    entries = [make_entry(n) for n in range(5)]
    same_time = make_entry(9, published=T0 + timedelta(hours=4))  # ties with entry 4
    specs = plan([*entries, same_time, entries[0]], settings)
    by_path = {s.path: s for s in specs}
    assert [s.path for s in specs][:3] == ["all", "sources/courier", "sources/gazette"]
    assert by_path["sources/gazette"].entries == ()  # configured, nothing yet
    assert "tags/ferries" in by_path and "tags/route-2" in by_path
    top = by_path["all"].entries
    assert len(top) == 3
    tied = sorted([entries[4].guid, same_time.guid])
    assert [e.guid for e in top[:2]] == tied
    assert top[2].guid == entries[3].guid
    assert by_path["all"].kind == "all" and by_path["tags/ferries"].kind == "tag"


def test_path_segment_is_safe_and_distinct() -> None:
    assert path_segment("rivers") == "rivers"
    odd = [path_segment(t) for t in ("Big Floods/2024", "big floods 2024", "../etc", "", "é")]
    assert len(set(odd)) == len(odd)
    for segment in odd:
        assert "/" not in segment and not segment.startswith(".") and segment


# --------------------------------------------------------------------------- RSS / Atom


@pytest.fixture
def published(tmp_path: Path) -> tuple[Settings, list[FeedEntry], list[FeedSpec]]:
    settings = settings_for(tmp_path, feed_size=4)
    entries = [make_entry(n) for n in range(6)] + [make_entry(7, GAZETTE, categories=())]
    specs = plan(entries, settings)
    write_output(specs, settings)
    return settings, entries, specs


@pytest.mark.parametrize("ext", ["rss", "atom"])
def test_feeds_parse_back(
    published: tuple[Settings, list[FeedEntry], list[FeedSpec]], ext: str
) -> None:
    settings, entries, _ = published
    parsed = parse(settings.output_dir / f"sources/courier.{ext}")
    assert parsed.version == ("rss20" if ext == "rss" else "atom10")
    assert parsed.feed.title == "Lakeside Courier"
    assert parsed.feed.get("subtitle") == "Articles from Lakeside Courier"
    self_links = [ln.href for ln in parsed.feed.links if ln.rel == "self"]
    assert self_links == [f"{BASE}sources/courier.{ext}"]
    html_links = [ln.href for ln in parsed.feed.links if ln.rel == "alternate"]
    assert html_links == [f"{BASE}sources/courier.html"]  # the source's own page
    expected = sorted(entries[:6], key=lambda e: e.published, reverse=True)[:4]
    assert [e.id for e in parsed.entries] == [e.guid for e in expected]
    assert to_datetime(parsed.feed.updated_parsed) == expected[0].updated
    first, want = parsed.entries[0], expected[0]
    assert first.title == want.title
    assert first.link == want.link
    assert to_datetime(first.published_parsed) == want.published
    assert [t.term for t in first.tags] == list(want.categories)
    assert first.content[0].value == want.content_html
    assert first.summary == want.summary
    assert first.author == "Reporter 5"
    assert first.source.get("title") == "Lakeside Courier"


def test_rss_specifics(published: tuple[Settings, list[FeedEntry], list[FeedSpec]]) -> None:
    settings, entries, _ = published
    parsed = parse(settings.output_dir / "all.rss")
    gazette = parsed.entries[0]
    assert gazette.id == entries[6].guid
    assert gazette.guidislink is False
    # a file source has no http feed URL to cite: feedsvc's own feed of it stands in
    assert gazette.source.href == BASE + "sources/gazette.rss"
    courier = parsed.entries[1]
    assert courier.source.href == COURIER.url
    assert courier.source.title == COURIER.title
    raw = (settings.output_dir / "all.rss").read_bytes()
    assert b'isPermaLink="false"' in raw
    assert b"<content:encoded>" in raw


def test_atom_specifics(published: tuple[Settings, list[FeedEntry], list[FeedSpec]]) -> None:
    settings, entries, _ = published
    parsed = parse(settings.output_dir / "all.atom")
    first = parsed.entries[0]
    assert first.content[0].type == "text/html"
    assert to_datetime(first.updated_parsed) == entries[6].updated
    gazette = next(e for e in parsed.entries if e.id == entries[6].guid)
    assert gazette.source.title == "Harbour Gazette"
    courier = next(e for e in parsed.entries if e.id != entries[6].guid)
    assert [ln.href for ln in courier.source.links] == [COURIER.url]


def test_empty_feed_has_fixed_timestamp(
    published: tuple[Settings, list[FeedEntry], list[FeedSpec]],
) -> None:
    settings, _, _ = published
    empty = FeedSpec("tags/quiet", "Tag: quiet", "Nothing", "tag", ())
    files = render_files([empty], settings)
    atom = feedparser.parse(files["tags/quiet.atom"])
    rss = feedparser.parse(files["tags/quiet.rss"])
    assert atom.bozo == 0 and rss.bozo == 0
    assert atom.feed.updated == "2000-01-01T00:00:00+00:00"  # fixed; before 1990 is implausible
    assert to_datetime(rss.feed.updated_parsed) == datetime(2000, 1, 1, tzinfo=UTC)
    assert json.loads(files["tags/quiet.json"])["items"] == []


def test_related_links_in_every_format(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    related = (
        RelatedLink("Harbour Gazette", "Ferry timetable shifts", "https://gazette.example.test/f"),
        RelatedLink("Valley Post", "Ferries change", None),
    )
    entry = make_entry(1, related=related)
    files = render_files([FeedSpec("all", "All", "Everything", "all", (entry,))], settings)
    atom = feedparser.parse(files["all.atom"]).entries[0]
    assert [ln.href for ln in atom.links if ln.rel == "related"] == [related[0].url]
    assert atom.link == entry.link
    block = (
        '<p class="also-reported">Also reported by: '
        '<a href="https://gazette.example.test/f">Harbour Gazette</a> (Ferry timetable shifts), '
        "Valley Post (Ferries change)</p>"
    )
    assert atom.content[0].value.endswith(block)
    rss = feedparser.parse(files["all.rss"]).entries[0]
    assert rss.content[0].value.endswith(block)
    item = json.loads(files["all.json"])["items"][0]
    assert item["content_html"].endswith(block)
    assert item["_feedsvc"]["also_reported_by"] == [
        {"outlet": "Harbour Gazette", "title": "Ferry timetable shifts", "url": related[0].url},
        {"outlet": "Valley Post", "title": "Ferries change", "url": None},
    ]


# --------------------------------------------------------------------------- JSON Feed, OPML, index


def test_json_feed_fields(published: tuple[Settings, list[FeedEntry], list[FeedSpec]]) -> None:
    settings, entries, _ = published
    feed = json.loads((settings.output_dir / "sources/courier.json").read_bytes())
    assert feed["version"] == "https://jsonfeed.org/version/1.1"
    assert feed["title"] == "Lakeside Courier"
    assert feed["home_page_url"] == f"{BASE}sources/courier.html"
    assert feed["feed_url"] == f"{BASE}sources/courier.json"
    items = feed["items"]
    assert len(items) == 4
    assert [i["id"] for i in items] == [e.guid for e in reversed(entries[2:6])]
    first = items[0]
    assert {"id", "url", "title", "content_html", "summary"} <= first.keys()
    assert first["date_published"] == "2024-05-01T13:00:00Z"
    assert first["date_modified"] == "2024-05-01T13:30:00Z"
    assert first["authors"] == [{"name": "Reporter 5"}]
    assert first["tags"] == ["ferries", "route-5"]
    for item in items:
        assert isinstance(item["id"], str) and ("content_html" in item or "content_text" in item)


def test_opml_lists_every_feed(
    published: tuple[Settings, list[FeedEntry], list[FeedSpec]],
) -> None:
    settings, _, specs = published
    root = ET.fromstring((settings.output_dir / "feeds.opml").read_bytes())
    assert root.tag == "opml" and root.get("version") == "2.0"
    assert root.find("head/title") is not None
    assert root.find("head/dateCreated") is None
    groups = root.findall("body/outline")
    assert [g.get("text") for g in groups] == ["All", "Sources", "Tags"]
    feeds = [o for g in groups for o in g.findall("outline")]
    assert len(feeds) == len(specs)
    assert {o.get("xmlUrl") for o in feeds} == {f"{BASE}{s.path}.rss" for s in specs}
    pages = {f"{BASE}{s.path}.rss": f"{BASE}{s.path}.html" for s in specs}
    pages[f"{BASE}all.rss"] = f"{BASE}index.html"
    for outline in feeds:
        assert outline.get("type") == "rss"
        assert outline.get("text") and outline.get("title")
        assert outline.get("htmlUrl") == pages[outline.get("xmlUrl")]  # the feed's own page


class PageParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.head_links: list[dict[str, str | None]] = []
        self.anchors: list[str | None] = []
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag == "link" and "head" in self.stack:
            self.head_links.append(dict(attrs))
        if tag == "a":
            self.anchors.append(dict(attrs).get("href"))
        if tag not in ("link", "meta"):
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if self.stack and self.stack[-1] == tag:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def read_page(path: Path) -> PageParser:
    page = PageParser()
    page.feed(path.read_text("utf-8"))
    page.close()
    return page


def test_index_html_autodiscovery(
    published: tuple[Settings, list[FeedEntry], list[FeedSpec]],
) -> None:
    """The front page advertises and links the story feeds; the directory links every source's."""
    settings, _, specs = published
    raw = (settings.output_dir / "index.html").read_text("utf-8")
    assert raw.startswith("<!DOCTYPE html>")
    page = read_page(settings.output_dir / "index.html")
    directory = read_page(settings.output_dir / "sources.html")
    assert "script" not in page.tags and "script" not in directory.tags
    alternates = {
        (ln["type"], ln["href"]) for ln in page.head_links if ln.get("rel") == "alternate"
    }
    advertised = set()
    for spec in specs:
        feeds = {
            ("application/rss+xml", f"{BASE}{spec.path}.rss"),
            ("application/atom+xml", f"{BASE}{spec.path}.atom"),
            ("application/feed+json", f"{BASE}{spec.path}.json"),
        }
        links = [f"{spec.path}.{ext}" for ext in ("rss", "atom", "json")]
        if spec.listing.kind == "source":  # its own page advertises it (test_pages)
            assert all(link in directory.anchors for link in links)
        else:
            assert feeds <= alternates and all(link in page.anchors for link in links)
            advertised |= feeds
    assert alternates == advertised
    assert {spec.listing.kind for spec in specs} == {"all", "source", "tag"}
    assert "feeds.opml" in page.anchors and "sources.html" in page.anchors
    assert "All stories: RSS · Atom · JSON Feed" in "".join(page.text)
    assert "Harbour Gazette: RSS · Atom · JSON Feed" in "".join(directory.text)


# --------------------------------------------------------------------------- determinism


def test_rewrite_is_byte_identical_and_unchanged(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    entries = [make_entry(n) for n in range(3)]
    first = write_output(plan(entries, settings), settings)
    assert first.unchanged == ()
    snapshot = {p: (settings.output_dir / p).read_bytes() for p in first.written}
    again = write_output(plan(list(entries), settings), settings)
    assert again.written == ()
    assert sorted(again.unchanged) == sorted(first.written)
    assert {p: (settings.output_dir / p).read_bytes() for p in first.written} == snapshot


def test_equal_data_gives_equal_bytes_without_noise(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    one = render_files(plan([make_entry(n) for n in range(3)], settings), settings)
    two = render_files(plan([make_entry(n) for n in range(3)], settings), settings)
    assert one == two
    for data in one.values():
        assert b"python-feedgen" not in data
        assert b'version="1.0.0"' not in data


def test_one_changed_entry_rewrites_only_affected_files(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    entries = [make_entry(n) for n in range(3)] + [make_entry(5, GAZETTE, categories=("docks",))]
    write_output(plan(entries, settings), settings)
    changed = [*entries[:3], dataclasses.replace(entries[3], title="Docks reopen after storm")]
    result = write_output(plan(changed, settings), settings)
    assert sorted(result.written) == sorted(
        f"{path}.{ext}"
        for path in ("all", "sources/gazette", "tags/docks")
        for ext in ("rss", "atom", "json")
    )
    assert "index.html" in result.unchanged and "feeds.opml" in result.unchanged
    assert "sources/courier.rss" in result.unchanged


def test_stale_feed_files_removed_nothing_else(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    entries = [make_entry(n) for n in range(2)]
    write_output(plan(entries, settings), settings)
    out = settings.output_dir
    keepers = [out / "tags/notes.txt", out / "orphan.rss", out / "extra/old.atom"]
    for keeper in keepers:
        keeper.parent.mkdir(parents=True, exist_ok=True)
        keeper.write_text("keep me")
    assert (out / "tags/route-1.rss").exists()
    result = write_output(plan(entries[:1], settings), settings)
    assert not any((out / f"tags/route-1.{ext}").exists() for ext in ("rss", "atom", "json"))
    assert (out / "tags/route-0.rss").exists()
    assert set(result.removed) == {f"tags/route-1.{ext}" for ext in ("rss", "atom", "json")}
    assert all(k.read_text() == "keep me" for k in keepers)
    assert "index.html" in result.written
    removed_source = write_output(plan(entries[:1], settings, sources=(COURIER,)), settings)
    assert not (out / "sources/gazette.json").exists()
    assert "feeds.opml" in removed_source.written


# --------------------------------------------------------------------------- hostile text


def test_hostile_strings_are_escaped_and_parse(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    hostile = SourceConfig(
        name="bad",
        title="Tide & <Times>\x0b",
        kind="feed",
        url="https://tide.example.test/feed",
    )
    entry = make_entry(
        1,
        hostile,
        title="<script>alert('x')</script> Q&A \x00\x1f<b>bold</b>",
        summary="5 < 6 & 7 > 2\x08",
        authors=("Eve <eve@example.test>\x01",),
        categories=("<tag>", "a&b\x02"),
        related=(
            RelatedLink("<Outlet> & Co\x03", '"quoted" <i>title</i>', "https://x.example.test/"),
        ),
    )
    specs = plan([entry], settings, sources=(hostile,))
    write_output(specs, settings)
    out = settings.output_dir
    for ext in ("rss", "atom"):
        parsed = parse(out / f"all.{ext}")
        got = parsed.entries[0]
        assert "alert" in got.title and "Q&A" in got.title
        assert "\x00" not in got.title and "\x1f" not in got.title
        raw = (out / f"all.{ext}").read_bytes()
        assert b"<script>" not in raw and b"\x00" not in raw and b"\x0b" not in raw
    content = parse(out / "all.atom").entries[0].content[0].value
    assert "&lt;Outlet&gt; &amp; Co" in content
    assert "&quot;quoted&quot; &lt;i&gt;title&lt;/i&gt;" in content
    item = json.loads((out / "all.json").read_bytes())["items"][0]
    assert item["title"] == "<script>alert('x')</script> Q&A <b>bold</b>"
    assert item["tags"] == ["<tag>", "a&b"]
    index = read_page(out / "index.html")
    assert "script" not in index.tags and "b" not in index.tags
    directory = read_page(out / "sources.html")
    assert "script" not in directory.tags and "b" not in directory.tags
    assert "Tide & <Times>" in "".join(directory.text)
    (listing,) = [spec.listing for spec in specs if spec.listing.kind == "source"]
    (own,) = render_page(source_page(listing, hostile, [], {}, "sources.html"), settings)
    (tmp_path / "own.html").write_bytes(own[1])
    titles = [ln.get("title") for ln in read_page(tmp_path / "own.html").head_links]
    assert "Tide & <Times> (RSS)" in titles
    opml = ET.fromstring((out / "feeds.opml").read_bytes())
    assert "Tide & <Times>" in [o.get("text") for o in opml.iter("outline")]


def test_the_memos_shared_by_a_feeds_formats_change_no_byte_and_end_with_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = settings_for(tmp_path)
    hostile = dataclasses.replace(COURIER, title="Tide\x0b & Co")
    entries = [
        make_entry(n, hostile, title=f"Q&A \x00{n}", content_html=f"<p>a\x1fb {n % 3}</p>")
        for n in range(12)
    ]
    specs = plan(entries, settings, sources=(hostile,))
    with_memo = [render_output(spec, settings) for spec in specs]
    assert text.xml_text.cache_info().currsize == 0  # each feed's strings went with it
    assert text.is_http.cache_info().currsize == 0
    plain_text, plain_http = text.xml_text.__wrapped__, text.is_http.__wrapped__
    for module in (text, syndication, jsonfeed):
        monkeypatch.setattr(module, "xml_text", plain_text, raising=False)
        monkeypatch.setattr(module, "is_http", plain_http, raising=False)
    without = [render_output(spec, settings) for spec in specs]
    assert with_memo == without
    assert all(b"\x00" not in data and b"\x1f" not in data for r in with_memo for _, data in r)


# --------------------------------------------------------------------------- atomic writes


def test_write_if_changed_writes_once(tmp_path: Path) -> None:
    target = tmp_path / "deep" / "er" / "file.xml"
    assert write_if_changed(target, b"one") is True
    assert write_if_changed(target, b"one") is False
    assert write_if_changed(target, b"two") is True
    assert target.read_bytes() == b"two"
    assert oct(target.stat().st_mode & 0o777) == oct(0o644)
    assert files_in(tmp_path) == ["deep/er/file.xml"]


def test_failed_replace_leaves_no_temp_file(tmp_path: Path) -> None:
    blocker = tmp_path / "feed.rss"
    blocker.mkdir()  # a directory where the file should go: os.replace fails
    with pytest.raises(PublishError, match=r"feed\.rss"):
        write_if_changed(blocker, b"<rss/>")
    assert files_in(tmp_path) == []
    assert [p.name for p in tmp_path.iterdir()] == ["feed.rss"]


def test_file_in_place_of_directory_raises_publish_error(tmp_path: Path) -> None:
    (tmp_path / "tags").write_text("not a directory")
    with pytest.raises(PublishError):
        write_if_changed(tmp_path / "tags" / "x.rss", b"<rss/>")
    assert files_in(tmp_path) == ["tags"]


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root ignores modes")
def test_read_only_directory_leaves_no_temp_file(tmp_path: Path) -> None:
    target = tmp_path / "ro" / "all.rss"
    target.parent.mkdir()
    target.write_bytes(b"old")
    target.parent.chmod(0o555)
    try:
        with pytest.raises(PublishError):
            write_if_changed(target, b"new")
    finally:
        target.parent.chmod(0o755)
    assert target.read_bytes() == b"old"
    assert [p.name for p in target.parent.iterdir()] == ["all.rss"]


def test_write_output_error_in_place_of_a_feed(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    (settings.output_dir / "all.atom").mkdir(parents=True)
    with pytest.raises(PublishError, match=r"all\.atom"):
        write_output(plan([make_entry(1)], settings), settings)
    leftovers = [p for p in files_in(settings.output_dir) if p.rsplit("/", 1)[-1].startswith(".")]
    assert leftovers == []


def test_rendering_failure_writes_nothing(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    write_output(plan([make_entry(1)], settings), settings)
    before = {p: (settings.output_dir / p).read_bytes() for p in files_in(settings.output_dir)}
    naive = make_entry(2, updated=datetime(2024, 5, 2, 9, 0))  # naive: a caller bug
    specs = [
        FeedSpec("all", "All", "Everything", "all", (make_entry(3),)),
        FeedSpec("tags/broken", "Broken", "Fails to render", "tag", (naive,)),
    ]
    with pytest.raises(ValueError, match="naive"):
        write_output(specs, settings)
    after = {p: (settings.output_dir / p).read_bytes() for p in files_in(settings.output_dir)}
    assert after == before


@pytest.mark.parametrize("path", ["../escape", "/abs", "tags/../../x", "tags/.hidden", ""])
def test_unsafe_spec_paths_rejected(tmp_path: Path, path: str) -> None:
    settings = settings_for(tmp_path)
    with pytest.raises(PublishError, match="unsafe"):
        write_output([FeedSpec(path, "T", "D", "tag", ())], settings)
    assert not settings.output_dir.exists()


def test_duplicate_spec_paths_rejected(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    spec = FeedSpec("tags/x", "T", "D", "tag", ())
    with pytest.raises(PublishError, match="share"):
        write_output([spec, spec], settings)


# --------------------------------------------------------------------------- WebSub


def test_websub_hub_is_advertised_in_every_format(tmp_path: Path) -> None:
    hub = "https://hub.example.test/"
    settings = dataclasses.replace(settings_for(tmp_path), websub_hub=hub)
    specs = plan([make_entry(1)], settings)
    files = render_files(specs, settings)
    atom_ns = "{http://www.w3.org/2005/Atom}"
    rss = ET.fromstring(files["all.rss"]).find("channel")
    assert rss is not None
    rss_links = [(link.get("rel"), link.get("href")) for link in rss.iter(f"{atom_ns}link")]
    assert rss_links == [("self", f"{BASE}all.rss"), ("hub", hub)]
    atom = ET.fromstring(files["all.atom"])
    assert ("hub", hub) in [(link.get("rel"), link.get("href")) for link in atom.iter()]
    feed = json.loads(files["all.json"])
    assert feed["hubs"] == [{"type": "WebSub", "url": hub}]
    assert list(feed)[-1] == "items" and feed["items"]
    assert parsed_hub(files["all.atom"]) == hub

    plain = render_files(specs, settings_for(tmp_path))
    assert b"hub" not in plain["all.rss"] and b"hub" not in plain["all.atom"]
    assert "hubs" not in json.loads(plain["all.json"])


def parsed_hub(data: bytes) -> str | None:
    links = feedparser.parse(data).feed.get("links", [])
    return next((link["href"] for link in links if link.get("rel") == "hub"), None)


def test_changed_feed_urls_names_only_feeds(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    written = ["all.atom", "index.html", "feeds.opml", "sources/courier.rss", "tags/x.json"]
    assert changed_feed_urls(written, settings) == [
        f"{BASE}all.atom",
        f"{BASE}sources/courier.rss",
        f"{BASE}tags/x.json",
    ]

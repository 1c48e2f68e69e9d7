"""Odd text and odd documents, each with its outcome named in the test's name or docstring."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import feedparser
import lxml.etree
import pytest

from feedsvc.errors import ExtractError
from feedsvc.extract import extract
from feedsvc.extract.page import MAX_PAGE_BYTES, MAX_PAGE_CHARS
from feedsvc.normalise import TITLE_MAX, normalise
from feedsvc.service import Service
from feedsvc.types import Article, Document, SourceConfig
from tests.support.configs import write_config

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
SOURCE = SourceConfig(name="odd", title="Odd", kind="feed", url="https://odd.example/feed")
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
HEADER = re.compile(rb"^Header:\s*([A-Za-z-]+):\s*(.+?)\s*$", re.MULTILINE)


def item(title: str, *, guid: str | None = "g1", link: str | None = None, date: str = "") -> str:
    parts = [f"<title>{title}</title>"]
    if guid is not None:
        parts.append(f"<guid isPermaLink='false'>{guid}</guid>")
    if link is not None:
        parts.append(f"<link>{link}</link>")
    if date:
        parts.append(f"<pubDate>{date}</pubDate>")
    parts.append("<description>The quayside ferry runs again from Port Wendel.</description>")
    return "<item>" + "".join(parts) + "</item>"


def rss(*items: str, encoding: str = "utf-8") -> bytes:
    text = (
        f'<?xml version="1.0" encoding="{encoding}"?><rss version="2.0"><channel>'
        f"<title>Odd</title>{''.join(items)}</channel></rss>"
    )
    return text.encode(encoding, errors="xmlcharrefreplace")


def articles(body: bytes, headers: dict[str, str] | None = None) -> list[Article]:
    document = Document("https://odd.example/feed", body, None, headers or {})
    return [normalise(raw, SOURCE, NOW) for raw in extract(document, "feed").entries]


def run_file_feed(tmp_path: Path, body: bytes, **settings: object) -> Path:
    feed = tmp_path / "in" / "odd.xml"
    feed.parent.mkdir(exist_ok=True)
    feed.write_bytes(body)
    config = write_config(
        tmp_path, [{"name": "odd", "kind": "feed", "path": str(feed)}], **settings
    )
    result = Service.from_path(config).run_once(force=True, workers=1)
    assert [s.status for s in result.sources] == ["ok"], result.sources
    return tmp_path / "output"


def published_strictly(output: Path) -> None:
    """Every published XML file parses with a strict parser; every JSON Feed loads."""
    for path in output.rglob("*"):
        if path.suffix in {".rss", ".atom", ".opml"}:
            lxml.etree.fromstring(path.read_bytes())
        elif path.suffix == ".json":
            json.loads(path.read_bytes())


# --------------------------------------------------------------------------- encodings


@pytest.mark.shared
def test_every_encoding_case_of_the_torture_corpus_reads_to_clean_text(shared_dir: Path) -> None:
    """Outcome: entries, or a clear ExtractError; no control characters in what is kept."""
    folder = shared_dir / "torture" / "feedparser" / "encoding"
    files = sorted(folder.glob("*.xml"))
    assert len(files) > 70
    read = 0
    for path in files:
        body = path.read_bytes()
        headers = {k.decode(): v.decode("latin-1") for k, v in HEADER.findall(body[:2000])}
        try:
            found = articles(body, headers)
        except ExtractError:
            continue
        read += 1
        for article in found:
            for text in (article.title, article.text, article.summary):
                assert not CONTROL.search(text), (path.name, text[:80])
    assert read > 0.9 * len(files)


def test_utf8_with_a_few_invalid_bytes_keeps_its_text() -> None:
    """Outcome: the bad bytes become U+FFFD; the rest stays UTF-8 (not cp1252 mojibake)."""
    body = rss(item("Fähren fahren wieder")).replace(b"fahren", b"fa\xff\xfehren")
    [article] = articles(body)
    assert article.title == "Fähren fa\ufffd\ufffdhren wieder"


def test_cp1252_declared_as_utf8_is_read_as_cp1252() -> None:
    body = rss(item("Fähren “fahren” wieder")).replace(
        "Fähren “fahren”".encode(), "Fähren “fahren”".encode("cp1252")
    )
    [article] = articles(body)
    assert article.title == "Fähren “fahren” wieder"


def test_utf8_labelled_latin1_by_the_server_is_still_utf8() -> None:
    [article] = articles(rss(item("Fähren")), {"content-type": "text/xml; charset=iso-8859-1"})
    assert article.title == "Fähren"


@pytest.mark.parametrize(
    "encoding", ["utf-16", "utf-16-be", "utf-32", "koi8-r", "shift_jis", "gb2312"]
)
def test_declared_encodings_are_read(encoding: str) -> None:
    title = {"koi8-r": "Паром", "shift_jis": "フェリー", "gb2312": "渡轮"}.get(encoding, "Fähre")
    body = rss(item(title), encoding=encoding)
    [article] = articles(body)
    assert article.title == title


def test_an_unknown_encoding_name_falls_back_to_utf8() -> None:
    [article] = articles(rss(item("Fähren")).replace(b'encoding="utf-8"', b'encoding="x-klingon"'))
    assert article.title == "Fähren"


# --------------------------------------------------------------------------- characters


def test_control_characters_are_removed_and_the_published_xml_is_valid(tmp_path: Path) -> None:
    body = rss(item("Bell\x07 and \x1b[31mescape\x00", guid="c1")).replace(
        b"The quayside", b"The \x01quay\x0bside"
    )
    output = run_file_feed(tmp_path, body)
    published_strictly(output)
    entry = feedparser.parse((output / "sources" / "odd.rss").read_bytes()).entries[0]
    assert entry.title == "Bell and [31mescape"
    assert "\x01" not in entry.description and "quayside" in entry.description


def test_bidi_overrides_are_removed_from_titles_and_marks_kept() -> None:
    """Outcome: U+202E (which makes "gpj.exe" show as "exe.jpg") goes; RLM and Arabic stay."""
    [article] = articles(rss(item("Invoice \u202egpj.exe\u202c \u200fمرحبا")))
    assert article.title == "Invoice gpj.exe \u200fمرحبا"


def test_a_100kb_title_is_shortened(tmp_path: Path) -> None:
    long_title = " ".join(["Harbour"] * 14_000)  # about 100 kB
    [article] = articles(rss(item(long_title)))
    assert len(article.title) <= TITLE_MAX and article.title.endswith("…")
    output = run_file_feed(tmp_path, rss(item(long_title)))
    assert (output / "sources" / "odd.rss").stat().st_size < 20_000


# --------------------------------------------------------------------------- entries


def test_entries_without_ids_links_or_dates_are_kept_with_made_up_ones() -> None:
    """Outcome: a content-hash id, no URL, dated now and marked estimated; equal ones are one."""
    body = rss(
        item("No id one", guid=None), item("No id two", guid=None), item("No id one", guid=None)
    )
    found = articles(body)
    assert len({a.id for a in found}) == 2
    assert all(a.url is None and a.date_estimated and a.published == NOW for a in found)


def test_duplicate_ids_in_one_feed_store_one_article_the_last(tmp_path: Path) -> None:
    body = rss(item("First version", guid="same"), item("Second version", guid="same"))
    output = run_file_feed(tmp_path, body)
    entries = feedparser.parse((output / "sources" / "odd.rss").read_bytes()).entries
    assert [e.title for e in entries] == ["Second version"]


@pytest.mark.parametrize(
    "date",
    [
        "Mon, 01 Jan 1900 00:00:00 GMT",
        "Wed, 01 Jan 3000 00:00:00 GMT",
        "Mon, 01 Jan 0001 00:00:00 GMT",
        "Fri, 31 Dec 9999 23:59:59 GMT",
        "1900-01-01T00:00:00Z",
        "Thu, 01 Jan 1970 00:00:00 GMT",
    ],
)
def test_implausible_dates_are_replaced_by_now_and_marked_estimated(date: str) -> None:
    [article] = articles(rss(item("Dated oddly", date=date)))
    assert (article.published, article.date_estimated) == (NOW, True)


def test_a_date_a_week_ahead_is_clamped_to_now() -> None:
    ahead = (NOW + timedelta(days=7)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    [article] = articles(rss(item("From the future", date=ahead)))
    assert (article.published, article.date_estimated) == (NOW, True)


def test_odd_dates_go_through_a_whole_run(tmp_path: Path) -> None:
    items = [item(f"Dated {d}", guid=f"d{d}", date=f"Mon, 01 Jan {d} 00:00:00 GMT")
             for d in ("0001", "1900", "3000", "9999")]  # fmt: skip
    published_strictly(run_file_feed(tmp_path, rss(*items)))


@pytest.mark.slow
def test_a_10000_entry_feed_is_stored_whole_and_published_bounded(tmp_path: Path) -> None:
    items = [item(f"Report {n} from the quayside", guid=f"n{n}") for n in range(10_000)]
    output = run_file_feed(tmp_path, rss(*items), feed_size=50)
    with Service.from_path(tmp_path / "sources.yaml").open_store() as store:
        assert len(store.recent_articles(20_000, source="odd")) == 10_000
    assert len(feedparser.parse((output / "sources" / "odd.rss").read_bytes()).entries) == 50


# --------------------------------------------------------------------------- article pages


def page(body: str, head: str = "") -> Document:
    html = f"<html><head><title>Harbour</title>{head}</head><body>{body}</body></html>"
    return Document("https://odd.example/story", html.encode(), "text/html")


def test_a_page_in_json_ld_only_is_read_from_its_json_ld() -> None:
    text = " ".join(
        f"Sentence {n} of the council report on the quayside flood wall." for n in range(12)
    )
    data = {"@context": "https://schema.org", "@type": "NewsArticle", "headline": "Flood wall",
            "datePublished": "2026-11-03T10:00:00Z", "articleBody": text}  # fmt: skip
    script = f'<script type="application/ld+json">{json.dumps(data)}</script>'
    [entry] = extract(page('<div id="app"></div>', head=script), "page").entries
    assert entry.published == datetime(2026, 11, 3, 10, tzinfo=UTC)
    assert entry.content is not None and "Sentence 11 of the council report" in entry.content


def test_a_page_that_is_a_list_of_links_is_no_article() -> None:
    links = "".join(f'<li><a href="/s{n}">Story {n}</a></li>' for n in range(200))
    with pytest.raises(ExtractError, match="mostly links"):
        extract(page(f"<nav><a href='/'>Home</a></nav><ul>{links}</ul>"), "page")


@pytest.mark.parametrize(
    "body",
    ["", "<div></div>" * 1000, "<p>404 Not Found</p>", "<div>" * 50_000 + "x" + "</div>" * 50_000],
)
def test_pages_without_an_article_are_a_clear_error(body: str) -> None:
    with pytest.raises(ExtractError, match=r"^no article in page: "):
        extract(page(body), "page")


def test_a_huge_page_is_refused_before_extraction() -> None:
    paragraphs = "<p>Paragraph about the quayside works and the ferry.</p>" * 50_000
    huge = page(f"<article>{paragraphs}</article>")
    assert len(huge.body) > MAX_PAGE_CHARS
    with pytest.raises(ExtractError, match=f"more than {MAX_PAGE_CHARS}"):
        extract(huge, "page")
    with pytest.raises(ExtractError, match=f"more than {MAX_PAGE_BYTES}"):
        extract(page("x" * MAX_PAGE_BYTES), "page")


def test_scripts_and_styles_do_not_count_towards_the_page_limit() -> None:
    """Outcome: a bloated page (3 MB of inline script) with a real article is read."""
    text = " ".join(f"Sentence {n} of the report on the quayside flood wall." for n in range(30))
    bloat = "<script>var state = '" + "x" * 3_000_000 + "';</script><style>p{}</style>"
    [entry] = extract(
        page(f"{bloat}<article><h1>Flood wall</h1><p>{text}</p></article>"), "page"
    ).entries
    assert entry.content is not None and "Sentence 29" in entry.content

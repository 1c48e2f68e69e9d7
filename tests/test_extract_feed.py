"""Feed extraction: golden fixtures, feedparser's sharp edges, the torture corpus, routing."""

from __future__ import annotations

import re
import signal
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import feedparser.mixin
import feedparser.urls
import pytest

from feedsvc.config_types import SourceConfig
from feedsvc.errors import ExtractError
from feedsvc.extract import extract, reader_for_file
from feedsvc.extract._dates import from_struct_time, parse_iso
from feedsvc.extract.feed import feedparser_headers, parse_feed
from feedsvc.normalise import normalise
from feedsvc.types import Document
from tests.fixtures.extract import golden
from tests.support.httpserver import LoopbackServer

FEEDS = golden.fixtures("feed")


def rss(items: str, channel: str = "<title>Kestrel Bay Courier</title>") -> bytes:
    head = '<?xml version="1.0" encoding="utf-8"?><rss version="2.0">'
    return f"{head}<channel>{channel}{items}</channel></rss>".encode()


# --------------------------------------------------------------------------- golden


@pytest.mark.parametrize("path", FEEDS, ids=[p.name for p in FEEDS])
def test_golden(path: Path) -> None:
    golden.check(parse_feed, path)


def test_golden_set_covers_every_format() -> None:
    names = {p.name for p in FEEDS}
    assert {"rss20_full.xml", "atom10_dates.xml", "atom03.xml", "rss10_rdf.xml"} <= names
    assert {"cdf_channel.xml", "jsonfeed11.json", "malformed_usable.xml", "html_page.html"} <= names


def test_extract_with_kind_feed_is_parse_feed() -> None:
    path = golden.ROOT / "feed" / "rss20_full.xml"
    assert extract(golden.document(path), "feed") == parse_feed(golden.document(path))


# --------------------------------------------------------------------------- dates


def atom_entry(dates: str) -> bytes:
    return (
        '<feed xmlns="http://www.w3.org/2005/Atom"><title>Post</title>'
        f"<entry><id>tag:x,2025:1</id><title>One</title>{dates}</entry></feed>"
    ).encode()


def test_published_only_leaves_updated_empty() -> None:
    entry = parse_feed(
        Document("http://x/", atom_entry("<published>2025-11-04T07:15:00+01:00</published>"))
    ).entries[0]
    assert entry.published == datetime(2025, 11, 4, 6, 15, tzinfo=UTC)
    assert entry.updated is None


def test_updated_only_leaves_published_empty() -> None:
    entry = parse_feed(
        Document("http://x/", atom_entry("<updated>2025-11-05T08:00:00Z</updated>"))
    ).entries[0]
    assert entry.published is None
    assert entry.updated == datetime(2025, 11, 5, 8, 0, tzinfo=UTC)


def test_nonsense_and_out_of_range_dates_become_none() -> None:
    items = "".join(
        f"<item><title>t{i}</title><pubDate>{d}</pubDate></item>"
        for i, d in enumerate(
            ["yesterday-ish", "Mon, 01 Jan 1900 00:00:00 GMT", "Fri, 01 Jan 2300 00:00:00 GMT"]
        )
    )
    assert [e.published for e in parse_feed(Document("http://x/", rss(items))).entries] == [
        None,
        None,
        None,
    ]


def test_date_helpers_never_raise() -> None:
    assert from_struct_time(time.gmtime(0)) is None  # 1970: before EARLIEST
    assert from_struct_time((2026, 1, 13)) is None
    assert from_struct_time(time.struct_time((99999, 1, 1, 0, 0, 0, 0, 1, 0))) is None
    assert parse_iso("2026-01-13T08:30:00+09:00") == datetime(2026, 1, 12, 23, 30, tzinfo=UTC)
    assert parse_iso("2026-01-13") == datetime(2026, 1, 13, tzinfo=UTC)
    assert parse_iso("13/01/2026") is None
    assert parse_iso(None) is None


# --------------------------------------------------------------------------- entries


def test_text_plain_content_is_labelled_plain() -> None:
    body = (
        b'<feed xmlns="http://www.w3.org/2005/Atom"><title>x</title><entry><title>t</title>'
        b'<content type="text">a &lt;b&gt; c</content></entry></feed>'
    )
    entry = parse_feed(Document("http://x/", body)).entries[0]
    assert (entry.content, entry.content_type) == ("a <b> c", "text/plain")


def test_plain_summary_beside_html_content_is_escaped() -> None:
    body = (
        b'<feed xmlns="http://www.w3.org/2005/Atom"><title>x</title><entry><title>t</title>'
        b'<summary type="text">1 &lt; 2</summary>'
        b'<content type="html">&lt;p&gt;body&lt;/p&gt;</content>'
        b"</entry></feed>"
    )
    entry = parse_feed(Document("http://x/", body)).entries[0]
    assert (entry.summary, entry.content, entry.content_type) == (
        "1 &lt; 2",
        "<p>body</p>",
        "text/html",
    )


def test_html_content_preferred_over_longer_plain_content() -> None:
    body = (
        b'<feed xmlns="http://www.w3.org/2005/Atom"><title>x</title><entry><title>t</title>'
        b'<content type="text">a much longer plain text version of the body</content>'
        b'<content type="html">&lt;p&gt;short&lt;/p&gt;</content></entry></feed>'
    )
    entry = parse_feed(Document("http://x/", body)).entries[0]
    assert entry.content == "<p>short</p>"


def test_guid_blank_is_none_and_authors_fall_back_to_email() -> None:
    items = "<item><title>t</title><guid>   </guid><author>desk@example.org</author></item>"
    entry = parse_feed(Document("http://x/", rss(items))).entries[0]
    assert entry.guid is None
    assert entry.authors == ("desk@example.org",)


def test_author_with_long_top_level_domain_keeps_its_name() -> None:
    items = "<item><title>t</title><author>desk@courier.example (Weather Desk)</author></item>"
    assert parse_feed(Document("http://x/", rss(items))).entries[0].authors == ("Weather Desk",)


def test_relative_links_resolve_against_the_document_url() -> None:
    items = "<item><title>t</title><link>/news/1</link></item>"
    entry = parse_feed(Document("https://courier.example/feeds/all.xml", rss(items))).entries[0]
    assert entry.link == "https://courier.example/news/1"
    assert entry.base_url == "https://courier.example/feeds/all.xml"


def test_content_location_header_wins_over_the_document_url() -> None:
    items = "<item><title>t</title><link>news/1</link></item>"
    headers = {"content-location": "https://mirror.example/feeds/"}
    entry = parse_feed(
        Document("https://courier.example/all.xml", rss(items), headers=headers)
    ).entries[0]
    assert entry.link == "https://mirror.example/feeds/news/1"


# --------------------------------------------------------------------------- encoding and headers


def test_charset_from_the_content_type_header() -> None:
    body = "<rss version='2.0'><channel><title>Café Gazette</title></channel></rss>".encode(
        "latin-1"
    )
    headers = {"content-type": "application/rss+xml; charset=iso-8859-1"}
    extracted = parse_feed(Document("http://x/", body, headers=headers))
    assert extracted.title == "Café Gazette"
    assert extracted.warnings == ()


def test_undeclared_utf8_without_content_type_is_read_as_utf8() -> None:
    body = "<rss version='2.0'><channel><title>Dunmore’s news</title></channel></rss>".encode()
    extracted = parse_feed(Document("http://x/", body))
    assert (extracted.title, extracted.warnings) == ("Dunmore’s news", ())


def test_text_xml_without_charset_raises_no_spurious_warning() -> None:
    body = "<rss version='2.0'><channel><title>Dunmore’s news</title></channel></rss>".encode()
    extracted = parse_feed(Document("http://x/", body, headers={"content-type": "text/xml"}))
    assert (extracted.title, extracted.warnings) == ("Dunmore’s news", ())


def test_feedparser_headers_add_location_and_type() -> None:
    headers = feedparser_headers(Document("http://x/a.xml", b"", headers={"ETag": '"1"'}))
    assert headers == {
        "etag": '"1"',
        "content-location": "http://x/a.xml",
        "content-type": "application/xml",
    }


# --------------------------------------------------------------------------- usability


def test_malformed_but_usable_feed_warns() -> None:
    extracted = parse_feed(golden.document(golden.ROOT / "feed" / "malformed_usable.xml"))
    assert len(extracted.entries) == 1
    assert extracted.warnings[0].startswith("malformed feed, ingested anyway: ")


def test_well_formed_feed_without_entries_is_fine() -> None:
    extracted = parse_feed(Document("http://x/", rss("")))
    assert (extracted.entries, extracted.warnings, extracted.title) == (
        (),
        (),
        "Kestrel Bay Courier",
    )


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"   \n",
        b"<html><body><p>hello</p></body></html>",
        b"\x89PNG\r\n\x1a\n\x00\x00",
        b"just some words",
    ],
    ids=["empty", "blank", "html", "binary", "prose"],
)
def test_unusable_documents_raise_extract_error(body: bytes) -> None:
    with pytest.raises(ExtractError, match=r"^not a usable feed: "):
        parse_feed(Document("http://x/", body))


@pytest.mark.parametrize(
    "body",
    [b"{not json", b'{"title": "x"}', b"[1, 2]", b"{" * 100_000],
    ids=["broken", "not-a-feed", "array", "deep"],
)
def test_bad_json_raises_extract_error(body: bytes) -> None:
    with pytest.raises(ExtractError, match=r"^not a usable feed: "):
        parse_feed(Document("http://x/", body, content_type="application/feed+json"))


def test_lone_surrogates_escaped_in_a_json_feed_become_replacement_characters() -> None:
    # "\\ud83d\\ude00" is a pair (one emoji); "\\ud800" and "\\udfff" are halves alone,
    # which no text encoding can carry: sanitising, storing or writing them failed.
    body = (
        b'{"version": "https://jsonfeed.org/version/1.1", "title": "Tide \\ud800 tables",'
        b' "items": [{"id": "i\\udfff1", "url": "https://tides.test/1",'
        b' "title": "Spring \\ud83d\\ude00 tide", "tags": ["sea\\ud800"],'
        b' "content_html": "<p>High water \\ud800\\udb00 at noon</p>",'
        b' "_ext\\udc00": {"deep": [["\\ud801"]]}}]}'
    )
    extracted = parse_feed(Document("http://x/", body, content_type="application/feed+json"))
    entry = extracted.entries[0]
    assert extracted.title == "Tide \ufffd tables"
    assert entry.title == "Spring \U0001f600 tide"
    assert entry.guid == "i\ufffd1"
    assert entry.categories == ("sea\ufffd",)
    assert entry.content is not None
    assert "High water \ufffd\ufffd at noon" in entry.content
    tides = SourceConfig(name="tides", title="Tides", kind="feed", url="https://tides.test/f")
    article = normalise(entry, tides, datetime(2026, 11, 3, tzinfo=UTC))
    assert "High water" in article.content_html
    article.content_html.encode("utf-8")  # nothing left that cannot be encoded


def test_body_holding_a_local_path_is_not_opened(tmp_path: Path) -> None:
    feed_file = tmp_path / "secret.xml"
    feed_file.write_bytes(rss("<item><title>secret</title></item>"))
    with pytest.raises(ExtractError):
        parse_feed(Document("http://x/", str(feed_file).encode()))


def test_body_holding_a_url_is_not_fetched() -> None:
    with LoopbackServer() as server:
        server.route("/feed.xml", body=rss("<item><title>fetched</title></item>"))
        with pytest.raises(ExtractError):
            parse_feed(Document("http://x/", server.url("/feed.xml").encode()))
        assert server.requests == []


# --------------------------------------------------------------------------- torture corpus


class _Hang(BaseException):
    """Raised by the alarm when one file takes too long (not an Exception on purpose)."""


def _alarm(signum: int, frame: object) -> None:
    raise _Hang


_HEADER_LINE = re.compile(rb"^Header:\s*([A-Za-z-]+):[ \t]*(.*?)\s*$", re.M)


def _torture_headers(body: bytes) -> dict[str, str]:
    """The ``Header:`` lines some torture files carry in their leading comment."""
    return {k.decode().lower(): v.decode("latin-1") for k, v in _HEADER_LINE.findall(body[:4096])}


def _every_file(root: Path) -> Iterator[Path]:
    return (p for p in sorted(root.rglob("*")) if p.is_file())


@pytest.mark.shared
def test_torture_corpus_raises_nothing_but_extract_error(shared_dir: Path) -> None:
    root = shared_dir / "torture" / "feedparser"
    previous = signal.signal(signal.SIGALRM, _alarm)
    parsed = failed = 0
    try:
        for path in _every_file(root):
            body = path.read_bytes()
            for headers in ({}, _torture_headers(body)):
                signal.setitimer(signal.ITIMER_REAL, 10.0)
                try:
                    parse_feed(Document("http://127.0.0.1/x.xml", body, headers=headers))
                    parsed += 1
                except ExtractError:
                    failed += 1
                except _Hang:
                    pytest.fail(f"{path.relative_to(root)} took more than 10 s")
                finally:
                    signal.setitimer(signal.ITIMER_REAL, 0)
    finally:
        signal.signal(signal.SIGALRM, previous)
    assert parsed + failed >= 2 * 2100
    assert parsed > 2000


# ----------------------------------------------------------- the memo of feedparser's base join

BASES = (
    b'<?xml version="1.0" encoding="utf-8"?>'
    b'<feed xmlns="http://www.w3.org/2005/Atom" xml:base="http://example.org/news/">'
    b'<title>Bases</title><link href="index.html"/>'
    b'<entry xml:base="2025/"><id>one</id><title>One</title><link href="a.html"/>'
    b'<content type="html" xml:base="/elsewhere/">&lt;a href="x.html"&gt;x&lt;/a&gt;</content>'
    b"</entry>"
    b'<entry xml:base="javascript:alert(1)//"><id>two</id><title>Two</title><link href="b.html"/>'
    b"</entry>"
    b'<entry xml:base="https://mirror.example/feed/"><id>three</id><title>Three</title>'
    b'<link href="../c.html"/><summary xml:base="deep/">s</summary></entry>'
    b'<entry><id>four</id><title>Four</title><link href="d.html"/></entry>'
    b"</feed>"
)


def _parsed_without_memo(document: Document, monkeypatch: pytest.MonkeyPatch) -> object:
    """``parse_feed`` with feedparser's own base join, called afresh at every tag."""
    original = feedparser.urls.make_safe_absolute_uri
    with monkeypatch.context() as patch:
        patch.setattr(feedparser.mixin, "make_safe_absolute_uri", lambda *a: original(*a))
        return parse_feed(document)


def test_the_memo_of_the_base_join_is_in_place_and_used() -> None:
    parse_feed(Document("http://example.org/feed.xml", BASES))
    memo = feedparser.mixin.make_safe_absolute_uri
    assert memo.__wrapped__ is feedparser.urls.make_safe_absolute_uri
    parse_feed(Document("http://example.org/feed.xml", BASES))
    assert feedparser.mixin.make_safe_absolute_uri is memo  # installed once, never wrapped again
    before = memo.cache_info().hits
    parse_feed(Document("http://example.org/feed.xml", BASES))
    assert memo.cache_info().hits > before


@pytest.mark.parametrize("url", ["http://example.org/feed.xml", "file:///srv/feeds/x.xml", ""])
def test_nested_and_unsafe_bases_resolve_as_without_the_memo(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    document = Document(url, BASES)
    with_memo = parse_feed(document)
    assert with_memo == _parsed_without_memo(document, monkeypatch)
    links = [entry.link for entry in with_memo.entries]
    assert links[0] == "http://example.org/news/2025/a.html"
    assert links[2] == "https://mirror.example/c.html"


@pytest.mark.slow
@pytest.mark.shared
def test_torture_corpus_extracts_the_same_without_the_memo(
    shared_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = shared_dir / "torture" / "feedparser"
    compared = 0
    for path in _every_file(root):
        body = path.read_bytes()
        document = Document("http://127.0.0.1/dir/x.xml", body, headers=_torture_headers(body))
        try:
            with_memo: object = parse_feed(document)
        except ExtractError as exc:
            with_memo = str(exc)
        try:
            without = _parsed_without_memo(document, monkeypatch)
        except ExtractError as exc:
            without = str(exc)
        assert with_memo == without, path.relative_to(root)
        compared += 1
    assert compared > 2000


# ------------------------------------------------------------------ routing of file sources


@pytest.mark.parametrize(
    ("url", "content_type", "body", "reader"),
    [
        ("file:///drops/a.xml", None, b"hello", "feed"),
        ("file:///drops/a.RSS", None, b"", "feed"),
        ("file:///drops/a.json", None, b"", "feed"),
        ("file:///drops/a.htm", None, b"", "page"),
        ("file:///drops/a.txt", None, b"<rss>", "text"),
        ("file:///drops/a", "application/atom+xml", b"", "feed"),
        ("file:///drops/a", "text/html; charset=utf-8", b"", "page"),
        ("file:///drops/a", "text/plain", b"<rss>", "text"),
        ("file:///drops/a", None, b"\xef\xbb\xbf  <?xml version='1.0'?><rss/>", "feed"),
        ("file:///drops/a", None, b"<feed xmlns='http://www.w3.org/2005/Atom'/>", "feed"),
        ("file:///drops/a", None, b"<rdf:RDF/>", "feed"),
        ("file:///drops/a", None, b'{"version": "x"}', "feed"),
        ("file:///drops/a", None, b"\n<!DOCTYPE html><html>", "page"),
        ("file:///drops/a", None, b"<HTML><body>", "page"),
        ("file:///drops/a", None, b" date 2026-01-13 NARA - text", "text"),
    ],
)
def test_file_sources_are_routed(
    url: str, content_type: str | None, body: bytes, reader: str
) -> None:
    assert reader_for_file(Document(url, body, content_type)) == reader


def test_extract_file_kind_reads_a_text_drop() -> None:
    body = (
        b"date 2026-01-13 HARBOURVIEW - The ferry vote passed by eleven votes to four on Tuesday."
    )
    extracted = extract(Document("file:///drops/note", body), "file")
    assert extracted.entries[0].dateline == "HARBOURVIEW"

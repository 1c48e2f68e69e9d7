"""Article page extraction: golden fixtures, page chrome kept out, dates, charsets, logging."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest

from feedsvc.errors import ExtractError
from feedsvc.extract import extract
from feedsvc.extract.page import parse_page
from feedsvc.types import Document, RawEntry
from tests.fixtures.extract import golden

PAGES = golden.fixtures("page")
PAGE_DIR = golden.ROOT / "page"


def entry_of(name: str) -> RawEntry:
    (entry,) = parse_page(golden.document(PAGE_DIR / name)).entries
    return entry


@pytest.mark.parametrize("path", PAGES, ids=[p.name for p in PAGES])
def test_golden(path: Path) -> None:
    golden.check(parse_page, path)


def test_extract_with_kind_page_is_parse_page() -> None:
    document = golden.document(PAGE_DIR / "ferry_link.html")
    assert extract(document, "page") == parse_page(document)


# --------------------------------------------------------------------------- the main article only


@pytest.mark.parametrize(
    "chrome",
    [
        "Home",  # header navigation
        "Rowing club",  # teaser rail
        "Lantern festival",
        "Kessock Street bakery",
        "Most popular",  # most-popular list
        "Gull steals",
        "Share on Chirper",  # share buttons
        "Email this story",
        "Privacy",  # footer
        "Saturday, 31 January 2026",  # today's date in the header
    ],
)
def test_page_chrome_is_left_out(chrome: str) -> None:
    assert chrome not in (entry_of("ferry_link.html").content or "")


def test_article_body_keeps_paragraphs_headings_and_lists() -> None:
    content = entry_of("ferry_link.html").content or ""
    assert content.startswith("<p>Harbourview's town council voted by eleven to four")
    assert "<h2>A long campaign by islanders</h2>" in content
    assert content.count("<li>") == 3
    assert content.rstrip().endswith("chapel hall on 2 February.</p>")


def test_title_heading_is_not_repeated_in_the_body() -> None:
    entry = entry_of("ferry_link.html")
    assert entry.title == "Council backs ferry link to Marlow Island"
    assert "<h1>" not in (entry.content or "")


def test_photo_caption_appears_at_most_once() -> None:
    for name in ("ferry_link.html", "quayside_flood.html"):
        content = entry_of(name).content or ""
        assert content.count("Photo: Tomasz Reid") <= 1
        assert content.count("Picture: Nora Keegan") <= 1


def test_caption_repeated_further_down_the_body_is_kept_once() -> None:
    caption = (
        "<p>Curlew and redshank feed on the mudflats below Kestrel Bay at low tide. "
        "Photo: Ines Marlowe</p>\n"
    )
    page = PAGE_DIR.joinpath("undated_column.html").read_text(encoding="utf-8")
    for paragraph in ("<p>The plan to dredge", "<p>The harbour board should"):
        page = page.replace(paragraph, caption + paragraph)
    (entry,) = parse_page(Document("https://fixtures.example/x", page.encode())).entries
    content = entry.content or ""
    assert content.count("Photo: Ines Marlowe") == 1
    assert "The harbour board should ask" in content


def test_teasers_before_the_headline_are_dropped() -> None:
    content = entry_of("library_reopens.html").content or ""
    assert "Kreispokalfinale" not in content
    assert "Zwei späte Tore" not in content
    assert content.startswith("<p>Nach fast zwei Jahren Bauzeit")


# --------------------------------------------------------------------------- metadata


def test_canonical_link_is_resolved_against_the_document_url() -> None:
    entry = entry_of("ferry_link.html")
    assert (
        entry.link == "https://fixtures.example/news/2026/01/council-backs-ferry-link-marlow-island"
    )
    assert entry.base_url == "https://fixtures.example/page/ferry_link.html"


def test_og_url_is_used_without_a_canonical_link() -> None:
    entry = entry_of("quayside_flood.html")
    assert entry.link == "https://fixtures.example/2025/11/04/storm-floods-quayside-market.html"


def test_published_time_from_meta_wins_over_the_header_date() -> None:
    entry = entry_of("ferry_link.html")
    assert entry.published == datetime(2026, 1, 12, 23, 30, tzinfo=UTC)
    assert entry.updated == datetime(2026, 1, 14, 1, 0, tzinfo=UTC)


def test_json_ld_date_wins_over_teaser_time_elements() -> None:
    assert entry_of("library_reopens.html").published == datetime(2025, 9, 8, 15, 45, tzinfo=UTC)


def test_date_only_time_element_is_midnight_utc() -> None:
    assert entry_of("quayside_flood.html").published == datetime(2025, 11, 4, tzinfo=UTC)


def test_undated_page_has_no_date_not_today() -> None:
    entry = entry_of("undated_column.html")
    assert entry.published is None
    assert entry.updated is None


def test_date_in_the_url_path_is_a_last_resort() -> None:
    body = PAGE_DIR.joinpath("undated_column.html").read_bytes()
    body = body.replace(b"/opinion/estuary-mudflats", b"/2025/12/02/estuary-mudflats")
    (entry,) = parse_page(Document("https://kestrelbay-courier.example/x", body)).entries
    assert entry.published == datetime(2025, 12, 2, tzinfo=UTC)


def test_authors_language_and_summary() -> None:
    library = entry_of("library_reopens.html")
    assert library.authors == ("Jonas Feldhaus",)
    assert library.language == "de"
    assert (
        library.summary
        == "Nach zwei Jahren Umbau empfängt die Stadtbibliothek wieder Leser &amp; Leserinnen."
    )
    assert entry_of("ferry_link.html").authors == ("Priya Olawale",)


# --------------------------------------------------------------------------- decoding


def test_meta_charset_is_honoured() -> None:
    content = entry_of("quayside_flood.html").content or ""
    assert "Dunmore’s Quayside market" in content
    assert "Café owners" in content


def test_header_charset_wins_over_meta_charset() -> None:
    text = PAGE_DIR.joinpath("quayside_flood.html").read_bytes().decode("cp1252")
    body = text.encode("utf-8")  # meta still says windows-1252
    document = Document(
        "https://fixtures.example/q", body, headers={"content-type": "text/html; charset=utf-8"}
    )
    (entry,) = parse_page(document).entries
    assert "Café owners" in (entry.content or "")


def test_xhtml_with_an_xml_declaration_is_read() -> None:
    text = PAGE_DIR.joinpath("undated_column.html").read_text(encoding="utf-8")
    body = (
        '<?xml version="1.0" encoding="utf-8"?>\n' + text.replace("<!DOCTYPE html>", "")
    ).encode()
    (entry,) = parse_page(Document("https://fixtures.example/x", body)).entries
    assert entry.title == "Why the estuary needs its mudflats"


# --------------------------------------------------------------------------- no article


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"  \n ",
        PAGE_DIR.joinpath("not_found.html").read_bytes(),
        b"\x00\x01\x02\xff\xfe\xfd" * 50,
        b"<html><body><nav><a href='/'>Home</a></nav></body></html>",
    ],
    ids=["empty", "blank", "not-found", "binary", "nav-only"],
)
def test_page_without_article_raises(body: bytes) -> None:
    with pytest.raises(ExtractError, match=r"^no article in page: "):
        parse_page(Document("https://fixtures.example/x", body))


BINARY = Document("https://fixtures.example/x", b"\x00\x01\x02\xff\xfe\xfd" * 50)
"""trafilatura logs an ERROR ("empty HTML tree") and a WARNING ("discarding data") for this."""


def test_library_warnings_are_silent_unless_debug(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="feedsvc.extract.page")
    with pytest.raises(ExtractError):
        parse_page(BINARY)
    assert [r for r in caplog.records if not r.name.startswith("feedsvc")] == []


def test_library_messages_pass_at_debug(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="feedsvc.extract.page")
    with pytest.raises(ExtractError):
        parse_page(BINARY)
    library = [r for r in caplog.records if r.name.startswith("trafilatura")]
    assert any("discarding data" in r.getMessage() for r in library)
    assert {r.levelno for r in library} == {logging.DEBUG}

"""Plain-text drops: golden fixtures, the two seed shapes, datelines, captions, decoding."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from feedsvc.errors import ExtractError
from feedsvc.extract import extract
from feedsvc.extract._dates import find_text_dates, first_text_date
from feedsvc.extract._textlayout import find_layout, split_units
from feedsvc.extract.text import TITLE_LIMIT, parse_text
from feedsvc.types import Document, RawEntry
from tests.fixtures.extract import golden

DROPS = golden.fixtures("text")


def read(text: str | bytes) -> RawEntry:
    body = text.encode("utf-8") if isinstance(text, str) else text
    (entry,) = parse_text(Document("file:///drops/drop.txt", body)).entries
    return entry


PARAGRAPH = (
    "The harbour board met on Monday evening and agreed to publish the survey of the "
    "mudflats before any decision on dredging is taken. Members said the public deserved to see it."
)


@pytest.mark.parametrize("path", DROPS, ids=[p.name for p in DROPS])
def test_golden(path: Path) -> None:
    golden.check(parse_text, path)


def test_extract_with_kind_file_routes_txt_to_the_text_reader() -> None:
    document = golden.document(golden.ROOT / "text" / "dateline_drop.txt")
    assert extract(document, "file") == parse_text(document)


# --------------------------------------------------------------------------- the two seeds


@pytest.mark.shared
def test_seed_dateline_drop(shared_dir: Path) -> None:
    entry = read((shared_dir / "seeds" / "004_91ba093df1420094.txt").read_bytes())
    assert entry.published == datetime(2026, 1, 13, tzinfo=UTC)
    assert entry.dateline == "NARA"
    content = entry.content or ""
    assert content.startswith("Japanese Prime Minister")
    assert "date 2026" not in content
    assert "NARA —" not in content
    assert "by the Self-Defence Forces." in content  # last paragraph, despite its credit line
    assert content.count("\n\n") == 12  # thirteen paragraphs
    assert entry.title is not None
    assert entry.title.startswith("Japanese Prime Minister")
    assert len(entry.title) <= TITLE_LIMIT
    assert entry.title.endswith("…")
    assert entry.content_type == "text/plain"
    assert entry.summary is None


@pytest.mark.shared
def test_seed_saved_web_page(shared_dir: Path) -> None:
    entry = read((shared_dir / "seeds" / "000_a2bfeec671205e6e.txt").read_bytes())
    assert entry.title == (
        "Korea-Japan Summit: What Progress Was Made on Historical Issues and Regional Cooperation?"
    )
    assert entry.published == datetime(2026, 1, 13, tzinfo=UTC)
    content = entry.content or ""
    assert "Josei Coal Mine" in content
    assert "136 forcibly mobilized Koreans" in content
    assert content.endswith("towards the future.")
    assert "the next 60 years" in content.rsplit("\n\n", 1)[-1]
    for unwanted in (
        "Supreme Court",
        "Saebyul",
        "Sim Eun Kyeong",
        "Check Out",
        "Most Popular",
        "/ News1",
    ):
        assert unwanted not in content, unwanted
    assert "\n\nDNA Analysis of Josei Coal Mine Remains" in content  # a sub-heading is kept
    assert entry.content_type == "text/plain"


# --------------------------------------------------------------- shape 1: markers, datelines


@pytest.mark.parametrize(
    ("first_line", "place"),
    [
        ("date 2025-10-02 PORT ELLERY — The council", "PORT ELLERY"),
        ("date 2025-10-02 PORT ELLERY—The council", "PORT ELLERY"),
        ("date 2025-10-02 KESTREL BAY -- The council", "KESTREL BAY"),
        ("date 2025-10-02 DUNMORE - The council", "DUNMORE"),
        ("date: 2025-10-02 LINDENAU, Oct 2 (Harbour Wire) — The council", "LINDENAU"),
    ],
)
def test_datelines(first_line: str, place: str) -> None:
    entry = read(first_line + " met on Monday and agreed to publish the survey of the mudflats.\n")
    assert entry.dateline == place
    assert (entry.content or "").startswith("The council met on Monday")
    assert entry.published == datetime(2025, 10, 2, tzinfo=UTC)


def test_no_dateline_when_the_paragraph_does_not_open_with_one() -> None:
    entry = read(
        "date 2025-10-02 The council - after a long debate - agreed to publish the survey.\n"
    )
    assert entry.dateline is None
    assert (entry.content or "").startswith("The council - after a long debate")


def test_title_header_and_author_header() -> None:
    entry = read(f"title: Survey to be published\nauthor: Hollis Marchetti\n\n{PARAGRAPH}\n")
    assert entry.title == "Survey to be published"
    assert entry.authors == ("Hollis Marchetti",)
    assert entry.content == PARAGRAPH


def test_title_from_a_short_first_sentence_drops_the_period() -> None:
    entry = read(
        "Board agrees to publish the mudflat survey. Members said the public deserved it.\n"
    )
    assert entry.title == "Board agrees to publish the mudflat survey"


def test_long_first_sentence_is_cut_at_a_word_boundary() -> None:
    entry = read(PARAGRAPH.replace(". Members", ", and members") + "\n")
    title = entry.title or ""
    assert len(title) <= TITLE_LIMIT
    assert title.endswith("…")
    assert PARAGRAPH.startswith(title[:-1])
    assert PARAGRAPH[len(title) - 1] == " "


# ---------------------------------------------------------- shape 2: the page around it


def saved_page(article: list[str], caption: tuple[str, str] | None = None) -> str:
    teasers = [
        "Lighthouse Keeper Retires After Forty Years",
        "Ewan Moss climbed the Gull Point steps for the last time on Friday morning.",
        "Ferry Fares to Rise in the Spring",
        "Tern Lines blames the rising cost of marine diesel for the increase.",
    ]
    lines = ["Monday, February 2, 2026", *teasers, "Harbour Board Agrees to Publish Mudflat Survey"]
    if caption:
        lines.extend(caption)
    lines.extend(article)
    lines.extend(["Share This", "More Stories:", "Most Read"])
    return "\n\n".join(lines) + "\n"


ARTICLE = [
    PARAGRAPH,
    "Campaigners had asked for the survey to be released since the summer, when the marina "
    "plan was first put forward.",
    "What Happens Next",
    "The survey will be posted on the board's website on Friday. A public meeting follows on "
    "20 February at the harbour office.",
    "The developers said they welcomed the decision and would answer questions at the meeting.",
]


def test_page_date_banner_is_only_a_fallback() -> None:
    entry = read(saved_page(ARTICLE))
    assert entry.title == "Harbour Board Agrees to Publish Mudflat Survey"
    assert entry.published == datetime(2026, 2, 2, tzinfo=UTC)
    assert (entry.content or "").split("\n\n")[0] == PARAGRAPH
    assert "Ferry Fares" not in (entry.content or "")
    assert "Most Read" not in (entry.content or "")
    assert "\n\nWhat Happens Next\n\n" in (entry.content or "")


def test_caption_date_wins_over_the_page_date_and_captions_are_dropped() -> None:
    caption = "A curlew feeds on the mudflats below Kestrel Bay on Sunday 2026.2.1 / Courier Photo"
    entry = read(saved_page(ARTICLE, (" " + caption, " 4" + caption)))
    assert entry.published == datetime(2026, 2, 1, tzinfo=UTC)
    assert "curlew feeds" not in (entry.content or "")


def test_a_glued_category_prefix_reveals_the_headline() -> None:
    headline = "Harbour Board Agrees to Publish Mudflat Survey"
    text = saved_page(ARTICLE).replace(headline, f"{headline}\n\nNature{headline}")
    assert read(text).title == headline


def test_captions_are_repeated_neighbours_only() -> None:
    units = split_units(
        "Intro line here\n\nSame words in a caption line\nSame words in a caption line\n\n"
        + PARAGRAPH
    )
    layout = find_layout(units)
    assert layout is not None
    assert layout.captions == {1, 2}


def test_hard_wrapped_paragraphs_are_joined() -> None:
    first = "The harbour board met on Monday evening and agreed to publish the"
    second = "survey of the mudflats before any decision on dredging is taken."
    assert split_units(f"{first}\n{second}\n") == [f"{first} {second}"]


# --------------------------------------------------------------------------- dates in prose


@pytest.mark.parametrize(
    "text",
    [
        "on 2026-01-13 in Nara",
        "Tuesday 2026.1.13 / News1",
        "January 13, 2026",
        "13 January 2026",
        "Tuesday, January 13, 2026",
        "Jan. 13, 2026",
        "13th Jan 2026",
    ],
)
def test_text_date_formats(text: str) -> None:
    assert first_text_date(text) == datetime(2026, 1, 13, tzinfo=UTC)


def test_text_dates_are_found_in_order_and_invalid_ones_skipped() -> None:
    found = find_text_dates("Filed 2026-02-30, updated February 3, 1942 and 2026.1.13")
    assert [d.value.year for d in found] == [2026]  # 1942 is before EARLIEST, Feb 30 invalid


# --------------------------------------------------------------------------- decoding and failures


def test_utf8_with_bom() -> None:
    entry = read(b"\xef\xbb\xbf" + ("title: Café reopens\n\n" + PARAGRAPH).encode())
    assert entry.title == "Café reopens"


def test_cp1252_fallback() -> None:
    entry = read(("title: “Quoted” café\n\n" + PARAGRAPH).encode("cp1252"))
    assert entry.title == "“Quoted” café"


def test_bytes_undefined_in_cp1252_fall_back_to_latin1() -> None:
    entry = read(b"title: odd \x81\x8d bytes\n\n" + PARAGRAPH.encode())
    assert entry.title == "odd \x81\x8d bytes"


def test_crlf_line_endings() -> None:
    entry = read(f"title: Survey\r\n\r\n{PARAGRAPH}\r\n\r\nSecond paragraph ends here.\r\n")
    assert entry.content == f"{PARAGRAPH}\n\nSecond paragraph ends here."


@pytest.mark.parametrize(
    "body",
    [b"", b"\n\n  \n", b"Home\nNews\nSport\n", b"title: Only a title\n", b"\x00\x01\x02"],
    ids=["empty", "blank", "navigation", "title-only", "binary"],
)
def test_drop_without_prose_raises(body: bytes) -> None:
    with pytest.raises(ExtractError, match=r"^no article in plain-text document: "):
        parse_text(Document("file:///drops/x.txt", body))

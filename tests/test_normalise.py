"""Tests of feedsvc.normalise: golden files plus one focused test per rule.

Golden cases live in tests/fixtures/normalise/golden: ``<case>.input.json`` holds
``now``, ``source`` and ``raw``; ``<case>.expected.json`` the expected Article.
Run with FEEDSVC_UPDATE_GOLDEN=1 to (re)write the expected files.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from feedsvc.config_types import SourceConfig
from feedsvc.normalise import (
    article_id,
    canonical_url,
    clean_title,
    content_hash,
    detect_dateline,
    normalise,
)
from feedsvc.types import Article, RawEntry

GOLDEN = Path(__file__).parent / "fixtures" / "normalise" / "golden"
CASES = sorted(p.name.removesuffix(".input.json") for p in GOLDEN.glob("*.input.json"))
NOW = datetime(2031, 4, 2, 12, 0, tzinfo=UTC)
SOURCE = SourceConfig(name="test-outlet", title="Test Outlet", kind="feed", tags=("t1", "t2"))

_DATE_FIELDS = {"published", "updated"}
_TUPLE_FIELDS = {"authors", "categories"}


def _raw_from_json(data: dict[str, Any]) -> RawEntry:
    values: dict[str, Any] = {}
    for key, value in data.items():
        if key in _DATE_FIELDS and value is not None:
            value = datetime.fromisoformat(value)
        elif key in _TUPLE_FIELDS:
            value = tuple(value)
        values[key] = value
    return RawEntry(**values)


def _source_from_json(data: dict[str, Any]) -> SourceConfig:
    path = Path(data["path"]) if data.get("path") else None
    values = {**data, "tags": tuple(data.get("tags", ())), "path": path}
    return SourceConfig(**values)


def _article_to_json(article: Article) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for field in dataclasses.fields(article):
        if not field.compare:  # derived later (the story analysis), not by normalise
            assert getattr(article, field.name) is None, field.name
            continue
        value = getattr(article, field.name)
        if isinstance(value, datetime):
            value = value.isoformat()
        elif isinstance(value, tuple):
            value = list(value)
        out[field.name] = value
    return out


def _run_case(case: str) -> dict[str, Any]:
    spec = json.loads((GOLDEN / f"{case}.input.json").read_text(encoding="utf-8"))
    now = datetime.fromisoformat(spec["now"])
    article = normalise(_raw_from_json(spec["raw"]), _source_from_json(spec["source"]), now)
    return _article_to_json(article)


def test_golden_cases_exist() -> None:
    assert len(CASES) >= 5


@pytest.mark.parametrize("case", CASES)
def test_golden(case: str) -> None:
    actual = _run_case(case)
    expected_path = GOLDEN / f"{case}.expected.json"
    if os.environ.get("FEEDSVC_UPDATE_GOLDEN") == "1":
        text = json.dumps(actual, indent=2, ensure_ascii=False) + "\n"
        expected_path.write_text(text, encoding="utf-8")
    expected = json.loads(expected_path.read_text(encoding="utf-8"))
    assert sorted(actual) == sorted(expected), "Article fields changed"
    for name, value in expected.items():
        assert actual[name] == value, f"{case}: field {name!r} differs"


def _raw(**kwargs: Any) -> RawEntry:
    return RawEntry(**kwargs)


# --------------------------------------------------------------------------- canonical_url


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://n.example/a?utm_source=x&utm_campaign=y", "https://n.example/a"),
        ("https://n.example/a?id=1&fbclid=F&b=2&gclid=G", "https://n.example/a?id=1&b=2"),
        ("https://n.example/a?UTM_Medium=rss&z=1&y=2", "https://n.example/a?z=1&y=2"),
        ("https://n.example/a?mc_cid=1&mc_eid=2&igshid=3&yclid=4&_ga=5", "https://n.example/a"),
        ("https://n.example/a?msclkid=1&dclid=2&ref_src=twsrc", "https://n.example/a"),
        ("https://n.example/a?ref=home", "https://n.example/a?ref=home"),
    ],
)
def test_canonical_url_drops_tracking_parameters(url: str, expected: str) -> None:
    assert canonical_url(url) == expected


def test_canonical_url_drops_fragment() -> None:
    assert canonical_url("https://n.example/story#comments") == "https://n.example/story"


def test_canonical_url_resolves_relative_links() -> None:
    base = "https://n.example/news/2031/index.html"
    assert canonical_url("story.html", base) == "https://n.example/news/2031/story.html"
    assert canonical_url("../x", base) == "https://n.example/news/x"
    assert canonical_url("//cdn.example/y", base) == "https://cdn.example/y"


def test_canonical_url_lowercases_scheme_and_host_and_drops_default_port() -> None:
    assert canonical_url("HTTPS://News.EXAMPLE:443/Path") == "https://news.example/Path"
    assert canonical_url("http://news.example:80") == "http://news.example/"
    assert canonical_url("http://news.example:8080/a") == "http://news.example:8080/a"


@pytest.mark.parametrize(
    "url",
    [None, "", "   ", "ftp://n.example/f", "mailto:a@n.example", "javascript:alert(1)",
     "data:text/html,hi", "http://", "http://n.example:99999/", "http://[::1/"],
)  # fmt: skip
def test_canonical_url_rejects_non_http(url: str | None) -> None:
    assert canonical_url(url) is None


def test_canonical_url_normalises_percent_encoding_minimally() -> None:
    assert canonical_url("https://n.example/a%7eb/c%2fd") == "https://n.example/a~b/c%2Fd"
    assert canonical_url("https://n.example/ü x") == "https://n.example/%C3%BC%20x"
    assert canonical_url("https://n.example/100%") == "https://n.example/100%25"


def test_canonical_url_keeps_parameter_order() -> None:
    url = "https://n.example/s?z=1&utm_term=x&a=2&m=3"
    assert canonical_url(url) == "https://n.example/s?z=1&a=2&m=3"


# --------------------------------------------------------------------------- ids and hashes


def test_id_prefers_guid() -> None:
    raw = _raw(guid="  tag:n.example,2031:42 ", link="https://n.example/a")
    assert article_id(raw, "https://n.example/a", "h") == "tag:n.example,2031:42"


@pytest.mark.parametrize(
    "guid", [None, "", "   ", "null", "https://n.example/", "https://n.example"]
)
def test_id_falls_back_to_canonical_link_for_untrustworthy_guid(guid: str | None) -> None:
    raw = _raw(guid=guid, link="https://n.example/a")
    assert article_id(raw, "https://n.example/a", "h") == "https://n.example/a"


def test_id_rejects_guid_equal_to_the_documents_own_url() -> None:
    raw = _raw(guid="https://n.example/feed.xml", base_url="https://n.example/feed.xml")
    assert article_id(raw, "https://n.example/a", "h") == "https://n.example/a"


def test_id_falls_back_to_content_hash() -> None:
    assert article_id(_raw(), None, "abc123") == "sha256:abc123"


def test_content_hash_ignores_case_and_whitespace() -> None:
    expected = hashlib.sha256(b"big news\nit happened today").hexdigest()
    assert content_hash("Big  News ", "It happened\n\n today") == expected
    assert content_hash("Big News", "text") != content_hash("Big News", "other text")


def test_normalise_ids_are_stable_and_hash_based_without_guid_or_link() -> None:
    raw = _raw(title="Pier closes", content="<p>The pier closed.</p>", published=NOW)
    first, second = normalise(raw, SOURCE, NOW), normalise(raw, SOURCE, NOW + timedelta(hours=1))
    assert first.id == second.id == "sha256:" + first.content_hash


# --------------------------------------------------------------------------- titles


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("Tom &amp; Jerry", "Tom & Jerry"),
        ("Tom &amp;amp; Jerry", "Tom & Jerry"),
        ("Tom &amp;amp;amp; Jerry", "Tom & Jerry"),
        ("&#8220;Quoted&#8221; &eacute;t&eacute;", "“Quoted” été"),
        ("<b>Bold</b> move &lt;i&gt;today&lt;/i&gt;", "Bold move today"),
        ("Line\none\t\x07two\u200b  three", "Line one two three"),
        ("x < y for all y", "x < y for all y"),
    ],
)
def test_clean_title_entities_tags_controls(title: str, expected: str) -> None:
    assert clean_title(title) == expected


@pytest.mark.parametrize(
    ("title", "categories", "expected"),
    [
        ("NorthKoreaKorea-Japan Summit: Next?", ["North Korea"], "Korea-Japan Summit: Next?"),
        ("North KoreaKorea-Japan Summit", ["North Korea"], "Korea-Japan Summit"),
        ("Politics|Budget passes", ["Politics"], "Budget passes"),
        ("Politics | Budget passes", ["Sport", "Politics"], "Budget passes"),
        ("POLITICS » Budget passes", ["Politics"], "Budget passes"),
        ("Politics - Budget passes", ["Politics"], "Budget passes"),
        ("PoliticsBudget passes", ["Politics"], "Budget passes"),
    ],
)  # fmt: skip
def test_clean_title_removes_glued_category_prefix(
    title: str, categories: list[str], expected: str
) -> None:
    assert clean_title(title, categories) == expected


@pytest.mark.parametrize(
    ("title", "categories"),
    [
        ("North Korea talks resume", ["North Korea"]),
        ("USAID budget cut", ["US"]),
        ("Korea-Japan Summit", ["Korea"]),
        ("Politically speaking", ["Politic"]),
        ("Politics|Budget passes", ["Economy"]),
        ("Politics |", ["Politics"]),
    ],
)
def test_clean_title_keeps_titles_without_a_glued_prefix(title: str, categories: list[str]) -> None:
    assert clean_title(title, categories) == title


def test_empty_title_uses_first_sentence_of_text() -> None:
    raw = _raw(
        title=" ", content="<p>The harbour bridge reopened on Monday. Traffic was light.</p>"
    )
    assert normalise(raw, SOURCE, NOW).title == "The harbour bridge reopened on Monday"


def test_empty_title_is_shortened_at_a_word_boundary() -> None:
    raw = _raw(content="<p>" + "harbour " * 40 + "</p>")
    title = normalise(raw, SOURCE, NOW).title
    assert len(title) <= 100
    assert title.endswith("harbour…")


def test_empty_title_without_text_is_untitled() -> None:
    assert normalise(_raw(), SOURCE, NOW).title == "(untitled)"


# --------------------------------------------------------------------------- dates


def test_dates_kept_apart() -> None:
    published, updated = NOW - timedelta(days=2), NOW - timedelta(days=1)
    article = normalise(_raw(published=published, updated=updated), SOURCE, NOW)
    assert (article.published, article.updated, article.date_estimated) == (
        published,
        updated,
        False,
    )


def test_missing_published_takes_updated() -> None:
    updated = NOW - timedelta(hours=5)
    article = normalise(_raw(updated=updated), SOURCE, NOW)
    assert (article.published, article.updated, article.date_estimated) == (
        updated,
        updated,
        False,
    )


def test_missing_dates_use_now_and_are_estimated() -> None:
    article = normalise(_raw(), SOURCE, NOW)
    assert (article.published, article.updated, article.date_estimated) == (NOW, None, True)


def test_future_dates_are_clamped_to_now() -> None:
    future = NOW + timedelta(days=3)
    article = normalise(_raw(published=future, updated=future), SOURCE, NOW)
    assert (article.published, article.updated, article.date_estimated) == (NOW, NOW, True)


def test_dates_within_a_day_in_the_future_are_kept() -> None:
    soon = NOW + timedelta(hours=20)
    assert normalise(_raw(published=soon), SOURCE, NOW).published == soon


def test_updated_before_published_is_kept_as_given() -> None:
    published, updated = NOW - timedelta(days=1), NOW - timedelta(days=3)
    article = normalise(_raw(published=published, updated=updated), SOURCE, NOW)
    assert (article.published, article.updated) == (published, updated)


def test_dates_are_converted_to_utc() -> None:
    local = datetime(2031, 4, 1, 9, 0, tzinfo=timezone(timedelta(hours=-5)))
    article = normalise(_raw(published=local), SOURCE, NOW)
    assert article.published == local
    assert article.published.utcoffset() == timedelta(0)


def test_naive_now_is_rejected() -> None:
    with pytest.raises(ValueError, match="aware"):
        normalise(_raw(), SOURCE, datetime(2031, 4, 2, 12, 0))


# --------------------------------------------------------------------------- content


def test_plain_text_content_is_escaped_into_paragraphs() -> None:
    raw = _raw(content="a <script>x</script> & b\n\nsecond", content_type="text/plain")
    article = normalise(raw, SOURCE, NOW)
    assert article.content_html == "<p>a &lt;script&gt;x&lt;/script&gt; &amp; b</p>\n<p>second</p>"
    assert article.text == "a <script>x</script> & b\n\nsecond"


def test_html_content_is_sanitised_and_links_resolved() -> None:
    raw = _raw(
        content='<p onclick="x()">Hi <a href="/a">there</a></p><script>bad()</script>',
        base_url="https://n.example/news/",
    )
    html = normalise(raw, SOURCE, NOW).content_html
    assert html == (
        '<p>Hi <a href="https://n.example/a" rel="noopener noreferrer nofollow">there</a></p>'
    )


def test_summary_used_as_content_when_there_is_no_content() -> None:
    article = normalise(_raw(summary="<p>Only a summary.</p>"), SOURCE, NOW)
    assert (article.content_html, article.text, article.summary) == (
        "<p>Only a summary.</p>",
        "Only a summary.",
        "Only a summary.",
    )


def test_summary_from_raw_summary_when_it_differs() -> None:
    raw = _raw(summary="<b>Short</b> teaser", content="<p>Long body.</p><p>More.</p>")
    assert normalise(raw, SOURCE, NOW).summary == "Short teaser"


def test_summary_from_text_when_raw_summary_repeats_content() -> None:
    raw = _raw(
        summary="<p>Body one.</p><p>Body two.</p>", content="<p>Body one.</p><p>Body two.</p>"
    )
    assert normalise(raw, SOURCE, NOW).summary == "Body one. Body two."


def test_summary_is_shortened_to_300_characters() -> None:
    raw = _raw(content="<p>" + "word " * 100 + "</p><p>next</p>")
    summary = normalise(raw, SOURCE, NOW).summary
    assert len(summary) <= 300
    assert summary.endswith("word…")


def test_summary_takes_leading_paragraphs_that_fit() -> None:
    raw = _raw(content="<p>One.</p><p>Two.</p><p>" + "long " * 80 + "</p>")
    assert normalise(raw, SOURCE, NOW).summary == "One. Two."


# --------------------------------------------------------------------------- small fields


def test_authors_stripped_and_deduplicated() -> None:
    raw = _raw(authors=(" Ada  Brennick ", "ada brennick", "", "Tom Quill"))
    assert normalise(raw, SOURCE, NOW).authors == ("Ada Brennick", "Tom Quill")


def test_categories_cleaned_deduplicated_in_order() -> None:
    raw = _raw(categories=("Farming", " farming ", "Rain &amp; Wind", "Farming", "  "))
    assert normalise(raw, SOURCE, NOW).categories == ("Farming", "Rain & Wind")


@pytest.mark.parametrize(
    ("language", "expected"),
    [("en-US", "en-us"), ("EN", "en"), ("pt_BR", "pt-br"), (" de ", "de"), ("", None),
     (None, None), ("english please", None), ("x", None)],
)  # fmt: skip
def test_language(language: str | None, expected: str | None) -> None:
    assert normalise(_raw(language=language), SOURCE, NOW).language == expected


def test_tags_come_from_the_source() -> None:
    assert normalise(_raw(categories=("c",)), SOURCE, NOW).tags == ("t1", "t2")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("NARA — Leaders met on Tuesday.", "NARA"),
        ("HARTFORD, Conn. — The state budget", "HARTFORD, Conn."),
        ("PORT ELLERY -- The council", "PORT ELLERY"),
        ("KESTREL BAY, Ore. - Keepers", "KESTREL BAY, Ore."),
        ("MOSSBY (Gazette Wire) - Rain fell", "MOSSBY"),
        ("The mayor — said nothing", None),
        ("Nara — lower case place", None),
        ("NARA: a colon is not a dateline", None),
        ("Plain text without any dash", None),
        ("", None),
    ],
)
def test_detect_dateline(text: str, expected: str | None) -> None:
    assert detect_dateline(text) == expected


def test_dateline_detected_but_kept_in_text() -> None:
    article = normalise(_raw(content="<p>NARA — Leaders met.</p>"), SOURCE, NOW)
    assert (article.dateline, article.text) == ("NARA", "NARA — Leaders met.")


def test_dateline_from_raw_entry_wins() -> None:
    raw = _raw(content="<p>NARA — Leaders met.</p>", dateline=" KYOTO ")
    assert normalise(raw, SOURCE, NOW).dateline == "KYOTO"


def test_normalise_is_pure_and_repeatable() -> None:
    raw = _raw(guid="g-1", title="T", content="<p>Body</p>", published=NOW, categories=("A",))
    assert normalise(raw, SOURCE, NOW) == normalise(raw, SOURCE, NOW)

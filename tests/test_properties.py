"""Property-based tests (hypothesis): the normaliser, URLs, dates, text drops, the sanitiser.

Each property holds for every input hypothesis makes up, hostile ones included
(control characters, surrogates are not possible in str, so lone combining
marks, bidi controls, markup fragments, huge numbers). Example counts are fixed
so the suite's time is bounded; ``derandomize`` makes CI runs repeatable.
Anything these found is pinned below as a regression example.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from feedsvc.errors import ExtractError
from feedsvc.extract._dates import EARLIEST, LATEST, find_text_dates, from_struct_time, parse_iso
from feedsvc.extract.text import parse_text
from feedsvc.htmltext import html_to_text, sanitise_html, sanitised_to_text
from feedsvc.normalise import TITLE_MAX, canonical_url, clean_title, is_tracking_param, normalise
from feedsvc.types import Document, RawEntry, SourceConfig
from tests.support.strategies import hostile_text, html_fragments, raw_entries, urls
from tests.support.unsafe import unsafe_in_html

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
SOURCE = SourceConfig(name="prop", title="Prop", kind="feed", url="https://prop.example/feed")
PROPERTY = settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")

# --------------------------------------------------------------------------- the normaliser


@PROPERTY
@given(raw_entries())
@example(RawEntry(content="\u202a"))  # found: a fallback title of bidi controls only
@example(RawEntry(content="<p>x</p>", base_url="HTTP://08"))  # found: raised ValueError
def test_normalise_never_raises_and_its_article_is_clean(raw: RawEntry) -> None:
    article = normalise(raw, SOURCE, NOW)
    assert article.title and len(article.title) <= TITLE_MAX
    assert not CONTROL.search(article.title)
    assert "\n" not in article.title
    assert article.published.tzinfo is not None and article.published.utcoffset() == timedelta(0)
    assert article.published <= NOW + timedelta(days=1)
    assert article.id and article.source == "prop"
    assert unsafe_in_html(article.content_html, "content") == []
    assert normalise(raw, SOURCE, NOW) == article  # deterministic


@PROPERTY
@given(hostile_text | html_fragments())
@example("\u202eevil\u202c")
@example("a" * 100_000)
@example('<a href="javascript:alert(1)<">click</a>')  # found by the pipeline fuzz run
def test_clean_title_is_one_clean_line(title: str) -> None:
    cleaned = clean_title(title)
    assert not CONTROL.search(cleaned)
    assert not re.search(r"<[A-Za-z/!?]", cleaned)  # nothing a reader could take for a tag
    assert cleaned == cleaned.strip() and "\n" not in cleaned
    assert clean_title(cleaned) == cleaned or "&" in cleaned  # stable (bar entity text)


# --------------------------------------------------------------------------- URLs


@PROPERTY
@given(urls, st.none() | urls)
@example("http://[::1/x", None)
@example("https://example.org/a?utm_source=x&a=1#frag", None)
def test_canonical_url_never_raises_and_is_idempotent(url: str, base: str | None) -> None:
    canonical = canonical_url(url, base)
    if canonical is None:
        return
    assert canonical_url(canonical) == canonical
    assert "#" not in canonical
    query = canonical.partition("?")[2]
    names = [pair.partition("=")[0] for pair in query.split("&") if pair]
    assert not any(is_tracking_param(name) for name in names)


# --------------------------------------------------------------------------- dates


@PROPERTY
@given(
    st.text(max_size=60)
    | st.sampled_from(["9999-12-31T23:59:59+14:00", "0001-01-01", "2026-02-30"])
)
def test_parse_iso_never_raises_and_stays_in_range(text: str) -> None:
    value = parse_iso(text)
    assert value is None or (value.tzinfo is not None and EARLIEST <= value < LATEST)


@PROPERTY
@given(st.tuples(*[st.integers(-(2**31), 2**31)] * 9))
def test_from_struct_time_never_raises(fields: tuple[int, ...]) -> None:
    try:
        value = time.struct_time(fields)
    except (OverflowError, ValueError, TypeError):
        return
    result = from_struct_time(value)
    assert result is None or EARLIEST <= result < LATEST


@PROPERTY
@given(st.text(max_size=300))
@example("Published 2026-02-30 and 31st February 2026 and 2026/13/01")
def test_text_dates_are_real_dates_in_order(text: str) -> None:
    found = find_text_dates(text)
    assert [d.start for d in found] == sorted(d.start for d in found)
    assert all(EARLIEST <= d.value < LATEST for d in found)


# --------------------------------------------------------------------------- text drops


@st.composite
def text_drops(draw: st.DrawFn) -> bytes:
    lines = draw(
        st.lists(
            hostile_text
            | st.sampled_from(["Title: Ferry news", "Date: 2026-11-03", "By Ann Writer", "",
                               "PORT WENDEL, Nov. 3 (Wire) - Ferries resume.", "---", "Author:"]),
            max_size=20,
        )
    )  # fmt: skip
    encoding = draw(st.sampled_from(["utf-8", "utf-16", "latin-1", "cp1252"]))
    return "\n".join(lines).encode(encoding, errors="replace")


@PROPERTY
@given(text_drops())
def test_the_text_drop_reader_returns_entries_or_a_clear_error(body: bytes) -> None:
    try:
        extracted = parse_text(Document("file:///drops/x.txt", body, "text/plain"))
    except ExtractError:
        return
    for entry in extracted.entries:
        normalise(entry, SOURCE, NOW)


# --------------------------------------------------------------------------- the sanitiser


@PROPERTY
@given(html_fragments(), st.none() | urls)
@example('<a href="jav&#x09;ascript:alert(1)">x</a>', None)
@example("<svg><a xlink:href='javascript:x'>y</a></svg>", "https://b.example/")
@example("<img srcset='a.png 1x, javascript:x 2x'>", None)
@example("<base>\ufeff</base>", None)  # found: a BOM survived once, not twice
@example("<p>x</p>", "HTTP://08")  # found: a base nh3 refuses raised ValueError
def test_sanitised_html_has_nothing_unsafe_and_is_stable(fragment: str, base: str | None) -> None:
    safe = sanitise_html(fragment, base)
    assert unsafe_in_html(safe, "sanitised") == []
    assert sanitise_html(safe, base) == safe
    assert sanitised_to_text(safe) == html_to_text(safe)

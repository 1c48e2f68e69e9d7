"""The source directory's plan: pages of bounded size, by title, and the front page's summary."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from feedsvc.config_types import SourceConfig
from feedsvc.publish import directory
from feedsvc.publish.directory import (
    DIRECTORY_PAGE,
    changed_pages,
    directory_of,
    directory_pages,
    directory_path,
    first_letter,
    sources_summary,
)
from feedsvc.publish.pagespec import SourceHealth
from feedsvc.types import FeedListing

NOW = datetime(2031, 3, 4, 12, 0, tzinfo=UTC)


def health(
    name: str, title: str, *, failures: int = 0, disabled: str | None = None
) -> SourceHealth:
    """A source fetched at NOW (minus its position), failing ``failures`` times in a row."""
    status = "error" if failures else "ok"
    error = "HTTP 503" if failures else None
    return SourceHealth(
        name, title, f"sources/{name}.html", status, NOW, 503 if failures else 200, error,
        failures, NOW + timedelta(hours=1), disabled,
    )  # fmt: skip


def listing(name: str, title: str) -> FeedListing:
    return FeedListing(f"sources/{name}", title, "", "source", name)


def test_pages_hold_a_bounded_number_of_sources_by_title(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(directory, "SOURCES_PER_PAGE", 2)
    names = ["e", "b", "d", "a", "c"]
    titles = {"a": "zebra", "b": "Apple", "c": "apple", "d": "Mango", "e": "banana"}
    rows = [health(n, titles[n]) for n in names]
    pages = directory_pages(rows, [listing(n, titles[n]) for n in names if n != "d"])
    assert [p.path for p in pages] == ["sources.html", "sources-2.html", "sources-3.html"]
    assert all(p.pages == ("sources.html", "sources-2.html", "sources-3.html") for p in pages)
    # case does not order: Apple and apple tie and go by name; banana, Mango, zebra
    assert [[s.name for s in p.sources] for p in pages] == [["b", "c"], ["e", "d"], ["a"]]
    assert [(p.number, p.first, p.total) for p in pages] == [(1, 1, 5), (2, 3, 5), (3, 5, 5)]
    assert [listing.key for listing in pages[1].feeds] == ["e"]  # d has no feed
    # where each first letter begins, the same on every page
    jumps = (("A", "sources.html", "b"), ("B", "sources-2.html", "e"))
    jumps += (("M", "sources-2.html", "d"), ("Z", "sources-3.html", "a"))
    assert all(p.letters == jumps for p in pages)
    sources = [
        SourceConfig(name=n, title=titles[n], kind="feed", url="https://x.test/") for n in names
    ]
    where = directory_of(sources)
    assert where == {s.name: p.path for p in pages for s in p.sources}


def test_titles_are_listed_under_their_first_letter_and_one_page_needs_no_letters() -> None:
    assert [first_letter(t) for t in ("apple", " Éclair", "3 Counties", "¡Hola!", "")] == [
        "A",
        "É",
        "#",
        "#",
        "#",
    ]
    (page,) = directory_pages([health("a", "Apple"), health("b", "Banana")], [])
    assert page.letters == ()


def test_no_sources_is_one_page_and_every_path_is_a_directory_path() -> None:
    (page,) = directory_pages([], [])
    assert page.path == "sources.html" and page.sources == () and page.total == 0
    for number in (1, 2, 10, 317):
        assert DIRECTORY_PAGE.fullmatch(directory_path(number))
    for other in ("sources-0.html", "sources-01.html", "sources-.html", "sources.htm", "x.html"):
        assert not DIRECTORY_PAGE.fullmatch(other)


def test_the_summary_counts_every_failing_source_and_names_the_worst(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(directory, "FRONT_PROBLEMS", 3)
    rows = [
        health("fine", "Fine"),
        health("flaky", "Flaky", failures=1),
        health("down", "Down", failures=9),
        health("off", "Off", failures=2, disabled="gone for good (HTTP 410)"),
        health("worse", "Worse", failures=4),
        SourceHealth("never", "Never", None),  # never fetched
    ]
    summary = sources_summary(rows)
    assert (summary.total, summary.failing, summary.disabled) == (6, 4, 1)
    assert [s.name for s in summary.problems] == ["off", "down", "worse"]  # disabled first
    assert summary.checked == NOW and summary.directory == "sources.html"
    nothing = sources_summary([])
    assert (nothing.total, nothing.failing, nothing.problems, nothing.checked) == (0, 0, (), None)


def test_only_pages_whose_health_changed_are_rendered_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(directory, "SOURCES_PER_PAGE", 2)
    rows = [health(n, n) for n in "abcde"]
    pages = directory_pages(rows, [])
    everything, digests = changed_pages(pages, None)
    assert everything == pages and len(digests) == 3

    later = [
        # a later fetch of every source: times alone change nothing
        health(n, n) if n != "c" else health("c", "c", failures=1)
        for n in "abcde"
    ]
    moved = [dataclasses.replace(s, last_fetch=NOW + timedelta(days=1)) for s in later]
    changed, after = changed_pages(directory_pages(moved, []), digests)
    assert [p.path for p in changed] == ["sources-2.html"]
    assert after[0] == digests[0] and after[2] == digests[2] and after[1] != digests[1]
    # a source added to the last page changes that page; a page beyond those known is new
    grown, _ = changed_pages(directory_pages([*rows, health("f", "f")], []), digests)
    assert [p.path for p in grown] == ["sources-3.html"]
    longer, _ = changed_pages(pages, digests[:2])
    assert [p.path for p in longer] == ["sources-3.html"]

"""Pure planning of the source directory: every source with its health, a page at a time.

The front page names the sources only in summary (how many, how many
failing, the worst few); the directory lists each of them with its fetch
health and subscribe links, ``SOURCES_PER_PAGE`` to a page, ordered by title
(``sources.html``, ``sources-2.html``, ...), so no page grows with the number
of sources configured; each page links the others and where each first
letter of the titles begins. Which page a source is on depends on the configured
sources alone, so a source's own page can link to its row without reading
the others' health. ``health_digest`` says what a page shows of its sources'
health, fetch times aside: a publish re-renders only the directory pages whose
digest changed. Nothing here touches the file system, the clock or the database.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence

from feedsvc.config_types import SourceConfig
from feedsvc.publish.pagespec import DirectoryPage, SourceHealth, SourcesSummary, latest_fetch
from feedsvc.publish.plan import PAGE_SUFFIX, listing_page
from feedsvc.types import FeedListing, SourceState

# Sources on one page of the directory (about 0.7 KB of HTML each: 140 KB a page).
SOURCES_PER_PAGE = 200
# Failing or disabled sources the front page names (the directory has them all).
FRONT_PROBLEMS = 20
DIRECTORY = "sources"
# The path of any page of the directory (what pruning may remove at the output's root).
DIRECTORY_PAGE = re.compile(rf"{DIRECTORY}(-[1-9][0-9]*)?{re.escape(PAGE_SUFFIX)}")


def directory_path(number: int) -> str:
    """The path of the directory's page ``number`` (from 1): sources.html, sources-2.html, ..."""
    suffix = "" if number == 1 else f"-{number}"
    return f"{DIRECTORY}{suffix}{PAGE_SUFFIX}"


def _order(title: str, name: str) -> tuple[str, str]:
    return (title.casefold(), name)


def _page_of(position: int) -> str:
    """The directory page of the source at ``position`` (from 0) in title order."""
    return directory_path(1 + position // SOURCES_PER_PAGE)


def directory_of(sources: Iterable[SourceConfig]) -> dict[str, str]:
    """The directory page each source's row is on, by source name."""
    ordered = sorted(sources, key=lambda s: _order(s.title, s.name))
    return {s.name: _page_of(i) for i, s in enumerate(ordered)}


def source_health(
    states: Iterable[SourceState], sources: Sequence[SourceConfig], listings: Sequence[FeedListing]
) -> tuple[SourceHealth, ...]:
    """Each configured source's fetch health, in configuration order."""
    by_name = {state.name: state for state in states}
    pages = {listing.key: listing_page(listing) for listing in listings if listing.kind == "source"}
    found = []
    for source in sources:
        state = by_name.get(source.name)
        page = pages.get(source.name)
        if state is None:
            found.append(SourceHealth(source.name, source.title, page))
            continue
        found.append(
            SourceHealth(
                name=source.name,
                title=source.title,
                page=page,
                status=state.last_status,
                last_fetch=state.last_fetch,
                http_status=state.http_status,
                error=state.last_error,
                failures=state.failures,
                next_fetch=state.next_fetch_after,
                disabled=state.disabled_reason if state.disabled_at else None,
            )
        )
    return tuple(found)


def listed_health(listings: Sequence[FeedListing]) -> tuple[SourceHealth, ...]:
    """The sources with a feed, never fetched (the health shown without a store at hand)."""
    return tuple(
        SourceHealth(listing.key, listing.title, listing_page(listing))
        for listing in listings
        if listing.kind == "source"
    )


def directory_pages(
    health: Sequence[SourceHealth], listings: Sequence[FeedListing]
) -> list[DirectoryPage]:
    """Every page of the directory: the sources ordered by title, ``SOURCES_PER_PAGE`` to a page.

    A directory of no sources is one page saying so (the front page links to
    it). A directory of several pages says on each where every first letter
    of the titles begins.
    """
    ordered = sorted(health, key=lambda s: _order(s.title, s.name))
    feeds: Mapping[str, FeedListing] = {
        listing.key: listing for listing in listings if listing.kind == "source"
    }
    paths = tuple(_page_of(start) for start in range(0, max(1, len(ordered)), SOURCES_PER_PAGE))
    letters: dict[str, tuple[str, str, str]] = {}
    for position, source in enumerate(ordered):
        letter = first_letter(source.title)
        if letter not in letters:
            letters[letter] = (letter, _page_of(position), source.name)
    jumps = tuple(letters.values()) if len(paths) > 1 else ()
    pages = []
    for index, path in enumerate(paths):
        start = index * SOURCES_PER_PAGE
        rows = tuple(ordered[start : start + SOURCES_PER_PAGE])
        listed = tuple(feeds[s.name] for s in rows if s.name in feeds)
        pages.append(
            DirectoryPage(path, index + 1, paths, rows, listed, start + 1, len(ordered), jumps)
        )
    return pages


def first_letter(title: str) -> str:
    """The letter a title is listed under: its first character's capital, "#" for any other."""
    first = title.strip()[:1]
    return first.upper() if first.isalpha() else "#"


def sources_summary(health: Sequence[SourceHealth]) -> SourcesSummary:
    """What the front page says of the sources: counts, the worst ``FRONT_PROBLEMS``, the directory.

    The worst are the disabled ones first, then the most failures in a row,
    then by title.
    """
    failing = [s for s in health if s.failing]
    worst = sorted(failing, key=lambda s: (not s.disabled, -s.failures, *_order(s.title, s.name)))
    return SourcesSummary(
        total=len(health),
        failing=len(failing),
        disabled=sum(1 for s in health if s.disabled),
        problems=tuple(worst[:FRONT_PROBLEMS]),
        checked=latest_fetch(tuple(health)),
        directory=directory_path(1),
    )


def health_digest(health: Iterable[SourceHealth]) -> str:
    """A digest of what a page says of each source's health, fetch times aside.

    Failing or not (ok and not-modified are both "ok"), the error, the failure
    count and a disabled reason: when it changes, the page is worth rewriting
    even if no story changed; the times of the last and next fetch change on
    every run and alone are not.
    """
    lines = []
    for source in health:
        failing = source.status == "error"
        status = "never" if source.status is None else ("error" if failing else "ok")
        http = source.http_status if failing else None
        fields = (source.name, status, http, source.error, source.failures, source.disabled)
        lines.append(repr(fields))
    return hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()


def changed_pages(
    pages: Sequence[DirectoryPage], before: Sequence[str] | None
) -> tuple[list[DirectoryPage], list[str]]:
    """The directory pages whose health differs from the digests ``before``, and the new digests.

    Every page counts as changed when ``before`` is None (nothing known).
    """
    digests = [health_digest(page.sources) for page in pages]
    known = list(before or ())
    changed = [
        page
        for i, (page, digest) in enumerate(zip(pages, digests, strict=True))
        if before is None or i >= len(known) or known[i] != digest
    ]
    return changed, digests

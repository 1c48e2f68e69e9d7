"""Which id an article keeps from one fetch to the next (``feedsvc.identity``).

A site that moves to https changes its links (the id of an entry with no
guid) and the address its feed is read from (against which feedparser
resolves a guid written relative to it); a feed that starts giving guids
changes every entry's id; a CMS that gives different entries one guid made
the store keep one of them. Each made a second article beside the first, or
lost articles.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import feedparser

from feedsvc.config_types import SourceConfig
from feedsvc.identity import trusted_ids
from feedsvc.processing import process_fetched
from feedsvc.service import Service
from feedsvc.store import Store
from feedsvc.types import Document, Fetched, RawEntry
from tests.support.configs import feed_source, write_config
from tests.support.httpserver import LoopbackServer

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
SOURCE = SourceConfig(name="quay", title="Quay", kind="feed", url="http://quay.test/feed.xml")
STORIES = [
    ("q1", "Dredger arrives at Kellmouth", "The dredger Maren arrived to clear silt."),
    ("q2", "Night market returns", "Stalls fill the old fish hall again."),
]


def rss(items: str) -> bytes:
    return f'<rss version="2.0"><channel><title>Quay</title>{items}</channel></rss>'.encode()


def with_relative_guids() -> bytes:
    return rss("".join(f"<item><guid>{g}</guid><title>{t}</title></item>" for g, t, _ in STORIES))


def linked(scheme: str) -> str:
    return "".join(
        f"<item><title>{t}</title><link>{scheme}://quay.test/news/{g}</link>"
        f"<description>{d}</description></item>"
        for g, t, d in STORIES
    )


def with_links(scheme: str) -> bytes:
    return rss(linked(scheme))


def fetched(url: str, body: bytes) -> Fetched:
    document = Document(url, body, "application/rss+xml")
    return Fetched("quay", url, url, 200, (document,))


def test_a_guid_relative_to_a_feed_that_moved_to_https_keeps_its_id() -> None:
    first = process_fetched(
        fetched("http://quay.test/feed.xml", with_relative_guids()), SOURCE, NOW
    )
    ids = sorted(a.id for a in first.articles)
    assert ids == ["http://quay.test/q1", "http://quay.test/q2"]  # resolved by feedparser
    moved = fetched("https://quay.test/feed.xml", with_relative_guids())
    later = process_fetched(moved, SOURCE, NOW, None, first.entries)
    assert sorted(a.id for a in later.articles) == ids
    assert later.entries is not None and sorted(later.entries) == ids
    # with nothing remembered, the ids are the new addresses, as feedparser gives them
    alone = process_fetched(moved, SOURCE, NOW)
    assert sorted(a.id for a in alone.articles) == [f"https{i[4:]}" for i in ids]


def test_an_id_is_not_taken_from_an_entry_of_the_same_fetch() -> None:
    first = process_fetched(fetched("http://quay.test/feed.xml", with_links("http")), SOURCE, NOW)
    both = fetched("http://quay.test/feed.xml", rss(linked("http") + linked("https")))
    later = process_fetched(both, SOURCE, NOW, None, first.entries)
    assert later.entries is not None
    assert sorted(later.entries) == sorted(
        f"{s}://quay.test/news/{g}" for s in ("http", "https") for g in ("q1", "q2")
    )


def test_a_site_moving_to_https_updates_its_articles(
    tmp_path: Path, loopback_server: LoopbackServer
) -> None:
    server = loopback_server
    server.route("/feed.xml", body=with_links("http"))
    service = Service.from_path(
        write_config(tmp_path, [feed_source("quay", server.url("/feed.xml"))])
    )
    assert service.run_once(force=True, workers=1).sources[0].new == 2
    feed = service.config.settings.output_dir / "sources" / "quay.atom"
    before = {e.title: e.id for e in feedparser.parse(feed.read_bytes()).entries}

    server.route("/feed.xml", body=with_links("https"))
    result = service.run_once(force=True, workers=1).sources[0]
    assert (result.new, result.updated) == (0, 2)
    entries = feedparser.parse(feed.read_bytes()).entries
    assert {e.title: e.id for e in entries} == before
    assert {e.link for e in entries} == {f"https://quay.test/news/{g}" for g, _, _ in STORIES}
    with Store.open(service.config.settings.database_url) as store:
        assert len(store.recent_articles(10)) == 2


def guided(items: list[tuple[str, str, str]]) -> bytes:
    """Items of (guid, link slug, title); an empty guid leaves the item without one."""
    return rss(
        "".join(
            (f'<item><guid isPermaLink="false">{g}</guid>' if g else "<item>")
            + f"<title>{t}</title><link>http://quay.test/news/{k}</link></item>"
            for g, k, t in items
        )
    )


ONE_GUID = [("story", g, t) for g, t, _ in STORIES] + [("story", "q3", "Ferry fares rise")]


def test_entries_sharing_a_guid_are_known_by_their_links() -> None:
    # the store keeps one article an id: two of these three were lost
    processed = process_fetched(fetched("http://quay.test/feed.xml", guided(ONE_GUID)), SOURCE, NOW)
    assert sorted(a.id for a in processed.articles) == [
        f"http://quay.test/news/{k}" for k in ("q1", "q2", "q3")
    ]
    (warning,) = processed.warnings
    assert "3 entries with different links share the guid 'story'" in warning

    # one of them alone with the guid next time keeps the id it has
    alone = fetched("http://quay.test/feed.xml", guided(ONE_GUID[1:2]))
    later = process_fetched(alone, SOURCE, NOW, None, processed.entries)
    assert [a.id for a in later.articles] == ["http://quay.test/news/q2"]
    assert later.warnings == ()


def test_a_guid_given_twice_to_one_entry_is_kept() -> None:
    twice = [ONE_GUID[0], ONE_GUID[0], ("other", "q2", STORIES[1][1])]
    processed = process_fetched(fetched("http://quay.test/feed.xml", guided(twice)), SOURCE, NOW)
    assert sorted(a.id for a in processed.articles) == ["other", "story"]
    assert processed.warnings == ()


def test_a_feed_that_starts_giving_guids_keeps_its_articles() -> None:
    bare = [("", g, t) for g, t, _ in STORIES]
    first = process_fetched(fetched("http://quay.test/feed.xml", guided(bare)), SOURCE, NOW)
    ids = sorted(a.id for a in first.articles)
    assert ids == ["http://quay.test/news/q1", "http://quay.test/news/q2"]
    with_guids = [(f"tag:quay.test,2026:{g}", g, t) for _, g, t in bare]
    later = fetched("https://quay.test/feed.xml", guided(with_guids))
    assert (
        sorted(a.id for a in process_fetched(later, SOURCE, NOW, None, first.entries).articles)
        == ids
    )


def test_entries_sharing_a_link_and_no_guid_are_known_by_their_text() -> None:
    # a status page's feed: every item links to the page itself
    items = "".join(
        f"<item><title>{t}</title><link>http://quay.test/status</link>"
        f"<description>{d}</description></item>"
        for _, t, d in [*STORIES, STORIES[0]]  # the first one given twice
    )
    processed = process_fetched(fetched("http://quay.test/feed.xml", rss(items)), SOURCE, NOW)
    assert len(processed.articles) == 2
    assert all(a.id.startswith("sha256:") for a in processed.articles)
    assert {a.url for a in processed.articles} == {"http://quay.test/status"}  # still their link
    (warning,) = processed.warnings
    assert "3 entries share the link 'http://quay.test/status' but differ" in warning


def described(items: list[tuple[str, str, str, str]]) -> bytes:
    """Items of (guid, link slug, title, text)."""
    return rss(
        "".join(
            f'<item><guid isPermaLink="false">{g}</guid><title>{t}</title>'
            f"<link>http://quay.test/{k}</link><description>{d}</description></item>"
            for g, k, t, d in items
        )
    )


def test_a_guid_made_anew_at_each_request_keeps_the_first_id() -> None:
    first_items = [(f"r-{n}", g, t, d) for n, (g, t, d) in enumerate(STORIES)]
    first = process_fetched(
        fetched("http://quay.test/feed.xml", described(first_items)), SOURCE, NOW
    )
    again = [(f"s-{n}", k, t, d) for n, (_, k, t, d) in enumerate(first_items)]
    later = process_fetched(
        fetched("http://quay.test/feed.xml", described(again)), SOURCE, NOW, None, first.entries
    )
    assert sorted(a.id for a in later.articles) == ["r-0", "r-1"]


def test_a_new_issue_of_one_title_and_link_is_a_new_article() -> None:
    # a daily digest: the same title and link every day, another text
    monday = [("d-1", "digest", "Harbour digest", "Dredging starts on Monday.")]
    first = process_fetched(fetched("http://quay.test/feed.xml", described(monday)), SOURCE, NOW)
    tuesday = [("d-2", "digest", "Harbour digest", "The fish hall reopens on Tuesday.")]
    later = process_fetched(
        fetched("http://quay.test/feed.xml", described(tuesday)), SOURCE, NOW, None, first.entries
    )
    assert [a.id for a in later.articles] == ["d-2"]


def test_trusted_ids_drops_only_the_shared_ones() -> None:
    raws = [
        RawEntry(guid="a", link="http://x.test/1", title="One"),
        RawEntry(guid=" a ", link="http://x.test/2", title="Two"),
        RawEntry(guid="b", link="http://x.test/3", title="Three"),
        RawEntry(guid="c", link="http://x.test/4", title="Four"),
        RawEntry(guid="c", link="http://x.test/4", title="Four, revised"),  # a later version
    ]
    kept, warnings = trusted_ids(raws)
    assert [r.guid for r in kept] == [None, None, "b", "c", "c"]
    assert warnings == [
        "2 entries with different links share the guid 'a': they are known by their links instead"
    ]

"""Entries seen again unchanged in a changed body are not read again; nothing stored differs.

What is pinned: a changed body normalises only its new and changed entries,
the others are touched (``last_seen``) and counted unchanged, and the store
holds exactly what a store that read the last body whole holds; a changed
source, vocabulary, normalising code or analysis code reads every entry
again; an entry dated so far ahead that its date is clamped is read every
time; a remembered entry whose article is not stored is read again; of two
entries with one id the last still wins; memos stored before entries had
digests still give their keys.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml

from feedsvc import normalise as normalise_module
from feedsvc import processing as processing_module
from feedsvc.config_types import SourceConfig
from feedsvc.processing import process_fetched
from feedsvc.service import Service
from feedsvc.store import Store
from feedsvc.store.schema import articles, sources
from feedsvc.stories import stored as stored_module
from feedsvc.types import Article, Document, EntryMemo, Fetched
from tests.support.configs import feed_source, write_config
from tests.support.httpserver import LoopbackServer

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)

Item = tuple[str, str, str, str]  # guid, title, text, RFC 822 date

ITEMS: list[Item] = [
    ("q1", "Dredger arrives at Kellmouth", "The dredger Maren arrived to clear silt.",
     "Sat, 21 Nov 2026 06:00:00 GMT"),
    ("q2", "Night market returns", "Stalls fill the old fish hall again.",
     "Sat, 21 Nov 2026 07:00:00 GMT"),
    ("q3", "Ferry timetable changes", "Sailings to Lowmere move to the afternoon.",
     "Sat, 21 Nov 2026 08:00:00 GMT"),
]  # fmt: skip
NEW: Item = ("q4", "Harbour wall repaired", "Masons finished it.", "Sat, 21 Nov 2026 09:00:00 GMT")
EDITED: Item = ("q3", "Ferry timetable changes", "Sailings move to the morning.", ITEMS[2][3])


def rss(items: list[Item]) -> bytes:
    body = "".join(
        f"<item><guid>{guid}</guid><title>{title}</title><link>http://quay.test/{guid}</link>"
        f"<description>{text}</description><pubDate>{date}</pubDate></item>"
        for guid, title, text, date in items
    )
    return f'<rss version="2.0"><channel><title>Quay</title>{body}</channel></rss>'.encode()


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def normalised(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The titles of the entries normalised (one worker: in this process)."""
    titles: list[str] = []
    real = normalise_module.normalise

    def counting(raw: Any, source: SourceConfig, now: datetime) -> Article:
        titles.append(raw.title)
        return real(raw, source, now)

    monkeypatch.setattr(normalise_module, "normalise", counting)
    return titles


def quay_service(tmp_path: Path, server: LoopbackServer, clock: Clock, **extra: Any) -> Service:
    tmp_path.mkdir(exist_ok=True)
    config = write_config(tmp_path, [feed_source("quay", server.url("/feed.xml"), **extra)])
    return Service.from_path(config, clock=clock)


def stored(service: Service) -> dict[str, Any]:
    with service.open_store() as store, store.engine.connect() as connection:
        rows = connection.execute(sa.select(articles).order_by(articles.c.id)).mappings().all()
    return {row["id"]: dict(row) for row in rows}


def without_times(rows: dict[str, Any]) -> dict[str, Any]:
    return {k: {c: v for c, v in row.items() if c not in ("first_seen", "last_seen")}
            for k, row in rows.items()}  # fmt: skip


def test_a_changed_body_normalises_only_its_new_and_changed_entries(
    tmp_path: Path, loopback_server: LoopbackServer, normalised: list[str]
) -> None:
    server, clock = loopback_server, Clock()
    server.route("/feed.xml", body=rss(ITEMS))
    service = quay_service(tmp_path / "a", server, clock)
    service.run_once(force=True, workers=1)
    assert sorted(normalised) == sorted(i[1] for i in ITEMS)

    final = [*ITEMS[:2], EDITED, NEW]
    server.route("/feed.xml", body=rss(final))
    normalised.clear()
    clock.now = NOW + timedelta(hours=1)
    result = service.run_once(force=True, workers=1)
    assert (result.sources[0].new, result.sources[0].updated) == (1, 1)
    assert sorted(normalised) == ["Ferry timetable changes", "Harbour wall repaired"]
    rows = stored(service)
    assert {k: r["last_seen"] for k, r in rows.items()} == dict.fromkeys(rows, clock.now)
    assert rows[stored_id(rows, "q1")]["first_seen"] == NOW

    # what is stored is what a store that read the last body whole holds
    fresh = quay_service(tmp_path / "b", server, clock)
    fresh.run_once(force=True, workers=1)
    assert without_times(stored(fresh)) == without_times(rows)

    # the body stored again remembers every entry: the next change reads only its own
    server.route("/feed.xml", body=rss([*final, ("q5", "Pier lights", "New lamps.", NEW[3])]))
    normalised.clear()
    service.run_once(force=True, workers=1)
    assert normalised == ["Pier lights"]


def stored_id(rows: dict[str, Any], guid: str) -> str:
    (found,) = [k for k, r in rows.items() if r["url"] == f"http://quay.test/{guid}"]
    return found


def add_tag_rule(config: Path) -> None:
    data = yaml.safe_load(config.read_text())
    data["tags"] = {"ferries": {"title": "Ferries", "match": {"any": ["ferry"]}}}
    config.write_text(yaml.safe_dump(data, sort_keys=False))


def set_source_tags(config: Path) -> None:
    data = yaml.safe_load(config.read_text())
    data["sources"][0]["tags"] = ["coast"]
    data["tags"] = {"coast": {"title": "The coast"}}
    config.write_text(yaml.safe_dump(data, sort_keys=False))


@pytest.mark.parametrize("change", [add_tag_rule, set_source_tags], ids=["rule", "source"])
def test_a_changed_source_or_vocabulary_reads_every_entry_again(
    tmp_path: Path,
    loopback_server: LoopbackServer,
    normalised: list[str],
    change: Callable[[Path], None],
) -> None:
    server, clock = loopback_server, Clock()
    server.route("/feed.xml", body=rss(ITEMS))
    config = write_config(tmp_path, [feed_source("quay", server.url("/feed.xml"))])
    Service.from_path(config, clock=clock).run_once(force=True, workers=1)
    change(config)
    server.route("/feed.xml", body=rss([*ITEMS, NEW]))
    normalised.clear()
    Service.from_path(config, clock=clock).run_once(force=True, workers=1)
    assert sorted(normalised) == sorted(i[1] for i in [*ITEMS, NEW])


@pytest.mark.parametrize(
    ("module", "name"),
    [(processing_module, "normalising_code"), (stored_module, "analysis_code")],
    ids=["normalising", "analysis"],
)
def test_new_code_reads_every_entry_again(
    tmp_path: Path,
    loopback_server: LoopbackServer,
    normalised: list[str],
    monkeypatch: pytest.MonkeyPatch,
    module: object,
    name: str,
) -> None:
    # an entry seen again keeps its stored form and analysis: after an upgrade
    # (a sanitiser fixed, an analysis changed) each is made again, once
    server, clock = loopback_server, Clock()
    server.route("/feed.xml", body=rss(ITEMS))
    service = quay_service(tmp_path, server, clock)
    service.run_once(force=True, workers=1)
    monkeypatch.setattr(module, name, lambda: "other code")
    server.route("/feed.xml", body=rss([*ITEMS, NEW]))
    normalised.clear()
    service.run_once(force=True, workers=1)
    assert sorted(normalised) == sorted(i[1] for i in [*ITEMS, NEW])


def test_an_entry_dated_far_ahead_is_read_every_time(
    tmp_path: Path, loopback_server: LoopbackServer, normalised: list[str]
) -> None:
    server, clock = loopback_server, Clock()
    ahead: Item = ("q9", "Regatta next week", "Boats gather.", "Sat, 28 Nov 2026 06:00:00 GMT")
    server.route("/feed.xml", body=rss([*ITEMS, ahead]))
    service = quay_service(tmp_path, server, clock)
    service.run_once(force=True, workers=1)
    server.route("/feed.xml", body=rss([*ITEMS, ahead, NEW]))
    normalised.clear()
    service.run_once(force=True, workers=1)
    assert sorted(normalised) == ["Harbour wall repaired", "Regatta next week"]


def test_a_remembered_entry_whose_article_is_not_stored_is_read_again(
    tmp_path: Path, loopback_server: LoopbackServer, normalised: list[str]
) -> None:
    server, clock = loopback_server, Clock()
    server.route("/feed.xml", body=rss(ITEMS))
    service = quay_service(tmp_path, server, clock)
    service.run_once(force=True, workers=1)
    with service.open_store() as store, store.engine.begin() as connection:
        gone = stored_id(stored(service), "q2")
        connection.execute(sa.delete(articles).where(articles.c.id == gone))
    server.route("/feed.xml", body=rss([*ITEMS, NEW]))
    normalised.clear()
    result = service.run_once(force=True, workers=1)
    assert sorted(normalised) == ["Harbour wall repaired", "Night market returns"]
    assert result.sources[0].new == 2
    assert len(stored(service)) == 4


def fetched(items: list[Item]) -> Fetched:
    document = Document("http://quay.test/feed.xml", rss(items), "application/rss+xml")
    return Fetched("quay", document.url, document.url, 200, (document,))


SOURCE = SourceConfig(name="quay", title="Quay", kind="feed", url="http://quay.test/feed.xml")


def test_of_two_entries_with_one_id_the_last_still_wins() -> None:
    first = process_fetched(fetched(ITEMS), SOURCE, NOW)
    assert first.entries is not None and first.seen == ()
    assert {memo.raw is not None for memo in first.entries.values()} == {True}

    # the unchanged one last: nothing to write, it is seen again
    later = process_fetched(fetched([EDITED, *ITEMS]), SOURCE, NOW, None, first.entries)
    assert (later.articles, len(later.seen)) == ((), 3)
    assert later.entries == first.entries

    # the changed one last: it is written, and not seen again
    later = process_fetched(fetched([*ITEMS, EDITED]), SOURCE, NOW, None, first.entries)
    ((article,),) = (later.articles,)
    assert article.text == EDITED[2] and article.id not in later.seen and len(later.seen) == 2
    assert later.entries is not None and later.entries[article.id] != first.entries[article.id]


def test_memos_stored_before_entries_had_digests_still_give_their_keys(store_url: str) -> None:
    with Store.open(store_url) as store:
        store.sync_sources([SOURCE], NOW)
        with store.engine.begin() as connection:
            connection.execute(sa.update(sources).values(body_entries='{"a": "key-a", "b": 3}'))
        assert store.body_entries("quay") == {"a": EntryMemo("key-a")}

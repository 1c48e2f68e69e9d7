"""The Store against real SQLite files and a real PostgreSQL server (``store_url`` in conftest)."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from contextlib import closing
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from feedsvc.errors import StoreError
from feedsvc.store import Store
from feedsvc.store.schema import articles as articles_table
from feedsvc.types import Article, FetchIntent, RedirectState, SourceConfig

T0 = datetime(2031, 5, 4, 9, 30, tzinfo=UTC)
HOUR = timedelta(hours=1)


def feed(name: str, **changes: Any) -> SourceConfig:
    base = SourceConfig(
        name=name, title=name.title(), kind="feed", url=f"https://{name}.example/rss"
    )
    return replace(base, **changes)


def article(source: str, n: int, **changes: Any) -> Article:
    base = Article(
        source=source,
        id=f"{source}-{n}",
        url=f"https://{source}.example/story/{n}",
        title=f"Ferry timetable change {n}",
        summary=f"The harbour board moved sailing {n}.",
        content_html=f"<p>Sailing {n} now leaves at dawn.</p>",
        text=f"Sailing {n} now leaves at dawn.",
        published=T0 + timedelta(minutes=n),
        updated=None,
        date_estimated=False,
        content_hash=f"hash-{source}-{n}",
        authors=("R. Quayle",),
        language="en",
        categories=("Transport",),
        tags=("transport",),
    )
    return replace(base, **changes)


def ok(source: str, at: datetime = T0, **changes: Any) -> FetchIntent:
    base = FetchIntent(source=source, fetched_at=at, status="ok", next_fetch_after=at + HOUR)
    return replace(base, **changes)


def failed(source: str, at: datetime = T0, error: str = "connection refused") -> FetchIntent:
    return FetchIntent(
        source=source, fetched_at=at, status="error", next_fetch_after=at + HOUR, error=error
    )


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    with Store.open(store_url) as opened:
        opened.sync_sources([feed("gazette"), feed("courier")], T0)
        yield opened


def stored_row(store: Store, source: str, article_id: str) -> Any:
    stmt = sa.select(articles_table).where(
        articles_table.c.source == source, articles_table.c.id == article_id
    )
    with store.engine.connect() as connection:
        return connection.execute(stmt).one()


# --------------------------------------------------------------------------- opening


def test_open_creates_parent_directory_and_wal_database(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "feedsvc.sqlite"
    with Store.open(f"sqlite:///{path}") as store:
        with store.engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert store.source_states() == []
    assert path.is_file()


def test_open_failures_are_store_errors(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory\n")
    with pytest.raises(StoreError, match="directory"):
        Store.open(f"sqlite:///{blocker / 'feedsvc.sqlite'}")
    with pytest.raises(StoreError):
        Store.open("nosuchengine://nowhere/db")
    garbage = tmp_path / "garbage.sqlite"
    garbage.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match="opening database"):
        Store.open(f"sqlite:///{garbage}")


def test_closed_store_refuses_work(store: Store) -> None:
    store.close()
    store.close()
    with pytest.raises(StoreError, match="closed"):
        store.source_states()


# --------------------------------------------------------------------------- sources


def test_sync_sources_inserts_new_sources_due_now(store: Store) -> None:
    states = store.source_states()
    assert [s.name for s in states] == ["courier", "gazette"]
    gazette = store.source_state("gazette")
    assert gazette is not None
    assert gazette.location == "https://gazette.example/rss"
    assert (gazette.next_fetch_after, gazette.failures, gazette.article_count) == (None, 0, 0)
    assert store.source_state("nobody") is None


def test_sync_sources_updates_known_sources_and_keeps_fetch_state(store: Store) -> None:
    store.record_fetch(ok("gazette", etag='"v1"', last_modified="Sun, 04 May 2031 09:00:00 GMT"))
    store.record_fetch(ok("courier", etag='"c1"'))
    store.sync_sources(
        [
            feed("gazette", title="The Gazette", enabled=False),
            feed("courier", url="https://c.example/"),
        ],
        T0 + HOUR,
    )
    gazette, courier = store.source_state("gazette"), store.source_state("courier")
    assert gazette is not None and courier is not None
    assert (gazette.etag, gazette.next_fetch_after) == ('"v1"', T0 + HOUR)
    assert gazette.name not in {s.name for s in store.due_sources(T0 + 2 * HOUR)}
    assert courier.location == "https://c.example/"
    assert (courier.etag, courier.last_modified) == (None, None)
    assert (courier.last_status, courier.next_fetch_after) == ("ok", T0 + HOUR)


def test_sync_sources_marks_missing_sources_removed_and_keeps_their_articles(store: Store) -> None:
    store.save_batch("courier", [article("courier", 1)], ok("courier"))
    store.sync_sources([feed("gazette")], T0 + HOUR)
    assert [s.name for s in store.source_states()] == ["gazette"]
    assert store.source_state("courier") is None
    assert [s.name for s in store.due_sources(T0 + 9 * HOUR)] == ["gazette"]
    assert store.recent_articles(10) == []
    assert store.article("courier", "courier-1") == article("courier", 1)
    store.sync_sources([feed("gazette"), feed("courier")], T0 + 2 * HOUR)
    courier = store.source_state("courier")
    assert courier is not None
    assert (courier.article_count, courier.last_status) == (1, "ok")


def test_sync_sources_rejects_duplicate_names(store: Store) -> None:
    with pytest.raises(ValueError, match="twice"):
        store.sync_sources([feed("gazette"), feed("gazette")], T0)


def test_due_sources_orders_never_fetched_first_then_by_time_then_name(store: Store) -> None:
    store.sync_sources([feed(n) for n in ("gazette", "courier", "bulletin", "almanac")], T0)
    store.record_fetch(ok("gazette", next_fetch_after=T0 + 2 * HOUR))
    store.record_fetch(ok("courier", next_fetch_after=T0 + HOUR))
    store.record_fetch(ok("almanac", next_fetch_after=T0 + HOUR))
    assert [s.name for s in store.due_sources(T0)] == ["bulletin"]
    assert [s.name for s in store.due_sources(T0 + HOUR - timedelta(microseconds=1))] == [
        "bulletin"
    ]
    assert [s.name for s in store.due_sources(T0 + HOUR)] == ["bulletin", "almanac", "courier"]
    assert [s.name for s in store.due_sources(T0 + 3 * HOUR)] == [
        "bulletin",
        "almanac",
        "courier",
        "gazette",
    ]


def test_record_fetch_counts_failures_keeps_validators_and_resets(store: Store) -> None:
    store.record_fetch(ok("gazette", etag='"v1"', last_modified="Sat, 03 May 2031 10:00:00 GMT"))
    store.record_fetch(failed("gazette", T0 + HOUR))
    store.record_fetch(failed("gazette", T0 + 2 * HOUR, error="HTTP 503"))
    state = store.source_state("gazette")
    assert state is not None
    assert (state.failures, state.last_status, state.last_error) == (2, "error", "HTTP 503")
    assert (state.etag, state.last_fetch) == ('"v1"', T0 + 2 * HOUR)
    store.record_fetch(ok("gazette", T0 + 3 * HOUR, status="not-modified", http_status=304))
    state = store.source_state("gazette")
    assert state is not None
    assert (state.failures, state.last_status, state.http_status) == (0, "not-modified", 304)
    assert (state.last_error, state.etag, state.next_fetch_after) == (None, '"v1"', T0 + 4 * HOUR)


def test_record_fetch_of_unknown_source_is_an_error(store: Store) -> None:
    with pytest.raises(StoreError, match="unknown source"):
        store.record_fetch(ok("nobody"))


# --------------------------------------------------------------------------- articles


def test_save_batch_counts_new_updated_unchanged(store: Store) -> None:
    first = store.save_batch("gazette", [article("gazette", n) for n in range(3)], ok("gazette"))
    assert (first.new, first.updated, first.unchanged) == (3, 0, 0)
    again = [article("gazette", 0), article("gazette", 1, title="Ferry timetable revised")]
    second = store.save_batch("gazette", [*again, article("gazette", 3)], ok("gazette", T0 + HOUR))
    assert (second.new, second.updated, second.unchanged) == (1, 1, 1)
    assert store.article("gazette", "gazette-1") == again[1]
    state = store.source_state("gazette")
    assert state is not None and state.article_count == 4


def test_reingesting_the_same_batch_is_idempotent(store: Store) -> None:
    batch = [article("gazette", n) for n in range(5)]
    store.save_batch("gazette", batch, ok("gazette"))
    result = store.save_batch("gazette", batch, ok("gazette", T0 + HOUR))
    assert (result.new, result.updated, result.unchanged) == (0, 0, 5)
    assert store.recent_articles(100) == sorted(batch, key=lambda a: a.published, reverse=True)
    row = stored_row(store, "gazette", "gazette-2")
    assert (row.first_seen, row.last_seen) == (T0, T0 + HOUR)


def test_every_stored_field_counts_as_a_change(store: Store) -> None:
    store.save_batch("gazette", [article("gazette", 1)], ok("gazette"))
    variants: list[dict[str, Any]] = [
        {"url": None},
        {"summary": "Changed."},
        {"content_html": "<p>Changed.</p>"},
        {"text": "Changed."},
        {"updated": T0 + HOUR},
        {"content_hash": "other"},
        {"authors": ("R. Quayle", "M. Tern")},
        {"language": "cy"},
        {"categories": ()},
        {"dateline": "PORT ELLIS"},
        {"tags": ("ferries",)},
        {"published": T0 - HOUR},
    ]
    for changes in variants:
        result = store.save_batch("gazette", [article("gazette", 1, **changes)], ok("gazette"))
        assert result.updated == 1, changes
        assert store.article("gazette", "gazette-1") == article("gazette", 1, **changes)
        store.save_batch("gazette", [article("gazette", 1)], ok("gazette"))


def test_tags_are_a_set_replaced_on_update(store: Store) -> None:
    store.save_batch("gazette", [article("gazette", 1, tags=("sea", "port", "sea"))], ok("gazette"))
    assert store.article("gazette", "gazette-1") == article("gazette", 1, tags=("port", "sea"))
    same = store.save_batch("gazette", [article("gazette", 1, tags=("sea", "port"))], ok("gazette"))
    assert same.unchanged == 1
    store.save_batch("gazette", [article("gazette", 1, tags=("weather",))], ok("gazette"))
    assert store.tags() == ["weather"]


def test_estimated_date_of_a_known_article_is_kept(store: Store) -> None:
    undated = article("gazette", 1, published=T0, date_estimated=True)
    store.save_batch("gazette", [undated], ok("gazette"))
    later = replace(undated, published=T0 + 5 * HOUR)
    result = store.save_batch("gazette", [later], ok("gazette", T0 + 5 * HOUR))
    assert result.unchanged == 1
    assert store.article("gazette", "gazette-1") == undated
    dated = replace(undated, published=T0 - HOUR, date_estimated=False)
    assert store.save_batch("gazette", [dated], ok("gazette")).updated == 1
    store.save_batch("gazette", [later], ok("gazette", T0 + 6 * HOUR))
    assert store.article("gazette", "gazette-1") == dated


def test_datetimes_come_back_aware_utc(store: Store) -> None:
    east = timezone(timedelta(hours=5, minutes=30))
    local = datetime(2031, 5, 4, 15, 0, tzinfo=east)
    store.save_batch(
        "gazette", [article("gazette", 1, published=local, updated=local)], ok("gazette", local)
    )
    stored = store.article("gazette", "gazette-1")
    assert stored is not None
    assert stored.published == local and stored.published.tzinfo is UTC
    assert stored.updated is not None and stored.updated.tzinfo is UTC
    state = store.source_state("gazette")
    assert state is not None and state.last_fetch is not None
    assert state.last_fetch.tzinfo is UTC and state.last_fetch.hour == 9


def test_naive_datetimes_are_refused(store: Store) -> None:
    naive = article("gazette", 1, published=datetime(2031, 5, 4, 9, 30))
    with pytest.raises(StoreError, match="naive datetime"):
        store.save_batch("gazette", [naive], ok("gazette"))
    with pytest.raises(StoreError, match="naive datetime"):
        store.due_sources(datetime(2031, 5, 4))


def test_save_batch_rejects_articles_of_another_source(store: Store) -> None:
    with pytest.raises(ValueError, match="courier"):
        store.save_batch("gazette", [article("courier", 1)], ok("gazette"))
    with pytest.raises(ValueError, match="intent"):
        store.save_batch("gazette", [article("gazette", 1)], ok("courier"))


def test_duplicate_ids_in_a_batch_last_one_wins(store: Store) -> None:
    batch = [article("gazette", 1, title="First draft"), article("gazette", 1, title="Final")]
    result = store.save_batch("gazette", batch, ok("gazette"))
    assert (result.new, result.updated, result.unchanged) == (1, 0, 0)
    assert store.article("gazette", "gazette-1") == batch[1]


def test_recent_articles_order_limit_and_filters(store: Store) -> None:
    store.sync_sources([feed("gazette"), feed("courier"), feed("bulletin")], T0)
    tie = T0 + timedelta(minutes=2)
    store.save_batch(
        "gazette",
        [article("gazette", 1), article("gazette", 2, tags=("weather",)), article("gazette", 3)],
        ok("gazette"),
    )
    store.save_batch(
        "courier", [article("courier", 2, published=tie, tags=("weather", "port"))], ok("courier")
    )
    store.save_batch("bulletin", [article("bulletin", 9, tags=("weather",))], ok("bulletin"))
    keys = [(a.source, a.id) for a in store.recent_articles(10)]
    assert keys == [
        ("bulletin", "bulletin-9"),
        ("gazette", "gazette-3"),
        ("courier", "courier-2"),
        ("gazette", "gazette-2"),
        ("gazette", "gazette-1"),
    ]
    assert [a.id for a in store.recent_articles(2)] == ["bulletin-9", "gazette-3"]
    assert [a.id for a in store.recent_articles(10, source="courier")] == ["courier-2"]
    weather = store.recent_articles(10, tag="weather")
    assert [a.id for a in weather] == ["bulletin-9", "courier-2", "gazette-2"]
    assert weather[1].tags == ("port", "weather")
    assert store.recent_articles(10, source="gazette", tag="weather")[0].id == "gazette-2"
    assert store.recent_articles(0) == []
    with pytest.raises(ValueError, match="negative"):
        store.recent_articles(-1)


def test_tags_lists_tags_of_configured_sources_sorted(store: Store) -> None:
    assert store.tags() == []
    store.save_batch("gazette", [article("gazette", 1, tags=("port", "weather"))], ok("gazette"))
    store.save_batch("courier", [article("courier", 1, tags=("harbour", "port"))], ok("courier"))
    assert store.tags() == ["harbour", "port", "weather"]
    store.sync_sources([feed("gazette")], T0 + HOUR)
    assert store.tags() == ["port", "weather"]


def test_article_lookup(store: Store) -> None:
    assert store.article("gazette", "gazette-1") is None
    store.save_batch("gazette", [article("gazette", 1)], ok("gazette"))
    assert store.article("gazette", "gazette-1") == article("gazette", 1)
    assert store.article("courier", "gazette-1") is None


# --------------------------------------------------------------------------- all or nothing


def test_failure_mid_batch_leaves_nothing_of_it(store: Store) -> None:
    store.save_batch("gazette", [article("gazette", n) for n in range(3)], ok("gazette", etag="e1"))
    bad = [
        article("gazette", 0, title="Rewritten"),
        article("gazette", 7),
        article("gazette", 8, published=datetime(2031, 5, 4)),
    ]
    with pytest.raises(StoreError):
        store.save_batch("gazette", bad, ok("gazette", T0 + HOUR, etag="e2"))
    assert store.recent_articles(10) == [article("gazette", n) for n in (2, 1, 0)]
    state = store.source_state("gazette")
    assert state is not None
    assert (state.etag, state.last_fetch, state.article_count) == ("e1", T0, 3)


def test_failure_recording_the_fetch_rolls_back_the_articles(store: Store) -> None:
    bogus = ok("gazette", T0 + HOUR, status="bogus")
    with pytest.raises(StoreError, match="saving batch"):
        store.save_batch("gazette", [article("gazette", 1)], bogus)
    assert store.article("gazette", "gazette-1") is None
    state = store.source_state("gazette")
    assert state is not None and state.last_fetch is None


def test_reader_thread_sees_whole_batches_while_writing(store: Store) -> None:
    batches, size = 15, 40
    seen: list[int] = []
    errors: list[BaseException] = []
    done = threading.Event()

    def read() -> None:
        try:
            while not done.is_set():
                seen.append(len(store.recent_articles(batches * size)))
                state = store.source_state("gazette")
                assert state is not None and state.article_count % size == 0
        except BaseException as exc:
            errors.append(exc)

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for b in range(batches):
            rows = [article("gazette", b * size + n) for n in range(size)]
            store.save_batch("gazette", rows, ok("gazette", T0 + b * HOUR))
    finally:
        done.set()
        reader.join(timeout=30)
    assert errors == []
    assert seen and all(count % size == 0 for count in seen)
    assert seen == sorted(seen)
    assert len(store.recent_articles(10_000)) == batches * size


# --------------------------------------------------------------------------- crash safety

WRITER = textwrap.dedent(
    """
    import sys
    from datetime import timedelta
    from feedsvc.store import Store
    from tests.test_store import T0, article, feed, ok

    size = int(sys.argv[2])
    with Store.open(sys.argv[1]) as store:
        store.sync_sources([feed("gazette")], T0)
        batch = 0
        while True:
            rows = [article("gazette", batch * size + n, tags=("a", "b")) for n in range(size)]
            at = T0 + timedelta(seconds=batch)
            store.save_batch("gazette", rows, ok("gazette", at, http_status=batch))
            batch += 1
            if batch == 3:
                print("ready", flush=True)
    """
)


@pytest.mark.slow
def test_killed_writer_leaves_a_consistent_database(tmp_path: Path, repo_dir: Path) -> None:
    path, size = tmp_path / "killed.sqlite", 50
    env = {**os.environ, "PYTHONPATH": str(repo_dir)}
    cmd = [sys.executable, "-c", WRITER, f"sqlite:///{path}", str(size)]
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, env=env, cwd=repo_dir) as writer:
        assert writer.stdout is not None
        assert writer.stdout.readline().strip() == b"ready"
        time.sleep(0.5)
        writer.send_signal(signal.SIGKILL)
        writer.wait(timeout=10)
    with closing(sqlite3.connect(path)) as raw, raw:
        assert raw.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    with Store.open(f"sqlite:///{path}") as store:
        state = store.source_state("gazette")
        assert state is not None and state.http_status is not None
        batches = state.http_status + 1
        assert batches >= 3
        assert state.article_count == batches * size
        everything = store.recent_articles(batches * size + 1)
        assert len(everything) == batches * size
        assert all(a.tags == ("a", "b") for a in everything)


# --------------------------------------------------------------------------- politeness (r0002)


def test_redirect_tracking_hash_and_gone_are_recorded(store: Store) -> None:
    pending = RedirectState(None, "https://new.example/rss", T0)
    store.record_fetch(ok("gazette", redirect=pending, body_hash="h1"))
    state = store.source_state("gazette")
    assert state is not None
    assert (state.redirect, state.body_hash) == (pending, "h1")

    store.record_fetch(failed("gazette", at=T0 + HOUR))  # no redirect, no hash: both kept
    state = store.source_state("gazette")
    assert state is not None and (state.redirect, state.body_hash) == (pending, "h1")

    adopted = RedirectState(adopted_url="https://new.example/rss")
    gone = replace(failed("gazette", at=T0 + 2 * HOUR, error="HTTP 410 Gone"), redirect=adopted)
    store.record_fetch(replace(gone, disable="HTTP 410 Gone"))
    state = store.source_state("gazette")
    assert state is not None
    assert (state.disabled_at, state.disabled_reason) == (T0 + 2 * HOUR, "HTTP 410 Gone")
    assert state.redirect == adopted
    assert "gazette" not in {s.name for s in store.due_sources(T0 + 100 * HOUR)}


def test_a_changed_location_starts_the_source_afresh(store: Store) -> None:
    moved = RedirectState(adopted_url="https://elsewhere.example/rss")
    store.record_fetch(replace(ok("gazette", etag='"e"', body_hash="h"), redirect=moved))
    store.record_fetch(replace(failed("gazette"), disable="HTTP 410 Gone"))
    store.sync_sources([feed("gazette", title="Renamed"), feed("courier")], T0)
    kept = store.source_state("gazette")
    assert kept is not None and kept.disabled_at is not None  # only a new URL revives it

    store.sync_sources([feed("gazette", url="https://gazette.example/feed"), feed("courier")], T0)
    fresh = store.source_state("gazette")
    assert fresh is not None
    assert (fresh.disabled_at, fresh.disabled_reason, fresh.body_hash) == (None, None, None)
    assert (fresh.redirect, fresh.etag, fresh.failures) == (RedirectState(), None, 0)
    assert "gazette" in {s.name for s in store.due_sources(T0 + 2 * HOUR)}

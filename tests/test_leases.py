"""Leases on due sources, the workers table and the publisher role, on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from feedsvc.config_types import SourceConfig
from feedsvc.service import Service
from feedsvc.store import Store
from feedsvc.store import leases as lease_sql
from feedsvc.store import sources as source_sql
from feedsvc.store.engine import writing
from feedsvc.types import Article, FetchIntent, LeaseLost, UpsertResult
from tests.support.configs import feed_source, write_config
from tests.support.httpserver import LoopbackServer
from tests.test_store import article

T0 = datetime(2031, 5, 4, 9, 30, tzinfo=UTC)
LEASE = timedelta(minutes=5)
NAMES = [f"s{n:03d}" for n in range(60)]
RSS = (
    b'<rss version="2.0"><channel><title>Quay</title><item><guid>q1</guid>'
    b"<title>Dredger arrives</title><description>The dredger Maren arrived.</description>"
    b"</item></channel></rss>"
)


def feed(name: str) -> SourceConfig:
    return SourceConfig(name=name, title=name, kind="feed", url=f"https://{name}.example/rss")


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    with Store.open(store_url) as opened:
        opened.sync_sources([feed(name) for name in NAMES], T0)
        yield opened


def fetched(name: str, at: datetime = T0) -> FetchIntent:
    return FetchIntent(
        source=name, fetched_at=at, status="ok", next_fetch_after=at + timedelta(hours=1)
    )


def test_a_claim_takes_due_sources_no_one_holds(store: Store) -> None:
    first = store.claim_sources("w1", T0, lease=LEASE, limit=10)
    second = store.claim_sources("w2", T0, lease=LEASE, limit=100)
    assert [s.name for s in first] == NAMES[:10]
    assert [s.name for s in second] == NAMES[10:]
    assert store.claim_sources("w3", T0, lease=LEASE, limit=10) == []


def test_a_recorded_fetch_ends_the_lease_and_the_source_is_not_due(store: Store) -> None:
    (claimed,) = store.claim_sources("w1", T0, lease=LEASE, limit=1)
    store.record_fetch(fetched(claimed.name))
    later = T0 + LEASE + timedelta(seconds=1)
    assert claimed.name not in {
        s.name for s in store.claim_sources("w2", later, lease=LEASE, limit=100)
    }
    (worker,) = [w for w in store.worker_states(later) if w.id == "w1"] or [None]
    assert worker is None  # never registered: leases need no worker row


def test_a_lapsed_lease_lets_another_worker_take_the_source(store: Store) -> None:
    taken = {s.name for s in store.claim_sources("dead", T0, lease=LEASE, limit=5)}
    before = store.claim_sources("w2", T0 + LEASE - timedelta(seconds=1), lease=LEASE, limit=100)
    assert taken.isdisjoint(s.name for s in before)
    rescued = store.claim_sources("w3", T0 + LEASE, lease=LEASE, limit=100)
    assert {s.name for s in rescued} == taken


def test_release_and_extend_touch_only_the_owners_leases(store: Store) -> None:
    mine = [s.name for s in store.claim_sources("w1", T0, lease=LEASE, limit=3)]
    store.claim_sources("w2", T0, lease=LEASE, limit=3)
    assert store.extend_leases("w1", T0 + 2 * LEASE) == 3
    assert store.release_leases("w1", mine[:1]) == 1
    assert store.release_leases("w1") == 2
    again = store.claim_sources("w3", T0 + LEASE, lease=LEASE, limit=100)
    assert set(mine) <= {s.name for s in again}


def under(owner: str, name: str, at: datetime = T0) -> FetchIntent:
    return replace(fetched(name, at), lease_owner=owner, etag=f'"{owner}"')


def story(name: str, owner: str) -> Article:
    """One article of ``name`` as the worker ``owner`` read it."""
    return article(name, 1, title=f"Report as {owner} read it", content_hash=f"hash-{owner}")


def test_a_fetch_under_a_lease_that_passed_to_another_worker_writes_nothing(
    store: Store,
) -> None:
    (mine,) = store.claim_sources("stalled", T0, lease=LEASE, limit=1)
    later = T0 + LEASE  # the stalled worker's lease lapsed, and another took the source
    assert [s.name for s in store.claim_sources("heir", later, lease=LEASE, limit=1)] == [mine.name]
    lost = store.save_batch(mine.name, [story(mine.name, "stalled")], under("stalled", mine.name))
    assert lost == LeaseLost(mine.name, "stalled", "heir")
    assert store.recent_articles(10) == []
    state = store.source_state(mine.name)
    assert state is not None and (state.last_fetch, state.etag) == (None, None)
    assert store.claim_sources("third", later, lease=LEASE, limit=100)[0].name != mine.name

    saved = store.save_batch(mine.name, [story(mine.name, "heir")], under("heir", mine.name, later))
    assert isinstance(saved, UpsertResult) and saved.new == 1
    # the stalled worker's answer comes last, and loses again: the heir's stands
    late = store.record_fetch(under("stalled", mine.name))
    assert late == LeaseLost(mine.name, "stalled", None)
    state = store.source_state(mine.name)
    assert state is not None and (state.last_fetch, state.etag) == (later, '"heir"')
    assert [a.title for a in store.recent_articles(10)] == ["Report as heir read it"]


def test_a_lapsed_lease_no_one_took_still_records_its_fetch(store: Store) -> None:
    (mine,) = store.claim_sources("slow", T0, lease=LEASE, limit=1)
    late = T0 + 3 * LEASE
    assert store.record_fetch(under("slow", mine.name, late)) is None
    state = store.source_state(mine.name)
    assert state is not None and state.last_fetch == late


def test_a_group_of_fetches_writes_all_but_the_ones_whose_lease_was_lost(store: Store) -> None:
    first, second, third = (s.name for s in store.claim_sources("w1", T0, lease=LEASE, limit=3))
    store.release_leases("w1", [second])
    results = store.save_fetches(
        [
            (under("w1", first), [story(first, "w1")]),
            (under("w1", second), [story(second, "w1")]),
            (under("w1", third), None),
            (fetched(NAMES[10]), None),  # no lease: a ``feedsvc run``
        ]
    )
    assert [type(r).__name__ for r in results] == [
        "UpsertResult", "LeaseLost", "NoneType", "NoneType"
    ]  # fmt: skip
    assert {a.source for a in store.recent_articles(10)} == {first}
    recorded = {s.name for s in store.source_states() if s.last_fetch is not None}
    assert recorded == {first, third, NAMES[10]}


def test_no_claim_slips_between_the_lease_check_and_the_recording(store_url: str) -> None:
    """The check's row lock holds until the fetch is written: an heir cannot claim in between.

    The stalled worker's recording is ``Store.record_fetch``'s two steps, with
    a pause between them. On PostgreSQL the heir's claim skips the locked row
    at once (``SKIP LOCKED``); on SQLite it waits for the write transaction.
    Either way the fetch is recorded and the heir never holds the source.
    """
    with Store.open(store_url) as store:
        store.sync_sources([feed(name) for name in NAMES], T0)
        (mine,) = store.claim_sources("stalled", T0, lease=LEASE, limit=1)
        later = T0 + LEASE  # lapsed: the source is anyone's once no one has it locked
        claimed: list[str] = []

        def heir() -> None:
            with Store.open(store_url) as own:
                claimed.extend(
                    s.name for s in own.claim_sources("heir", later, lease=LEASE, limit=100)
                )

        intent = under("stalled", mine.name, later)
        with writing(store.engine) as connection:
            assert lease_sql.lost(connection, [intent]) == {}  # still the stalled worker's
            other = threading.Thread(target=heir)
            other.start()
            if store_url.startswith("sqlite"):
                other.join(timeout=1.0)
                assert other.is_alive()  # waiting for the write transaction to end
            else:
                other.join(timeout=30)  # it does not wait for this transaction
                assert not other.is_alive() and len(claimed) == len(NAMES) - 1
            source_sql.record_fetch(connection, intent)
        other.join(timeout=30)
        assert not other.is_alive()
        assert mine.name not in claimed and len(claimed) == len(NAMES) - 1
        state = store.source_state(mine.name)
        assert state is not None and (state.last_fetch, state.lease_owner) == (later, None)


def test_a_run_beside_workers_leaves_them_the_sources_they_hold(
    store_url: str, tmp_path: Path, loopback_server: LoopbackServer
) -> None:
    names = ["held", "lapsed", "free"]
    for name in names:
        loopback_server.route(f"/{name}.xml", body=RSS)
    config = write_config(
        tmp_path,
        [feed_source(name, loopback_server.url(f"/{name}.xml")) for name in names],
        database_url=store_url,
    )
    now = datetime.now(UTC)
    service = Service.from_path(config, clock=lambda: now)
    with service.open_store() as store:
        store.sync_sources(service.config.sources, now)
        store.claim_sources("gone", now - 2 * LEASE, lease=LEASE, limit=3)  # lapsed since
        store.release_leases("gone", ["free", "held"])
        store.claim_sources("busy", now, lease=LEASE, limit=2)  # a live worker
        store.release_leases("busy", ["free"])
        owners = {s.name: s.lease_owner for s in store.source_states()}
        assert owners == {"free": None, "held": "busy", "lapsed": "gone"}

    result = service.run_once(force=True, workers=1)  # --all: every source but the held one

    assert sorted(r.source for r in result.sources) == ["free", "lapsed"]
    assert sorted(r.path for r in loopback_server.requests) == ["/free.xml", "/lapsed.xml"]
    with service.open_store() as store:
        held = store.source_state("held")
    assert held is not None and (held.lease_owner, held.last_fetch) == ("busy", None)
    assert held.leased_at(now) and not held.leased_at(now + LEASE)


def test_concurrent_claims_never_share_a_source(store_url: str) -> None:
    with Store.open(store_url) as seed:
        seed.sync_sources([feed(name) for name in NAMES], T0)
    taken: dict[str, list[str]] = {}
    start = threading.Barrier(4)

    def claimer(owner: str) -> None:
        with Store.open(store_url) as own:
            start.wait()
            names: list[str] = []
            while batch := own.claim_sources(owner, T0, lease=LEASE, limit=3):
                names += [s.name for s in batch]
            taken[owner] = names

    threads = [threading.Thread(target=claimer, args=(f"w{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    every = [name for names in taken.values() for name in names]
    assert sorted(every) == NAMES  # each source once, none lost
    assert len(taken) == 4


def test_workers_are_listed_with_their_leases_and_counts(store: Store) -> None:
    store.register_worker("host-a:1", "host-a", 1, T0)
    store.register_worker("host-b:2", "host-b", 2, T0)
    store.claim_sources("host-a:1", T0, lease=LEASE, limit=2)
    store.report_worker(
        "host-a:1", T0 + timedelta(minutes=1), fetches=7, articles=30, publisher=True
    )
    store.report_worker("host-a:1", T0 + timedelta(minutes=2), fetches=3)
    store.report_worker("host-b:2", T0, stopped=True)
    states = {w.id: w for w in store.worker_states(T0 + timedelta(minutes=3))}
    a, b = states["host-a:1"], states["host-b:2"]
    assert (a.alive, a.publisher, a.fetches, a.articles) == (True, True, 10, 30)
    assert a.leases == (NAMES[0], NAMES[1])
    assert (b.alive, b.stopped_at, b.leases) == (False, T0, ())
    assert not store.worker_states(T0 + timedelta(hours=1))[0].alive  # silent too long


def test_the_workload_says_what_is_due_how_late_and_recent_fetches(store: Store) -> None:
    for name in NAMES[:50]:
        store.record_fetch(fetched(name, T0 - timedelta(hours=2)))  # due again at T0 - 1h
    store.claim_sources("w1", T0, lease=LEASE, limit=4)
    load = store.workload(T0, timedelta(minutes=5))
    assert (load.due, load.leased, load.never_fetched) == (60, 4, 10)
    assert load.lag == timedelta(hours=1)
    assert load.fetched_recently == 0
    store.record_fetch(fetched(NAMES[0], T0))
    assert store.workload(T0, timedelta(minutes=5)).fetched_recently == 1


def test_one_process_at_a_time_holds_the_publisher_role(store_url: str) -> None:
    with Store.open(store_url) as one, Store.open(store_url) as two:
        first, second = one.publisher_role(), two.publisher_role()
        assert first.try_take()
        assert first.try_take()  # again: still ours
        assert not second.try_take()
        first.release()
        assert second.try_take()
        assert not first.try_take()
        second.release()


HOLDER = textwrap.dedent(
    """
    import sys, time
    from feedsvc.store import Store
    store = Store.open(sys.argv[1])
    role = store.publisher_role()
    assert role.try_take()
    print("held", flush=True)
    time.sleep(120)
    """
)


def test_the_role_passes_on_when_its_holder_is_killed(store_url: str) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, store_url], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with Store.open(store_url) as store:
            role = store.publisher_role()
            assert not role.try_take()
            os.kill(holder.pid, signal.SIGKILL)
            holder.wait(timeout=30)
            deadline = time.monotonic() + 30
            while not role.try_take():  # the server notices the closed connection
                assert time.monotonic() < deadline, "the role was never freed"
                time.sleep(0.1)
            role.release()
    finally:
        holder.kill()
        holder.wait(timeout=30)

"""``feedsvc worker`` processes sharing one database (SQLite and PostgreSQL): real processes,
a real loopback HTTP server that counts requests, kill -9, concurrent story grouping."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml

from feedsvc.cli import EXIT_OK, main
from feedsvc.service import Service
from feedsvc.store import Store
from feedsvc.types import Article, FetchIntent
from feedsvc.worker import Worker, WorkerOptions
from tests.support.configs import feed_source, write_config
from tests.support.httpserver import LoopbackServer, RequestInfo, Response
from tests.test_stories_service import sample_config

pytestmark = pytest.mark.slow


def rss(name: str, count: int) -> bytes:
    items = "".join(
        f"<item><guid>{name}-{n}</guid><title>{name} report number {n} on local affairs</title>"
        f"<description>Distinct text {name} {n} about matter {n * 7} in {name}.</description>"
        f"<pubDate>Mon, 03 Mar 2031 {10 + n}:00:00 +0000</pubDate></item>"
        for n in range(count)
    )
    channel = f"<channel><title>{name}</title>{items}</channel>"
    return f'<?xml version="1.0"?><rss version="2.0">{channel}</rss>'.encode()


def serve_feeds(server: LoopbackServer, count: int, *, delay: float = 0.0) -> list[dict[str, str]]:
    sources = []
    for n in range(count):
        name = f"outlet{n:02d}"
        server.route(f"/{name}.xml", body=rss(name, 2), delay=delay)
        sources.append(feed_source(name, server.url(f"/{name}.xml")))
    return sources


def worker(config: Path, *extra: str) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "feedsvc", "-q", "--config", str(config), "worker"]
    command += ["--once", "--workers", "1", "--poll", "1s", *extra]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(process: subprocess.Popen[str], timeout: float = 120) -> tuple[int, str]:
    out, err = process.communicate(timeout=timeout)
    return process.returncode, out + err


def fetch_counts(server: LoopbackServer) -> Counter[str]:
    return Counter(request.path for request in server.requests if request.method == "GET")


def article_keys(url: str) -> list[tuple[str, str]]:
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.connect() as connection:
            return [
                tuple(row) for row in connection.execute(sa.text("SELECT source, id FROM articles"))
            ]
    finally:
        engine.dispose()


def test_three_workers_fetch_every_source_exactly_once(
    store_url: str, tmp_path: Path, loopback_server: LoopbackServer
) -> None:
    sources = serve_feeds(loopback_server, 30, delay=0.05)
    config = write_config(tmp_path, sources, database_url=store_url)
    processes = [worker(config, "--batch", "3") for _ in range(3)]
    outcomes = [finish(p) for p in processes]
    assert [code for code, _ in outcomes] == [EXIT_OK] * 3, outcomes

    counts = fetch_counts(loopback_server)
    assert sorted(counts) == sorted(f"/outlet{n:02d}.xml" for n in range(30))
    assert set(counts.values()) == {1}  # no source fetched twice
    keys = article_keys(store_url)
    assert len(keys) == len(set(keys)) == 60
    with Store.open(store_url) as store:
        assert {s.last_status for s in store.source_states()} == {"ok"}
        workers = store.worker_states(datetime.now(UTC))
    assert len(workers) == 3 and not any(w.alive or w.leases for w in workers)
    assert sum(w.fetches for w in workers) == 30
    assert (tmp_path / "output" / "index.html").is_file()  # the publisher published


def test_a_killed_workers_sources_pass_to_another_when_its_leases_lapse(
    store_url: str, tmp_path: Path, loopback_server: LoopbackServer
) -> None:
    sources = serve_feeds(loopback_server, 6, delay=60.0)  # every answer hangs
    config = write_config(tmp_path, sources, database_url=store_url)
    doomed = worker(config, "--batch", "10", "--lease", "3s")
    deadline = time.monotonic() + 60
    while not fetch_counts(loopback_server):  # it holds all six, and is fetching
        assert time.monotonic() < deadline and doomed.poll() is None
        time.sleep(0.05)
    time.sleep(0.5)
    os.kill(doomed.pid, signal.SIGKILL)
    asked_by_doomed = fetch_counts(loopback_server)
    doomed.wait(timeout=30)
    for source in sources:  # the server answers at once from now on
        name = source["name"]
        loopback_server.route(f"/{name}.xml", body=rss(name, 2))

    started = time.monotonic()
    code, output = finish(worker(config, "--lease", "3s"))
    assert code == EXIT_OK, output
    assert time.monotonic() - started >= 1.0  # it had to wait for the leases to lapse
    counts = fetch_counts(loopback_server) - asked_by_doomed
    assert len(counts) == 6 and set(counts.values()) == {1}  # its heir fetched each once
    keys = article_keys(store_url)
    assert len(keys) == len(set(keys)) == 12  # nothing lost, nothing twice
    with Store.open(store_url) as store:
        assert {s.last_status for s in store.source_states()} == {"ok"}
        assert store.workload(datetime.now(UTC), timedelta(minutes=5)).leased == 0


def test_a_batch_longer_than_its_lease_keeps_its_sources_while_its_worker_lives(
    store_url: str, tmp_path: Path, loopback_server: LoopbackServer
) -> None:
    """The lease is renewed while the batch is in hand: no other worker takes its sources."""
    sources = serve_feeds(loopback_server, 2, delay=5.0)  # each answer takes longer than a lease
    config = write_config(tmp_path, sources, database_url=store_url)
    slow = worker(config, "--lease", "2s")
    deadline = time.monotonic() + 60
    while len(fetch_counts(loopback_server)) < 2:  # it holds both, and is fetching them
        assert time.monotonic() < deadline and slow.poll() is None
        time.sleep(0.05)
    other = worker(config, "--lease", "2s")  # would take both once the first lease lapsed
    for process in (slow, other):
        code, output = finish(process)
        assert code == EXIT_OK, output
    assert set(fetch_counts(loopback_server).values()) == {1}  # each fetched once, by the first
    assert len(article_keys(store_url)) == 4


def test_a_worker_whose_lease_passed_on_mid_fetch_leaves_the_heirs_fetch_standing(
    store_url: str, tmp_path: Path, loopback_server: LoopbackServer
) -> None:
    """A stalled worker's late answer does not overwrite what the source's new holder stored."""
    config = write_config(
        tmp_path, [feed_source("quay", loopback_server.url("/quay.xml"))], database_url=store_url
    )
    service = Service.from_path(config)
    heir_at = datetime.now(UTC) + timedelta(hours=1)  # long after the stalled worker's lease

    def stall_then_answer(_info: RequestInfo) -> Response:
        # while the stalled worker waits for this answer, its lease lapses and an
        # heir claims the source, fetches it and records what it read
        with Store.open(store_url) as heir:
            for claimed in heir.claim_sources("heir", heir_at, lease=timedelta(minutes=5), limit=1):
                intent = FetchIntent(
                    source=claimed.name, fetched_at=heir_at, status="ok",
                    next_fetch_after=heir_at + timedelta(hours=1), etag='"heir"',
                    lease_owner="heir",
                )  # fmt: skip
                article = Article(
                    source="quay", id="quay-heir", url="https://quay.test/heir",
                    title="As the heir read it", summary="Heir.", content_html="<p>Heir.</p>",
                    text="Heir.", published=heir_at, updated=None, date_estimated=False,
                    content_hash="hash-heir",
                )  # fmt: skip
                heir.save_batch(claimed.name, [article], intent)
        return Response(200, rss("quay", 2), {"ETag": '"stalled"'})

    loopback_server.handler("/quay.xml", stall_then_answer)
    options = WorkerOptions(once=True, publish=False, extract_workers=1)
    result = Worker(service, options, threading.Event(), clock=lambda: datetime.now(UTC)).run()

    (failed,) = result.failed
    assert failed.source == "quay" and "lease lapsed" in (failed.error or "")
    assert len(fetch_counts(loopback_server)) == 1  # one fetch: the stalled worker's
    assert article_keys(store_url) == [("quay", "quay-heir")]
    with Store.open(store_url) as store:
        state = store.source_state("quay")
    assert state is not None and (state.etag, state.last_fetch) == ('"heir"', heir_at)


def story_groups(service: Service) -> set[frozenset[tuple[str, str]]]:
    with service.open_store() as store:
        views = store.recent_stories(1000)
    return {frozenset((a.source, a.id) for a in (v.representative, *v.others)) for v in views}


def test_concurrent_workers_group_one_event_into_one_story(
    store_url: str, tmp_path: Path, repo_dir: Path
) -> None:
    # The reference: one process ingests and groups the sample outlets.
    (tmp_path / "alone").mkdir()
    alone = sample_config(tmp_path / "alone", repo_dir / "samples")
    reference = Service.from_path(alone)
    reference.run_once(force=True, workers=1)
    expected = story_groups(reference)

    # Five workers at once, one source each: the three ferry reports are ingested
    # at the same moment by three processes; one publisher groups them.
    shared = tmp_path / "shared"
    shared.mkdir()
    config = sample_config(shared, repo_dir / "samples")
    data = yaml.safe_load(config.read_text())
    data["settings"]["database_url"] = store_url
    config.write_text(yaml.safe_dump(data, sort_keys=False))
    processes = [worker(config, "--batch", "1") for _ in range(5)]
    outcomes = [finish(p) for p in processes]
    assert [code for code, _ in outcomes] == [EXIT_OK] * 5, outcomes
    assert main(["-q", "--config", str(config), "publish"]) == EXIT_OK  # groups any late arrivals
    service = Service.from_path(config)
    assert story_groups(service) == expected  # no double story, no lost merge
    with service.open_store() as store:
        assert store.unassigned_texts() == []
        ids = {store.story_of(s, i) for group in expected for s, i in group}
        assert len(ids) == len(expected)


def test_status_shows_workers_lag_and_throughput(
    store_url: str,
    tmp_path: Path,
    loopback_server: LoopbackServer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = write_config(tmp_path, serve_feeds(loopback_server, 4), database_url=store_url)
    assert main(["-q", "--config", str(config), "worker", "--once", "--workers", "1"]) == EXIT_OK
    capsys.readouterr()
    assert main(["--config", str(config), "status"]) == EXIT_OK
    text = capsys.readouterr().out
    assert "due now     0 sources" in text
    assert "lag         0s" in text
    assert "fetches/min" in text and "stopped" in text
    assert main(["--config", str(config), "status", "--json"]) == EXIT_OK
    data = json.loads(capsys.readouterr().out)
    assert data["due"] == 0 and data["fetched_recently"] == 4
    (listed,) = data["workers"]
    assert listed["fetches"] == 4 and listed["articles"] == 8 and not listed["alive"]


def test_an_idle_worker_logs_nothing_on_each_poll(
    tmp_path: Path, loopback_server: LoopbackServer
) -> None:
    """A publisher with nothing to do says so in its log once, not every --poll (at INFO)."""
    config = write_config(tmp_path, serve_feeds(loopback_server, 2))
    command = [sys.executable, "-m", "feedsvc", "--config", str(config), "worker"]
    process = subprocess.Popen(
        [*command, "--poll", "1s", "--workers", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not (tmp_path / "output" / "index.html").is_file():
            assert process.poll() is None and time.monotonic() < deadline
            time.sleep(0.1)
        time.sleep(6)  # six polls with nothing due and nothing new
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=60)
    assert process.returncode == EXIT_OK, err
    lines = err.splitlines()
    published = max(n for n, line in enumerate(lines) if "feedsvc.publish published" in line)
    idle = [line for line in lines[published + 1 :] if "feedsvc.worker worker stop" not in line]
    assert len(idle) <= 2, "\n".join(idle)


def test_a_worker_busy_with_a_long_batch_is_seen_alive(
    store_url: str, tmp_path: Path, loopback_server: LoopbackServer
) -> None:
    """The heartbeat that keeps its leases also says the worker lives (status: not 'silent')."""
    sources = serve_feeds(loopback_server, 1, delay=8.0)
    config = write_config(tmp_path, sources, database_url=store_url)
    busy = worker(config, "--lease", "3s")
    deadline = time.monotonic() + 60
    while not fetch_counts(loopback_server):  # it holds the source, and is fetching it
        assert time.monotonic() < deadline and busy.poll() is None
        time.sleep(0.05)
    with Store.open(store_url) as store:
        (before,) = store.worker_states(datetime.now(UTC))
    time.sleep(4)  # four heartbeats, well within the answer's delay
    with Store.open(store_url) as store:
        (during,) = store.worker_states(datetime.now(UTC))
    code, output = finish(busy)
    assert code == EXIT_OK, output
    assert during.seen_at - before.seen_at >= timedelta(seconds=2), (before, during)

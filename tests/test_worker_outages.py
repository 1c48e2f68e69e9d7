"""``feedsvc worker`` when its PostgreSQL server goes away: a real cluster of the test's own,
stopped under a real worker process, and what the operator is then told."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from feedsvc.cli import EXIT_IO
from feedsvc.store import Store
from tests.support.configs import feed_source, write_config
from tests.support.httpserver import LoopbackServer
from tests.support.postgres import Cluster, start_cluster
from tests.test_worker import rss

pytestmark = pytest.mark.slow


@pytest.fixture
def own_cluster() -> Iterator[Cluster]:
    """A PostgreSQL cluster this test alone uses, so that it may stop it."""
    try:
        cluster = start_cluster()
    except RuntimeError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"CI needs PostgreSQL: {exc}")
        pytest.skip(f"no PostgreSQL: {exc}")
    try:
        yield cluster
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):  # the test may have stopped it
            cluster.stop()
        shutil.rmtree(cluster.directory, ignore_errors=True)


def wait_for_worker(url: str, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while True:
        assert process.poll() is None, process.communicate()
        with Store.open(url) as store:
            if any(w.alive for w in store.worker_states(datetime.now(UTC))):
                return
        assert time.monotonic() < deadline
        time.sleep(0.1)


def test_a_worker_whose_database_goes_away_exits_saying_what_failed_first(
    own_cluster: Cluster, tmp_path: Path, loopback_server: LoopbackServer
) -> None:
    """The failure that ended the loop is reported, not the cleanup's failure after it."""
    loopback_server.route("/a.xml", body=rss("a", 2))
    url = own_cluster.url("postgres")
    config = write_config(
        tmp_path, [feed_source("a", loopback_server.url("/a.xml"))], database_url=url
    )
    command = [sys.executable, "-m", "feedsvc", "--config", str(config), "worker"]
    command += ["--poll", "1s", "--workers", "1", "--no-publish"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for_worker(url, process)
        own_cluster.stop()
        _, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == EXIT_IO, err
    said = [line for line in err.splitlines() if line.startswith("feedsvc: ")]
    assert len(said) == 1, err
    assert "releasing leases" not in said[0], err  # the cleanup, not the cause
    assert "failed" in said[0] and "worker=" in said[0], err


def publishers(url: str) -> list[str]:
    with Store.open(url) as store:
        return [w.id for w in store.worker_states(datetime.now(UTC)) if w.alive and w.publisher]


def test_status_names_one_publisher_after_the_role_passed_from_a_killed_worker(
    store_url: str, tmp_path: Path, loopback_server: LoopbackServer
) -> None:
    """kill -9 leaves its row claiming the role; the heir's taking it makes that claim false."""
    loopback_server.route("/a.xml", body=rss("a", 2))
    config = write_config(
        tmp_path, [feed_source("a", loopback_server.url("/a.xml"))], database_url=store_url
    )
    command = [sys.executable, "-m", "feedsvc", "-q", "--config", str(config), "worker"]
    command += ["--poll", "1s", "--workers", "1"]
    first = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    second: subprocess.Popen[str] | None = None
    try:
        deadline = time.monotonic() + 60
        while not publishers(store_url):
            assert first.poll() is None and time.monotonic() < deadline, first.communicate()
            time.sleep(0.1)
        (killed,) = publishers(store_url)
        first.kill()
        first.wait(timeout=30)
        second = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        while not set(publishers(store_url)) - {killed}:
            assert second.poll() is None and time.monotonic() < deadline, second.communicate()
            time.sleep(0.1)
        named = publishers(store_url)
        assert len(named) == 1 and killed not in named, named
    finally:
        for process in (first, second):
            if process is not None:
                process.terminate()
                process.communicate(timeout=60)


def test_sighup_reloads_a_workers_config_and_keeps_the_old_one_when_invalid(
    store_url: str, tmp_path: Path, loopback_server: LoopbackServer
) -> None:
    """As the daemon: SIGHUP re-reads sources.yaml (it killed the worker, leases held)."""
    for name in ("a", "b"):
        loopback_server.route(f"/{name}.xml", body=rss(name, 2))
    first = [feed_source("a", loopback_server.url("/a.xml"))]
    config = write_config(tmp_path, first, database_url=store_url)
    command = [sys.executable, "-m", "feedsvc", "--config", str(config), "worker"]
    command += ["--poll", "1s", "--workers", "1"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not (tmp_path / "output" / "sources" / "a.atom").is_file():
            assert process.poll() is None and time.monotonic() < deadline, process.communicate()
            time.sleep(0.1)
        write_config(tmp_path, [*first, feed_source("b", loopback_server.url("/b.xml"))])
        text = config.read_text().replace(
            "settings:\n", f"settings:\n  database_url: {store_url}\n"
        )
        config.write_text(text)
        process.send_signal(signal.SIGHUP)
        while not (tmp_path / "output" / "sources" / "b.atom").is_file():
            assert process.poll() is None and time.monotonic() < deadline, process.communicate()
            time.sleep(0.1)
        config.write_text(text.replace("kind: feed", "kind: nope", 1))
        process.send_signal(signal.SIGHUP)
        time.sleep(2)
        assert process.poll() is None
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    assert f"{config.name}:" in err and "sources[0].kind" in err, err
    assert "keeping the old config" in err, err
    with Store.open(store_url) as store:
        assert {s.name: s.last_status for s in store.source_states()} == {"a": "ok", "b": "ok"}

"""The real daemon, as a subprocess, against loopback servers that answer every way they can.

One scenario, in order: a cron run seeds a validator; the daemon starts (with
``--serve``) and its first cycle meets 200, 304, 301, 410, 429 + Retry-After,
500 and a hanging response; the stored state says what each one did. SIGHUP with
a source added fetches it; SIGHUP with an invalid file keeps the old config and
logs why; SIGHUP adding another hanging source, then SIGTERM while it hangs,
exits 0 within seconds with the database intact and no temporary files left.
"""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import closing
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from feedsvc.store import Store
from feedsvc.types import SourceState
from tests.support.configs import feed_source, write_config
from tests.support.httpserver import LoopbackServer

REPO = Path(__file__).resolve().parents[1]


def rss(outlet: str, *titles: str) -> bytes:
    items = "".join(
        f"<item><title>{t}</title><guid isPermaLink='false'>{outlet}-{i}</guid>"
        f"<link>http://{outlet}.test/{i}</link>"
        f"<pubDate>Tue, 1{i} Jun 2031 07:00:00 +0000</pubDate>"
        f"<description>{t}.</description></item>"
        for i, t in enumerate(titles)
    )
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>{outlet}</title>'
        f"<link>http://{outlet}.test/</link><description>news</description>{items}"
        "</channel></rss>"
    ).encode()


def wait_for(what: str, check: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


class Run:
    """A daemon subprocess, its log file and its database."""

    def __init__(self, config: Path, tmp_path: Path) -> None:
        self.log = tmp_path / "daemon.log"
        self.database = f"sqlite:///{tmp_path / 'data' / 'feedsvc.sqlite3'}"
        command = [sys.executable, "-m", "feedsvc", "--config", str(config), "daemon"]
        command += ["--tick", "1s", "--workers", "1", "--serve", "--port", "0"]
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                command, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, stderr=log
            )

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def states(self) -> dict[str, SourceState]:
        with Store.open(self.database) as store:
            return {s.name: s for s in store.source_states()}

    def fetched(self, *names: str) -> bool:
        states = self.states()
        return all(n in states and states[n].last_fetch is not None for n in names)

    def url(self) -> str:
        found = re.search(r"serving url=(\S+)", self.text())
        assert found, self.text()
        return found.group(1)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    with LoopbackServer() as loopback:
        feed = {"Content-Type": "application/rss+xml"}
        loopback.route("/ok.xml", body=rss("ok", "Tide tables published"), headers=feed)
        loopback.route(
            "/same.xml", body=rss("same", "Pier survey done"), headers={**feed, "ETag": '"s1"'}
        )
        loopback.redirect("/moved.xml", loopback.url("/moved-here.xml"), status=301)
        loopback.route("/moved-here.xml", body=rss("moved", "Boathouse sold"), headers=feed)
        loopback.route("/gone.xml", status=410)
        loopback.route("/busy.xml", status=429, headers={"Retry-After": "3600"})
        loopback.route("/broken.xml", status=500, body=b"oops")
        loopback.route("/hang.xml", delay=60.0)
        loopback.route("/fresh.xml", body=rss("fresh", "New ferry named"), headers=feed)
        yield loopback


def get_json(url: str) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def integrity(database: str) -> str:
    with closing(sqlite3.connect(database.removeprefix("sqlite:///"))) as db:
        return str(db.execute("PRAGMA integrity_check").fetchone()[0])


@pytest.mark.slow
def test_daemon_fetches_records_reloads_and_stops(tmp_path: Path, server: LoopbackServer) -> None:
    names = ["ok", "same", "moved", "gone", "busy", "broken", "hang"]
    sources = [feed_source(n, server.url(f"/{n}.xml"), interval="10m") for n in names]
    fetch = {"total_timeout": "4s", "connect_timeout": "1s"}

    def config(*extra: dict[str, Any]) -> Path:
        return write_config(tmp_path, [*sources, *extra], fetch=fetch)

    # cron mode first: "same" gets a validator, and the daemon will find it due at once
    seed = write_config(tmp_path, [sources[1]], fetch=fetch)
    cron = subprocess.run(
        [sys.executable, "-m", "feedsvc", "-q", "--config", str(seed), "run", "--workers", "1"],
        cwd=REPO,
        capture_output=True,
        check=False,
    )
    assert cron.returncode == 0, cron.stderr
    with closing(sqlite3.connect(tmp_path / "data" / "feedsvc.sqlite3")) as db, db:
        db.execute("UPDATE sources SET next_fetch_after = NULL")

    run = Run(config(), tmp_path)
    try:
        scenario(run, server, config)
    finally:
        run.kill()
        print(run.text())


def scenario(run: Run, server: LoopbackServer, config: Callable[..., Path]) -> None:
    # --- the first cycle: every kind of answer
    wait_for("the first cycle", lambda: run.fetched("ok", "same", "moved", "gone", "busy"))
    wait_for("the hanging fetch to time out", lambda: run.fetched("hang"))
    states = run.states()
    assert (states["ok"].last_status, states["ok"].article_count) == ("ok", 1)
    assert (states["same"].last_status, states["same"].http_status) == ("not-modified", 304)
    assert states["moved"].redirect.pending_url == server.url("/moved-here.xml")
    assert states["gone"].disabled_at is not None and "410" in (
        states["gone"].disabled_reason or ""
    )
    busy = states["busy"]
    assert busy.next_fetch_after is not None and busy.last_fetch is not None
    assert busy.next_fetch_after - busy.last_fetch >= timedelta(hours=1)
    assert (states["broken"].failures, states["broken"].http_status) == (1, 500)
    assert "timed out" in (states["hang"].last_error or "")
    same = [r for r in server.requests if r.path == "/same.xml"]
    assert same[-1].headers.get("if-none-match") == '"s1"'
    wait_for("the first publish", lambda: (run_output(run) / "all.atom").exists())

    # --- served in the same process
    wait_for("a cycle to end", lambda: get_json(run.url() + "healthz")[1]["last_cycle_end"])
    status, health = get_json(run.url() + "healthz")
    assert status == 200 and health["scheduler_running"] is True
    with urllib.request.urlopen(run.url() + "metrics", timeout=5) as response:
        assert b"feedsvc_fetches" in response.read()

    # --- SIGHUP: a source added is fetched; nothing else is fetched again before it is due
    before = len(server.requests)
    config(feed_source("fresh", server.url("/fresh.xml"), interval="10m"))
    run.proc.send_signal(signal.SIGHUP)
    wait_for("the added source", lambda: run.fetched("fresh"))
    assert run.states()["fresh"].last_status == "ok"
    assert [r.path for r in server.requests[before:]] == ["/fresh.xml"]

    # --- SIGHUP with an invalid file: logged, old config kept, still running
    (run_output(run).parent / "sources.yaml").write_text("sources:\n  - name: Bad Name\n")
    run.proc.send_signal(signal.SIGHUP)
    # the summary line comes first, each problem on a line of its own after it
    wait_for("the reload error", lambda: "sources[0].name" in run.text())
    assert "keeping the old config" in run.text()
    time.sleep(1.5)
    assert run.proc.poll() is None and "fresh" in run.states()

    # --- SIGTERM while a fetch hangs: a clean exit within seconds
    config(feed_source("stuck", server.url("/hang.xml?stuck"), interval="10m"))
    run.proc.send_signal(signal.SIGHUP)
    wait_for("the stuck fetch", lambda: any(r.path == "/hang.xml?stuck" for r in server.requests))
    started = time.monotonic()
    run.proc.send_signal(signal.SIGTERM)
    assert run.proc.wait(timeout=10) == 0, run.text()
    assert time.monotonic() - started < 4.0
    assert "daemon stopped" in run.text()
    assert run.states()["stuck"].last_fetch is None  # abandoned, nothing half-recorded
    assert integrity(run.database) == "ok"
    leftovers = [p for p in run_output(run).rglob("*") if p.name.startswith(".")]
    assert leftovers == []
    assert [r.path for r in server.requests].count("/ok.xml") == 1


def run_output(run: Run) -> Path:
    return run.log.parent / "output"

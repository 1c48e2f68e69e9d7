"""``feedsvc daemon`` on PostgreSQL over time: a real daemon process, a real cluster of the
test's own (stopped under it), and what its log says tick after tick."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.configs import feed_source, write_config
from tests.support.httpserver import LoopbackServer
from tests.support.postgres import Cluster
from tests.test_worker import rss
from tests.test_worker_outages import own_cluster  # noqa: F401  (fixture)

pytestmark = pytest.mark.slow


def start_daemon(tmp_path: Path, url: str, server: LoopbackServer) -> subprocess.Popen[str]:
    server.route("/a.xml", body=rss("a", 2))
    config = write_config(tmp_path, [feed_source("a", server.url("/a.xml"))], database_url=url)
    command = [sys.executable, "-m", "feedsvc", "--config", str(config), "daemon"]
    process = subprocess.Popen(
        [*command, "--tick", "1s", "--workers", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not (tmp_path / "output" / "index.html").is_file():
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.1)
    return process


def stop(process: subprocess.Popen[str]) -> str:
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    return err


def test_a_daemon_whose_database_is_down_logs_one_line_a_tick(
    own_cluster: Cluster,  # noqa: F811
    tmp_path: Path,
    loopback_server: LoopbackServer,
) -> None:
    """A database that is down is an operational error: one line per tick, no traceback."""
    process = start_daemon(tmp_path, own_cluster.url("postgres"), loopback_server)
    try:
        own_cluster.stop()
        time.sleep(4)  # a few ticks with no database
    finally:
        err = stop(process)
    failures = [line for line in err.splitlines() if "cycle failed" in line]
    assert len(failures) >= 2, err
    assert all("Connection refused" in line or "connection" in line for line in failures), err
    assert "Traceback" not in err, err


def test_an_idle_daemon_logs_no_role_taken_each_tick(
    store_url: str, tmp_path: Path, loopback_server: LoopbackServer
) -> None:
    """Taking the publisher role for each cycle is routine, not news at INFO every tick."""
    process = start_daemon(tmp_path, store_url, loopback_server)
    try:
        time.sleep(5)  # five ticks with nothing due
    finally:
        err = stop(process)
    assert err.count("role taken") <= 1, err

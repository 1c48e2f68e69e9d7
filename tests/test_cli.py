"""The command line: exit codes, messages, and a killed run that leaves nothing broken."""

from __future__ import annotations

import fcntl
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import feedparser
import pytest

from feedsvc import service as service_module
from feedsvc.cli import (
    EXIT_CONFIG,
    EXIT_IO,
    EXIT_LOCKED,
    EXIT_OK,
    EXIT_SOURCES_FAILED,
    EXIT_USAGE,
    main,
)
from feedsvc.lock import run_lock
from tests.support.configs import feed_source, write_config
from tests.support.httpserver import LoopbackServer

QUAYSIDE = (Path(__file__).parent / "fixtures" / "pipeline" / "quayside.rss").read_bytes()


def test_check_accepts_the_bundled_config(
    repo_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--config", str(repo_dir / "sources.yaml"), "check"]) == EXIT_OK
    assert "ok: 5 sources" in capsys.readouterr().out


def test_invalid_config_names_file_line_and_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "sources.yaml"
    path.write_text(
        "sources:\n"
        "  - name: quay\n"
        "    kind: feed\n"
        "    url: http://quay.test/feed.xml\n"
        "    interval: often\n"
    )
    assert main(["--config", str(path), "run"]) == EXIT_CONFIG
    err = capsys.readouterr().err
    assert f"{path}:5: sources[0].interval:" in err
    assert "'often'" in err
    assert not (tmp_path / "data").exists()  # nothing was touched


def test_run_exit_code_says_sources_failed(
    tmp_path: Path, loopback_server: LoopbackServer, capsys: pytest.CaptureFixture[str]
) -> None:
    loopback_server.route("/ok.xml", body=QUAYSIDE)
    loopback_server.route("/bad.xml", status=500)
    config = write_config(
        tmp_path,
        [
            feed_source("ok", loopback_server.url("/ok.xml")),
            feed_source("bad", loopback_server.url("/bad.xml")),
        ],
    )
    assert main(["-q", "--config", str(config), "run", "--workers", "1"]) == EXIT_SOURCES_FAILED
    captured = capsys.readouterr()
    assert "2 sources fetched: 1 ok, 0 not modified, 1 failed; 2 new" in captured.out
    assert "bad: HTTP 500" in captured.err
    assert read_entries(tmp_path / "output" / "all.rss") == 2

    assert main(["-q", "--config", str(config), "sources"]) == EXIT_OK
    table = capsys.readouterr().out
    assert "bad" in table and "HTTP 500" in table


def test_run_timings_prints_each_stage(
    tmp_path: Path, loopback_server: LoopbackServer, capsys: pytest.CaptureFixture[str]
) -> None:
    loopback_server.route("/ok.xml", body=QUAYSIDE)
    config = write_config(tmp_path, [feed_source("ok", loopback_server.url("/ok.xml"))])
    assert main(["-q", "--config", str(config), "run", "--workers", "1", "--timings"]) == EXIT_OK
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("timings: "))
    figures = dict(cell.split("=") for cell in line.removeprefix("timings: ").split())
    stages = ("fetch", "extract", "normalise", "store", "stories", "publish", "total")
    assert all(float(figures[stage]) >= 0 for stage in stages)
    assert float(figures["total"]) >= float(figures["publish"]) + float(figures["stories"])
    assert figures["articles"] == "2" and figures["stories_items"] == "2"


def test_overlapping_run_is_refused(
    tmp_path: Path, loopback_server: LoopbackServer, capsys: pytest.CaptureFixture[str]
) -> None:
    loopback_server.route("/ok.xml", body=QUAYSIDE)
    config = write_config(tmp_path, [feed_source("ok", loopback_server.url("/ok.xml"))])
    with run_lock(tmp_path / "data" / "feedsvc.lock"):
        assert main(["--config", str(config), "run"]) == EXIT_LOCKED
    assert "another feedsvc run" in capsys.readouterr().err
    assert loopback_server.requests == []
    assert main(["-q", "--config", str(config), "run"]) == EXIT_OK


@pytest.mark.parametrize("flags", [[], ["--all"]])
def test_a_data_dir_that_is_a_file_is_exit_74_not_a_traceback(
    tmp_path: Path, flags: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "data").write_text("not a directory")
    config = write_config(tmp_path, [])
    assert main(["-q", "--config", str(config), "run", *flags]) == EXIT_IO
    err = capsys.readouterr().err
    assert f"{tmp_path / 'data'} is not a directory" in err
    assert "Traceback" not in err


def test_cluster_input_it_cannot_use_is_one_line_per_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    items = tmp_path / "items.jsonl"
    good = '{"id": "1", "title": "Ferry fares rise", "published": "2026-11-18T08:00:00Z"}'
    items.write_text(
        f'{good}\nnot json\n\n[1, 2]\n{{"id": "2"}}\n{{"id": "3", "published": "soon"}}\n'
    )
    assert main(["cluster", "--input", str(items)]) == EXIT_USAGE
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.splitlines() == [
        f"feedsvc: {items}:2: not JSON: Expecting value (column 1)",
        f"feedsvc: {items}:4: expected a JSON object, got list",
        f"feedsvc: {items}:5: missing key 'published'",
        f"feedsvc: {items}:6: Invalid isoformat string: 'soon'",
    ]
    items.write_bytes(b"\xff\xfe{}\n")
    assert main(["cluster", "--input", str(items)]) == EXIT_USAGE
    assert capsys.readouterr().err == f"feedsvc: cannot read {items}: not UTF-8 (byte 0)\n"
    assert main(["cluster", "--input", str(tmp_path / "absent.jsonl")]) == EXIT_USAGE
    assert "No such file or directory" in capsys.readouterr().err


@contextmanager
def publisher_role_held(data_dir: Path) -> Iterator[int]:
    """Hold the SQLite publisher role's lock file, as another feedsvc process would."""
    fd = os.open(data_dir / "feedsvc.sqlite3.publisher.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield fd
    finally:
        os.close(fd)


def test_publish_waits_for_the_publisher_role_then_publishes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, [])
    assert main(["-q", "--config", str(config), "run"]) == EXIT_OK
    (tmp_path / "output" / "index.html").unlink()
    with publisher_role_held(tmp_path / "data") as fd:
        threading.Timer(0.5, fcntl.flock, (fd, fcntl.LOCK_UN)).start()
        assert main(["--config", str(config), "publish"]) == EXIT_OK
    assert (tmp_path / "output" / "index.html").is_file()
    assert capsys.readouterr().out.startswith("feedsvc: ")
    assert main(["-q", "--config", str(config), "publish"]) == EXIT_OK
    assert capsys.readouterr().out == ""  # quiet, as a run that went well


def test_publish_that_cannot_become_the_publisher_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, [])
    assert main(["-q", "--config", str(config), "run"]) == EXIT_OK
    (tmp_path / "output" / "index.html").unlink()
    capsys.readouterr()
    monkeypatch.setattr(service_module, "PUBLISH_WAIT", 0.3)
    with publisher_role_held(tmp_path / "data"):
        assert main(["-q", "--config", str(config), "publish"]) == EXIT_LOCKED
    captured = capsys.readouterr()
    assert captured.out == ""  # no "0 files written" as if it had published
    assert "holds the publisher role" in captured.err and "nothing was published" in captured.err
    assert not (tmp_path / "output" / "index.html").exists()


def read_entries(path: Path) -> int:
    parsed = feedparser.parse(path.read_bytes())
    assert parsed.bozo == 0
    return len(parsed.entries)


@pytest.mark.slow
def test_killed_run_leaves_consistent_database_and_whole_feeds(
    tmp_path: Path, loopback_server: LoopbackServer
) -> None:
    fast = [feed_source(f"fast{i}", loopback_server.url(f"/fast{i}.xml")) for i in range(6)]
    for i in range(6):
        loopback_server.route(
            f"/fast{i}.xml", body=QUAYSIDE.replace(b"quayside-", f"q{i}-".encode())
        )
    loopback_server.route("/stuck.xml", delay=60.0, body=QUAYSIDE)
    config = write_config(
        tmp_path, [*fast, feed_source("stuck", loopback_server.url("/stuck.xml"))]
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.Popen(
        [sys.executable, "-m", "feedsvc", "-q", "--config", str(config), "run", "--workers", "1"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    database = tmp_path / "data" / "feedsvc.sqlite3"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and stored_sources(database) < 6:
        time.sleep(0.1)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    assert stored_sources(database) == 6

    with sqlite3.connect(database) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    loopback_server.route("/stuck.xml", body=QUAYSIDE)
    assert main(["-q", "--config", str(config), "run"]) == EXIT_OK  # the lock died with it
    per_source = sorted((tmp_path / "output" / "sources").glob("*.atom"))
    assert sum(read_entries(p) for p in per_source) == 14
    assert read_entries(tmp_path / "output" / "all.atom") == 2  # identical copies: two stories
    leftovers = [p for p in (tmp_path / "output").rglob("*") if p.name.startswith(".")]
    assert leftovers == []


def stored_sources(database: Path) -> int:
    if not database.exists():
        return 0
    try:
        with sqlite3.connect(database, timeout=1) as db:
            row = db.execute("SELECT COUNT(DISTINCT source) FROM articles").fetchone()
    except sqlite3.OperationalError:
        return 0
    return int(row[0])

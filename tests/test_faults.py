"""Faults around a run: killed runs' processes and files, a locked database, unwritable output."""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import feedparser
import pytest

from feedsvc.cli import EXIT_IO, EXIT_OK, main
from feedsvc.serve_files import request_parts
from feedsvc.service import Service
from feedsvc.tempfiles import remove_leftovers, temp_prefix
from tests.support.configs import feed_source, write_config
from tests.support.httpserver import LoopbackServer

REPO = Path(__file__).resolve().parents[1]
QUAYSIDE = (REPO / "tests" / "fixtures" / "pipeline" / "quayside.rss").read_bytes()
# The feed with two new articles in place of its two (new guids and links: the same
# links, titles and texts under new guids would be the same articles again).
LATER = QUAYSIDE.replace(b"quayside-", b"later-").replace(b"/news/", b"/later/")


def gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True
    return state == "Z"


def wait_until(condition: object, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.1)
    return False


# --------------------------------------------------------------------------- killed runs


POOL = """
import os, time
from feedsvc.workers import worker_pool
pool = worker_pool(2)
[f.result() for f in [pool.submit(os.getpid) for _ in range(8)]]
print(" ".join(str(pid) for pid in pool.processes()), flush=True)
time.sleep(600)
"""


def test_worker_processes_exit_when_their_run_is_killed() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", POOL],
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    workers = [int(p) for p in proc.stdout.readline().split()]
    assert len(workers) == 2 and all(not gone(pid) for pid in workers)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    assert wait_until(lambda: all(gone(pid) for pid in workers), timeout=15), workers


def test_temporaries_of_dead_writers_are_removed_and_live_ones_kept(tmp_path: Path) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], check=True,
                          capture_output=True, text=True)  # fmt: skip
    dead_pid = int(dead.stdout)
    mine = tmp_path / f"{temp_prefix(tmp_path / 'all.rss')}abc123.tmp"
    theirs = tmp_path / f".all.rss.{dead_pid}.k2j4h1.tmp"
    legacy = tmp_path / ".all.atom.x8d7f6g5.tmp"
    feed = tmp_path / "all.rss"
    for path in (mine, theirs, legacy, feed):
        path.write_bytes(b"<rss/>")
    removed = remove_leftovers(tmp_path)
    assert sorted(removed) == sorted([theirs, legacy])
    assert mine.exists() and feed.exists()
    assert request_parts(f"/{theirs.name}") is None  # and serve never answers them


def test_the_sole_writer_removes_its_targets_temporaries_whatever_pid_they_name(
    tmp_path: Path,
) -> None:
    live_pid = os.getppid()  # a live process that is not us: as when a dead writer's pid is reused
    reused = tmp_path / f".stories.snapshot.{live_pid}.q8y4w_c.tmp"
    other = tmp_path / f".feedsvc.db.{live_pid}.a1b2c3.tmp"
    for path in (reused, other):
        path.write_bytes(b"half")
    assert remove_leftovers(tmp_path, sole_writer_of="stories.snapshot") == [reused]
    assert other.exists()


def test_a_publish_removes_what_a_killed_publish_left(
    tmp_path: Path, loopback_server: LoopbackServer
) -> None:
    loopback_server.route("/q.xml", body=QUAYSIDE)
    config = write_config(tmp_path, [feed_source("quay", loopback_server.url("/q.xml"))])
    output = tmp_path / "output"
    (output / "sources").mkdir(parents=True)
    left = [output / ".all.rss.999999999.abcdef.tmp", output / "sources" / ".quay.json.7x.tmp"]
    for path in left:
        path.write_bytes(b"<rss><channel><title>half")
    Service.from_path(config).run_once(force=True, workers=1)
    assert not any(path.exists() for path in left)
    assert (output / "all.rss").is_file()


# --------------------------------------------------------------------------- a locked database


def hold_write_lock(
    database: Path, seconds: float, when: Callable[[], bool] | None = None
) -> threading.Thread:
    """Hold SQLite's write lock from a second connection for ``seconds`` (once ``when``)."""
    ready = threading.Event()

    def hold() -> None:
        while when is not None and not when():
            time.sleep(0.02)
        db = sqlite3.connect(database, isolation_level=None, timeout=30)
        db.execute("BEGIN IMMEDIATE")
        ready.set()
        time.sleep(seconds)
        db.execute("COMMIT")
        db.close()

    thread = threading.Thread(target=hold, daemon=True)
    thread.start()
    if when is None:
        ready.wait(10)
    return thread


def stored_sources(database: Path) -> int:
    with sqlite3.connect(database, timeout=30) as db:
        return int(db.execute("SELECT COUNT(DISTINCT source) FROM articles").fetchone()[0])


def three_sources(tmp_path: Path, server: LoopbackServer, slow: float = 0.0) -> Path:
    for i in range(3):
        body = QUAYSIDE.replace(b"quayside-", f"q{i}-".encode())
        server.route(f"/f{i}.xml", body=body, delay=slow if i == 2 else 0.0)
    sources = [feed_source(f"s{i}", server.url(f"/f{i}.xml")) for i in range(3)]
    config = write_config(tmp_path, sources)
    with Service.from_path(config).open_store():
        pass  # the database exists
    return config


@pytest.mark.slow
def test_a_briefly_locked_database_is_waited_for(
    tmp_path: Path, loopback_server: LoopbackServer
) -> None:
    config = three_sources(tmp_path, loopback_server)
    holder = hold_write_lock(tmp_path / "data" / "feedsvc.sqlite3", seconds=3.0)
    result = Service.from_path(config).run_once(force=True, workers=1)
    holder.join()
    assert [s.status for s in result.sources] == ["ok", "ok", "ok"]
    assert result.published is not None and result.published.written


@pytest.mark.slow
def test_a_database_locked_too_long_fails_one_source_and_the_rest_go_on(
    tmp_path: Path, loopback_server: LoopbackServer
) -> None:
    """Locked mid-run past SQLite's 10 s busy timeout: that source reports it, others are kept."""
    config = three_sources(tmp_path, loopback_server, slow=4.0)
    database = tmp_path / "data" / "feedsvc.sqlite3"
    # Locked once the two fast sources are stored, while the slow one is still on its way.
    holder = hold_write_lock(database, seconds=16.0, when=lambda: stored_sources(database) == 2)
    result = Service.from_path(config).run_once(force=True, workers=1)
    holder.join()
    by_name = {s.source: s for s in result.sources}
    assert (by_name["s0"].status, by_name["s1"].status) == ("ok", "ok")
    assert by_name["s2"].status == "error"
    assert by_name["s2"].error == (
        "not stored: saving batch source=s2 failed: OperationalError: database is locked"
    )
    assert result.published is not None and result.published.written
    again = Service.from_path(config).run_once(force=True, workers=1)
    assert [s.status for s in again.sources] == ["not-modified", "not-modified", "ok"]


@pytest.mark.slow
def test_a_database_locked_at_start_is_reported_and_nothing_half_done(
    tmp_path: Path, loopback_server: LoopbackServer, capsys: pytest.CaptureFixture[str]
) -> None:
    config = three_sources(tmp_path, loopback_server)
    holder = hold_write_lock(tmp_path / "data" / "feedsvc.sqlite3", seconds=12.0)
    assert main(["-q", "--config", str(config), "run", "--all", "--workers", "1"]) == EXIT_IO
    assert "database is locked" in capsys.readouterr().err
    holder.join()
    assert main(["-q", "--config", str(config), "run", "--workers", "1"]) == EXIT_OK


# --------------------------------------------------------------------------- unwritable output


def test_unwritable_output_is_reported_keeps_the_old_feeds_and_recovers(
    tmp_path: Path, loopback_server: LoopbackServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """Root ignores permissions, so a file where a folder must go stands for a full disk."""
    loopback_server.route("/q.xml", body=QUAYSIDE)
    config = write_config(tmp_path, [feed_source("quay", loopback_server.url("/q.xml"))])
    assert main(["-q", "--config", str(config), "run", "--workers", "1"]) == EXIT_OK
    output = tmp_path / "output"
    before = {p: p.read_bytes() for p in output.rglob("*") if p.is_file()}
    sources = output / "sources"
    for path in sources.iterdir():
        path.unlink()
    sources.rmdir()
    sources.write_text("in the way")  # feeds for sources/ cannot be written now
    loopback_server.route("/q.xml", body=LATER)
    assert main(["-q", "--config", str(config), "run", "--all", "--workers", "1"]) == EXIT_IO
    assert "cannot write" in capsys.readouterr().err
    for path, data in before.items():
        if not path.is_relative_to(sources):
            assert path.read_bytes() == data, f"{path} changed by a failed publish"
    sources.unlink()
    assert main(["-q", "--config", str(config), "run", "--workers", "1"]) == EXIT_OK
    assert len(feedparser.parse((sources / "quay.rss").read_bytes()).entries) == 4


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 512 KiB tmpfs as the output directory: a real full disk (needs root and mount)."""
    mount_point = tmp_path / "output"
    mount_point.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {mounted.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def fill(directory: Path) -> Path:
    """Fill the file system of ``directory`` to the last byte."""
    filler = directory / "filler.bin"
    with filler.open("wb", buffering=0) as handle:
        for size in (65536, 4096, 512, 1):
            with contextlib.suppress(OSError):
                while handle.write(bytes(size)):
                    pass
    return filler


def test_a_full_disk_is_reported_keeps_the_old_feeds_and_recovers(
    tmp_path: Path,
    loopback_server: LoopbackServer,
    small_disk: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    loopback_server.route("/q.xml", body=QUAYSIDE)
    config = write_config(tmp_path, [feed_source("quay", loopback_server.url("/q.xml"))])
    assert main(["-q", "--config", str(config), "run", "--workers", "1"]) == EXIT_OK
    before = {p: p.read_bytes() for p in small_disk.rglob("*") if p.is_file()}
    filler = fill(small_disk)
    loopback_server.route("/q.xml", body=LATER)
    assert main(["-q", "--config", str(config), "run", "--all", "--workers", "1"]) == EXIT_IO
    assert "No space left on device" in capsys.readouterr().err
    assert {p: p.read_bytes() for p in before} == before  # the old feeds, whole
    assert [p.name for p in small_disk.rglob(".*")] == []  # no temporary file left
    filler.unlink()
    assert main(["-q", "--config", str(config), "run", "--workers", "1"]) == EXIT_OK
    entries = feedparser.parse((small_disk / "sources" / "quay.rss").read_bytes()).entries
    assert len(entries) == 4


def test_a_read_only_output_is_reported_and_recovers(
    tmp_path: Path,
    loopback_server: LoopbackServer,
    small_disk: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    loopback_server.route("/q.xml", body=QUAYSIDE)
    config = write_config(tmp_path, [feed_source("quay", loopback_server.url("/q.xml"))])
    assert main(["-q", "--config", str(config), "run", "--workers", "1"]) == EXIT_OK
    before = {p: p.read_bytes() for p in small_disk.rglob("*") if p.is_file()}
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    try:
        loopback_server.route("/q.xml", body=LATER)
        code = main(["-q", "--config", str(config), "run", "--all", "--workers", "1"])
        assert code == EXIT_IO
        assert "Read-only file system" in capsys.readouterr().err
        assert {p: p.read_bytes() for p in before} == before
    finally:
        subprocess.run(["mount", "-o", "remount,rw", str(small_disk)], check=True)
    assert main(["-q", "--config", str(config), "run", "--workers", "1"]) == EXIT_OK
    entries = feedparser.parse((small_disk / "sources" / "quay.rss").read_bytes()).entries
    assert len(entries) == 4

"""Signals reach the daemon whichever of its threads the kernel hands them to.

A signal sent to a process goes to any thread that does not block it. When it
lands on the scheduler's or the server's thread, Python only records it; the
handler runs once the main thread runs Python code again. These tests aim each
signal at a thread other than the main one (``pthread_kill``) and check that
the daemon still reloads and stops within seconds.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

from feedsvc.waiting import wait_for
from tests.support.configs import feed_source, write_config

REPO = Path(__file__).resolve().parents[1]


def run_script(script: str, tmp_path: Path, *, timeout: float) -> subprocess.CompletedProcess[str]:
    """Run ``script`` with a sources.yaml of one unreachable feed; fail if it hangs."""
    config = write_config(tmp_path, [feed_source("nowhere", "http://127.0.0.1:9/feed.xml")])
    try:
        return subprocess.run(
            [sys.executable, "-c", script, str(config)],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as hung:
        raise AssertionError(f"it missed its signals: {hung.stdout!r}") from None


SCRIPT = textwrap.dedent(
    """
    import signal, sys, threading, time
    from datetime import timedelta
    from pathlib import Path
    from feedsvc.daemon import Daemon

    config = Path(sys.argv[1])
    daemon = Daemon(config, tick=timedelta(seconds=1), workers=1)
    reloads = []
    original = daemon.reload
    def counting_reload():
        reloads.append(time.monotonic())
        return original()
    daemon.reload = counting_reload

    def aim_from_another_thread():
        deadline = time.monotonic() + 20
        while daemon.health().last_cycle_end is None:
            assert time.monotonic() < deadline, "no cycle ended"
            time.sleep(0.05)
        time.sleep(0.3)  # the main thread is asleep, waiting to be woken
        signal.pthread_kill(threading.get_ident(), signal.SIGHUP)
        deadline = time.monotonic() + 5
        while not reloads and time.monotonic() < deadline:
            time.sleep(0.05)
        print("reloaded" if reloads else "no reload", flush=True)
        signal.pthread_kill(threading.get_ident(), signal.SIGTERM)

    threading.Thread(target=aim_from_another_thread, daemon=True).start()
    sys.exit(daemon.run())
    """
)


def test_a_signal_caught_by_another_thread_still_reloads_and_stops(tmp_path: Path) -> None:
    done = run_script(SCRIPT, tmp_path, timeout=30)
    assert done.stdout.strip() == "reloaded", done.stderr
    assert done.returncode == 0, done.stderr


WORKER_SCRIPT = textwrap.dedent(
    """
    import signal, sys, threading, time
    from feedsvc.cli import main

    def aim_from_another_thread():
        time.sleep(3)  # the worker has claimed, failed and gone to sleep for its poll
        signal.pthread_kill(threading.get_ident(), signal.SIGTERM)
        print("sent", flush=True)

    threading.Thread(target=aim_from_another_thread, daemon=True).start()
    sys.exit(main(["-q", "--config", sys.argv[1], "worker", "--workers", "1", "--poll", "5m"]))
    """
)


def test_a_worker_stops_soon_on_a_signal_caught_by_another_thread(tmp_path: Path) -> None:
    started = time.monotonic()
    done = run_script(WORKER_SCRIPT, tmp_path, timeout=60)
    assert done.stdout.strip() == "sent", done.stderr
    assert time.monotonic() - started < 20, "it slept through its poll"


def test_waiting_in_slices_keeps_the_events_answer() -> None:
    event = threading.Event()
    started = time.monotonic()
    assert wait_for(event, 1.2) is False
    assert 1.1 < time.monotonic() - started < 5
    threading.Timer(0.2, event.set).start()
    assert wait_for(event) is True
    assert wait_for(event, 0) is True

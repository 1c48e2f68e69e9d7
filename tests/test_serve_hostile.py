"""``feedsvc serve`` under hostile clients, while a well-behaved reader keeps reading.

A bounded load test on loopback: 300 slow-loris connections dripping a request
head, 10,000 requests for missing and traversal paths (NUL bytes included),
and requests with 100 kB heads, all at once, for a few seconds. Meanwhile a
reader fetches the real feed every 50 ms; every one of its requests must get
the whole feed. The slow-loris connections must be closed by the server (the
head deadline is shortened to 2 s here), the oversized heads refused with 431.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

FEED = (
    b'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>All</title>'
    + b"<item><title>Ferries resume at Port Wendel</title></item>" * 200
    + b"</channel></rss>"
)
SLOW_CLIENTS = 300
MISSING_REQUESTS = 10_000
ATTACKERS = 4
BAD_PATHS = [
    b"/missing.rss",
    b"/sources/%2e%2e/%2e%2e/etc/passwd",
    b"/sources/..%2f..%2fsecret.rss",
    b"/..%5c..%5cwindows/win.ini",
    b"/all.rss%00.html",
    b"/%00",
    b"/.all.rss.1234.abc.tmp",
    b"/" + b"a/" * 100 + b"x.rss",
]


SERVE = """
import sys
from pathlib import Path
import feedsvc.serve_guard as guard
from feedsvc.serve import create_app, serve_forever
guard.HEAD_TIMEOUT = 2.0
serve_forever(create_app(Path(sys.argv[1]), cache_seconds=60), "127.0.0.1", int(sys.argv[2]))
"""


@dataclass(frozen=True)
class Served:
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Served]:
    """``serve`` in its own process (as in production), the head deadline cut to 2 s."""
    output = tmp_path / "output"
    output.mkdir()
    (output / "all.rss").write_bytes(FEED)
    (tmp_path / "secret.rss").write_bytes(b"<rss>private</rss>")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.Popen([sys.executable, "-c", SERVE, str(output), str(port)], env=env)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                httpx.get(f"http://127.0.0.1:{port}/all.rss", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        yield Served(port)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=15)


class Tally:
    """A counter that threads can share."""

    def __init__(self) -> None:
        self.counts: Counter[str | int] = Counter()
        self._lock = threading.Lock()

    def add(self, key: str | int) -> None:
        with self._lock:
            self.counts[key] += 1


def slow_loris(port: int, stop: threading.Event, closed: Tally) -> None:
    """Open a connection, start a request head and drip it, a byte every half second."""
    try:
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    except OSError:
        closed.add("could not connect")
        return
    with sock:
        sock.settimeout(0.5)
        try:
            sock.sendall(b"GET /all.rss HTTP/1.1\r\nHost: feeds\r\nX-Slow: ")
            while not stop.is_set():
                sock.sendall(b"x")
                try:
                    if sock.recv(1024) == b"":
                        closed.add("by the server")
                        return
                except TimeoutError:
                    continue
        except OSError:
            closed.add("by the server")
            return
    closed.add("still open at the end")


def missing_paths(base: str, count: int, statuses: Tally) -> None:
    with httpx.Client(base_url=base, timeout=10) as client:
        for n in range(count):
            target = BAD_PATHS[n % len(BAD_PATHS)]
            try:
                statuses.add(client.get("/", extensions={"target": target}).status_code)
            except httpx.HTTPError:
                statuses.add(0)


def oversized(base: str, statuses: Tally, stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            response = httpx.get(base + "all.rss", headers={"X-Big": "a" * 100_000}, timeout=10)
            statuses.add(response.status_code)
        except httpx.HTTPError:
            statuses.add(0)
        time.sleep(0.1)


@pytest.mark.slow
def test_real_feeds_keep_being_served_under_hostile_clients(server: Served) -> None:
    stop = threading.Event()
    closed, statuses, big = Tally(), Tally(), Tally()
    threads = [
        threading.Thread(target=slow_loris, args=(server.port, stop, closed))
        for _ in range(SLOW_CLIENTS)
    ]
    threads += [
        threading.Thread(
            target=missing_paths, args=(server.url, MISSING_REQUESTS // ATTACKERS, statuses)
        )
        for _ in range(ATTACKERS)
    ]
    threads.append(threading.Thread(target=oversized, args=(server.url, big, stop)))
    for thread in threads:
        thread.start()

    latencies: list[float] = []
    failures: list[str] = []
    with httpx.Client(base_url=server.url, timeout=10) as reader:
        started = time.monotonic()
        while time.monotonic() - started < 60 and (
            time.monotonic() - started < 6 or sum(statuses.counts.values()) < MISSING_REQUESTS
        ):
            before = time.monotonic()
            try:
                response = reader.get("/all.rss")
                if response.status_code != 200 or response.content != FEED:
                    failures.append(f"{response.status_code} {len(response.content)} bytes")
            except httpx.HTTPError as exc:
                failures.append(repr(exc))
            latencies.append(time.monotonic() - before)
            time.sleep(0.05)
    stop.set()
    for thread in threads:
        thread.join(30)

    print(
        f"reader: {len(latencies)} requests, slowest {max(latencies):.2f}s; "
        f"attack: {dict(statuses.counts)}; slow-loris: {dict(closed.counts)}; "
        f"oversized: {dict(big.counts)}"
    )
    assert failures == []
    assert len(latencies) > 50
    assert max(latencies) < 5.0  # generous: the machine is shared
    assert sum(statuses.counts.values()) == MISSING_REQUESTS
    assert set(statuses.counts) <= {400, 404}
    assert closed.counts["by the server"] == SLOW_CLIENTS
    assert big.counts and set(big.counts) == {431}


def test_responses_are_not_held_back_by_nagle() -> None:
    """Regression: without TCP_NODELAY each keep-alive response waited ~40 ms for an ACK."""
    from feedsvc.serve import _bind

    with _bind("127.0.0.1", 0) as listening:
        assert listening.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        with socket.create_connection(listening.getsockname()[:2]):
            accepted, _ = listening.accept()
            with accepted:
                assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)

"""Serve the published output/ directory over HTTP, with /healthz and /metrics.

``create_app`` builds a Starlette app; ``Server`` runs it under uvicorn in a
background thread (``daemon --serve``, tests) and ``serve_forever`` in the
foreground until SIGINT/SIGTERM (``feedsvc serve``).

Files are answered by ``serve_files.OutputFiles`` (safe paths, no symlinks,
validators, gzip).

Hostile clients. Each request head must arrive within 10 s and fit in 16 KiB
(``serve_guard``), so slow-loris connections are closed and oversized heads
refused with 431; idle kept-alive connections close after uvicorn's 5 s.

It does not write anything, list directories, serve ranges, or know how the
files were made; health and metrics values come from the caller.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol

import anyio.to_thread
import uvicorn
from starlette.applications import Starlette
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from feedsvc.config_types import SourceConfig
from feedsvc.metrics import MetricsProvider
from feedsvc.serve_files import OutputFiles
from feedsvc.serve_guard import GuardedH11Protocol

__all__ = [
    "Health",
    "HealthProvider",
    "Server",
    "cache_seconds_for",
    "create_app",
    "health_report",
    "serve_forever",
]

log = logging.getLogger("feedsvc.serve")

MIN_CACHE_SECONDS = 60
MAX_CACHE_SECONDS = 3600
MIN_HEALTH_GRACE = timedelta(minutes=15)
STARTUP_TIMEOUT = 10.0
NO_STORE = {"Cache-Control": "no-store"}


Clock = Callable[[], datetime]


def _utc_now() -> datetime:
    return datetime.now(UTC)


# --------------------------------------------------------------------------- health


@dataclass(frozen=True, slots=True)
class Health:
    """What the daemon says about itself: is the scheduler alive, when did a cycle last end."""

    scheduler_running: bool
    last_cycle_end: datetime | None
    started: datetime


class HealthProvider(Protocol):
    """Answers the current :class:`Health` of the process."""

    def __call__(self) -> Health:
        """The health right now."""
        ...


def health_report(
    health: Health, now: datetime, cache_seconds: int
) -> tuple[bool, dict[str, object]]:
    """Whether ``health`` is healthy at ``now``, and the JSON body that says why."""
    grace = max(timedelta(seconds=3 * cache_seconds), MIN_HEALTH_GRACE)
    since = now - (health.last_cycle_end or health.started)
    problem = _health_problem(health, since, grace)
    body: dict[str, object] = {
        "status": "ok" if problem is None else "failing",
        "mode": "daemon",
        "scheduler_running": health.scheduler_running,
        "started": health.started.isoformat(),
        "last_cycle_end": health.last_cycle_end.isoformat() if health.last_cycle_end else None,
        "seconds_since_last_cycle": _seconds_since(health, now),
        "grace_seconds": int(grace.total_seconds()),
    }
    if problem is not None:
        body["problem"] = problem
    return problem is None, body


def _health_problem(health: Health, since: timedelta, grace: timedelta) -> str | None:
    if not health.scheduler_running:
        return "the scheduler is not running"
    if since <= grace:
        return None
    if health.last_cycle_end is None:
        return f"no cycle has ended in {int(since.total_seconds())} s since start"
    return f"the last cycle ended {int(since.total_seconds())} s ago"


def _seconds_since(health: Health, now: datetime) -> float | None:
    if health.last_cycle_end is None:
        return None
    return round((now - health.last_cycle_end).total_seconds(), 3)


def cache_seconds_for(sources: Sequence[SourceConfig]) -> int:
    """The max-age for served feeds: the shortest enabled interval, within 60 s to 1 h."""
    intervals = [s.interval.total_seconds() for s in sources if s.enabled]
    shortest = int(min(intervals, default=MAX_CACHE_SECONDS))
    return max(MIN_CACHE_SECONDS, min(shortest, MAX_CACHE_SECONDS))


# --------------------------------------------------------------------------- app


def create_app(
    output_dir: Path,
    *,
    cache_seconds: int,
    health: HealthProvider | None = None,
    metrics: MetricsProvider | None = None,
    clock: Clock = _utc_now,
) -> Starlette:
    """The read-only app serving ``output_dir``, ``/healthz`` and (when given) ``/metrics``."""
    root = Path(output_dir).absolute()
    routes = [Route("/healthz", _health_endpoint(health, cache_seconds, clock), methods=["GET"])]
    if metrics is not None:
        metrics_app = GZipMiddleware(_metrics_endpoint(metrics))
        routes.append(Route("/metrics", metrics_app, methods=["GET"]))
    routes.append(Route("/{path:path}", OutputFiles(root, cache_seconds), methods=["GET"]))
    if not root.is_dir():
        log.warning("output directory missing output_dir=%s (404 until published)", root)
    log.info("app created output_dir=%s cache_seconds=%d", root, cache_seconds)
    return Starlette(routes=routes)


def _health_endpoint(
    health: HealthProvider | None, cache_seconds: int, clock: Clock
) -> Callable[[Request], Awaitable[Response]]:
    async def healthz(request: Request) -> Response:
        if health is None:
            return JSONResponse({"status": "ok", "mode": "static"}, headers=NO_STORE)
        ok, body = health_report(health(), clock(), cache_seconds)
        if not ok:
            log.warning("unhealthy problem=%s", body["problem"])
        return JSONResponse(body, status_code=200 if ok else 503, headers=NO_STORE)

    return healthz


def _metrics_endpoint(
    metrics: MetricsProvider,
) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    async def metrics_app(scope: Scope, receive: Receive, send: Send) -> None:
        body, content_type = await anyio.to_thread.run_sync(metrics)
        response = Response(body, media_type=content_type, headers=NO_STORE)
        await response(scope, receive, send)

    return metrics_app


# --------------------------------------------------------------------------- running


class Server:
    """Uvicorn serving one app from a background thread (``daemon --serve``, tests)."""

    def __init__(self, app: Starlette, host: str, port: int, *, access_log: bool = False) -> None:
        self.app = app
        self.host = host
        self.port = port
        self._access_log = access_log
        self._uvicorn: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The base URL the server answers on, ending in ``/``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    @property
    def running(self) -> bool:
        """Whether the server thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Bind (port 0 picks a free one, then in ``port``), start serving, wait until ready."""
        sock = _bind(self.host, self.port)
        self.port = sock.getsockname()[1]
        self._uvicorn = uvicorn.Server(self._config())
        self._thread = threading.Thread(
            target=self._uvicorn.run, kwargs={"sockets": [sock]}, name="feedsvc-serve", daemon=True
        )
        self._thread.start()
        self._wait_started(sock)
        log.info("serving url=%s", self.url)

    def _config(self) -> uvicorn.Config:
        return uvicorn.Config(
            self.app,
            log_config=None,
            log_level="info" if self._access_log else "warning",
            access_log=self._access_log,
            lifespan="off",
            http=GuardedH11Protocol,
            loop="asyncio",
            server_header=False,
            timeout_graceful_shutdown=3,
        )

    def _wait_started(self, sock: socket.socket) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while self._uvicorn is not None and not self._uvicorn.started:
            if not self.running or time.monotonic() > deadline:
                self.stop()
                sock.close()
                raise RuntimeError(f"the HTTP server did not start on {self.url}")
            time.sleep(0.01)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop accepting, let answers in flight finish (up to ``timeout``), and join."""
        if self._uvicorn is None or self._thread is None:
            return
        self._uvicorn.should_exit = True
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.warning("forcing shutdown url=%s", self.url)
            self._uvicorn.force_exit = True
            self._thread.join(1.0)
        log.info("stopped url=%s", self.url)


def _bind(host: str, port: int) -> socket.socket:
    family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
    sock = socket.create_server((host, port), family=family)
    # asyncio sets TCP_NODELAY only on sockets made with proto=IPPROTO_TCP, which these are
    # not; without it every response waits ~40 ms for the client's delayed ACK (Nagle).
    # Accepted connections inherit the option from the listening socket.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def serve_forever(app: Starlette, host: str, port: int, *, access_log: bool = False) -> None:
    """Serve ``app`` in the foreground until SIGINT or SIGTERM, then stop cleanly and return."""
    signals = {signal.SIGINT, signal.SIGTERM}
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, signals)
    server = Server(app, host, port, access_log=access_log)
    try:
        server.start()
        received = _wait_for_signal(server, signals)
    finally:
        server.stop()
        _drain(signals)
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
    log.info("shut down signal=%s", received)


def _wait_for_signal(server: Server, signals: set[signal.Signals]) -> str:
    while server.running:
        info = signal.sigtimedwait(signals, 0.5)
        if info is not None:
            return signal.Signals(info.si_signo).name
    raise RuntimeError("the HTTP server stopped by itself")


def _drain(signals: set[signal.Signals]) -> None:
    """Consume signals that arrived during shutdown, so unblocking them does not kill us."""
    with contextlib.suppress(OSError):
        while signals & signal.sigpending():
            signal.sigwait(signals)

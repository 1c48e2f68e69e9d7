"""Serve the published output/ directory over HTTP, with /healthz and /metrics.

``create_app`` builds a Starlette app; ``Server`` runs it under uvicorn in a
background thread (``daemon --serve``, tests) and ``serve_forever`` in the
foreground until SIGINT/SIGTERM (``feedsvc serve``).

Files. Only GET and HEAD (405 otherwise). A request path is checked before it
touches the disk: every segment must be a plain name (letters, digits, ``._~-``,
not starting with a dot), so ``..``, hidden and temporary files, empty segments
and absolute paths are refused with 404, a NUL byte with 400; only the
extensions of the output layout are served, with their feed content types. The
file is opened once, one directory at a time below output/ with
``O_NOFOLLOW``, so no symlink inside output/ is followed (race-free), and the
headers come from ``fstat`` of that handle: the body streamed from it is always
the complete file the publisher renamed into place, never half of the next one.

Validators. ``ETag`` is ``"<size>-<mtime_ns>-<inode>"`` (hex), so an atomic
replace always changes it; ``Last-Modified`` is the mtime. The gzip
representation gets its own strong tag, the identity tag plus ``-gzip``;
``If-None-Match`` is compared weakly with the tag of the representation being
chosen, and wins over ``If-Modified-Since``. Files carry
``Cache-Control: public, max-age=<cache_seconds>`` and ``Vary: Accept-Encoding``.

Hostile clients. Each request head must arrive within 10 s and fit in 16 KiB
(``serve_guard``), so slow-loris connections are closed and oversized heads
refused with 431; idle kept-alive connections close after uvicorn's 5 s.

It does not write anything, list directories, serve ranges, or know how the
files were made; health and metrics values come from the caller.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import re
import signal
import socket
import stat
import threading
import time
import zlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import formatdate, parsedate_to_datetime
from pathlib import Path
from typing import Protocol

import anyio.to_thread
import uvicorn
from starlette.applications import Starlette
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from feedsvc.metrics import MetricsProvider
from feedsvc.serve_guard import GuardedH11Protocol
from feedsvc.types import SourceConfig

__all__ = [
    "CONTENT_TYPES",
    "Health",
    "HealthProvider",
    "Server",
    "cache_seconds_for",
    "create_app",
    "health_report",
    "serve_forever",
]

log = logging.getLogger("feedsvc.serve")

CONTENT_TYPES = {
    ".rss": "application/rss+xml; charset=utf-8",
    ".atom": "application/atom+xml; charset=utf-8",
    ".json": "application/feed+json; charset=utf-8",
    ".opml": "text/x-opml; charset=utf-8",
    ".html": "text/html; charset=utf-8",
}
INDEX = "index.html"
MAX_PATH = 1024
MAX_DEPTH = 8
CHUNK = 64 * 1024
GZIP_MIN_SIZE = 512
GZIP_LEVEL = 6
MIN_CACHE_SECONDS = 60
MAX_CACHE_SECONDS = 3600
MIN_HEALTH_GRACE = timedelta(minutes=15)
STARTUP_TIMEOUT = 10.0
NO_STORE = {"Cache-Control": "no-store"}

_SEGMENT_RE = re.compile(r"[A-Za-z0-9_~-][A-Za-z0-9._~-]{0,254}")
_MISSING = {errno.ENOENT, errno.ENOTDIR, errno.ELOOP, errno.EISDIR, errno.EACCES, errno.ENXIO}

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


# --------------------------------------------------------------------------- files


@dataclass(frozen=True, slots=True)
class _Opened:
    """An open output file and the facts its headers are made of."""

    fd: int
    size: int
    mtime: float
    etag: str
    content_type: str


def request_parts(path: str) -> tuple[str, ...] | None:
    """The safe segments below output/ that ``path`` names, or None when it names none."""
    if len(path) > MAX_PATH or not path.startswith("/"):
        return None
    relative = path[1:]
    if relative == "" or relative.endswith("/"):
        relative += INDEX
    parts = tuple(relative.split("/"))
    if len(parts) > MAX_DEPTH or not all(_SEGMENT_RE.fullmatch(p) for p in parts):
        return None
    return parts if Path(parts[-1]).suffix in CONTENT_TYPES else None


def _open_below(root: Path, parts: tuple[str, ...]) -> _Opened | None:
    """Open ``root/parts`` following no symlink below root; None when it is not a file."""
    try:
        fd = _walk(root, parts)
    except OSError as exc:
        if exc.errno in _MISSING:
            return None
        raise
    try:
        return _describe(fd, parts[-1])
    except BaseException:
        os.close(fd)
        raise


def _walk(root: Path, parts: tuple[str, ...]) -> int:
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    for part in parts[:-1]:
        try:
            child = os.open(part, flags | os.O_DIRECTORY, dir_fd=fd)
        finally:
            os.close(fd)
        fd = child
    try:
        return os.open(parts[-1], flags | os.O_NONBLOCK, dir_fd=fd)
    finally:
        os.close(fd)


def _describe(fd: int, name: str) -> _Opened | None:
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        return None
    etag = f'"{info.st_size:x}-{info.st_mtime_ns:x}-{info.st_ino:x}"'
    content_type = CONTENT_TYPES[Path(name).suffix]
    return _Opened(fd, info.st_size, info.st_mtime, etag, content_type)


def accepts_gzip(accept_encoding: str) -> bool:
    """Whether an ``Accept-Encoding`` value accepts gzip (q > 0, named or by ``*``)."""
    weights: dict[str, float] = {}
    for item in accept_encoding.lower().split(","):
        coding, _, params = item.partition(";")
        weights[coding.strip()] = _quality(params)
    if "gzip" in weights or "x-gzip" in weights:
        return max(weights.get("gzip", 0.0), weights.get("x-gzip", 0.0)) > 0
    return weights.get("*", 0.0) > 0


def _quality(params: str) -> float:
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip() == "q":
            try:
                return float(value.strip())
            except ValueError:
                return 0.0
    return 1.0


def etag_matches(if_none_match: str, etag: str) -> bool:
    """Weak comparison of ``etag`` with an ``If-None-Match`` list (``*`` matches any)."""
    if if_none_match.strip() == "*":
        return True
    opaque = etag.removeprefix("W/")
    return any(tag.strip().removeprefix("W/") == opaque for tag in if_none_match.split(","))


def not_modified_since(if_modified_since: str, mtime: float) -> bool:
    """Whether a file last modified at ``mtime`` is unchanged since the given HTTP date."""
    try:
        since = parsedate_to_datetime(if_modified_since)
    except (TypeError, ValueError, IndexError):
        return False
    if since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    return int(mtime) <= since.timestamp()


class _OutputFiles:
    """The ASGI app that answers GET/HEAD for files below output/."""

    def __init__(self, root: Path, cache_seconds: int) -> None:
        self._root = root
        self._cache_control = f"public, max-age={cache_seconds}"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        if "\x00" in path:
            await PlainTextResponse("bad request\n", 400)(scope, receive, send)
            return
        parts = request_parts(path)
        opened = await anyio.to_thread.run_sync(_open_below, self._root, parts) if parts else None
        if opened is None:
            log.debug("not served path=%r", path[:200])
            await PlainTextResponse("not found\n", 404)(scope, receive, send)
            return
        try:
            await self._answer(opened, scope, send)
        finally:
            os.close(opened.fd)

    async def _answer(self, opened: _Opened, scope: Scope, send: Send) -> None:
        request = Request(scope)
        gzip = opened.size >= GZIP_MIN_SIZE and accepts_gzip(
            request.headers.get("accept-encoding", "")
        )
        etag = opened.etag[:-1] + '-gzip"' if gzip else opened.etag
        headers = self._headers(opened, etag)
        if _is_not_modified(request, etag, opened.mtime):
            await _send_start(send, 304, headers)
            await send({"type": "http.response.body", "body": b""})
            return
        headers["Content-Type"] = opened.content_type
        headers["X-Content-Type-Options"] = "nosniff"
        if gzip:
            headers["Content-Encoding"] = "gzip"
        else:
            headers["Content-Length"] = str(opened.size)
        await _send_start(send, 200, headers)
        if scope["method"] == "HEAD":
            await send({"type": "http.response.body", "body": b""})
        else:
            await _stream(opened, send, gzip)

    def _headers(self, opened: _Opened, etag: str) -> dict[str, str]:
        return {
            "ETag": etag,
            "Last-Modified": formatdate(opened.mtime, usegmt=True),
            "Cache-Control": self._cache_control,
            "Vary": "Accept-Encoding",
        }


def _is_not_modified(request: Request, etag: str, mtime: float) -> bool:
    if_none_match = request.headers.get("if-none-match")
    if if_none_match is not None:
        return etag_matches(if_none_match, etag)
    if_modified_since = request.headers.get("if-modified-since")
    return if_modified_since is not None and not_modified_since(if_modified_since, mtime)


async def _send_start(send: Send, status: int, headers: dict[str, str]) -> None:
    raw = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})


async def _stream(opened: _Opened, send: Send, gzip: bool) -> None:
    """Send the open file, gzipped or not, reading only from its handle."""
    compressor = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 31) if gzip else None
    remaining = opened.size
    while remaining > 0:
        chunk = await anyio.to_thread.run_sync(os.read, opened.fd, min(CHUNK, remaining))
        if not chunk:
            break
        remaining -= len(chunk)
        body = compressor.compress(chunk) if compressor else chunk
        if body:
            await send({"type": "http.response.body", "body": body, "more_body": True})
    tail = compressor.flush() if compressor else b""
    await send({"type": "http.response.body", "body": tail, "more_body": False})


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
    routes.append(Route("/{path:path}", _OutputFiles(root, cache_seconds), methods=["GET"]))
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

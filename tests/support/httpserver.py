"""A loopback HTTP server for tests: static routes, dynamic handlers, misbehaviour on demand.

Use the ``loopback_server`` fixture (import it into tests/conftest.py), or the
class as a context manager::

    with LoopbackServer() as server:
        server.route("/feed.xml", body=b"<rss/>", headers={"ETag": '"v1"'})
        server.redirect("/old", "/feed.xml", status=301)
        server.route("/slow", delay=5.0)                       # headers come late
        server.route("/trickle", chunks=lambda: trickle(0.05))  # a byte every 50 ms, forever
        server.route("/huge", chunks=lambda: zeros(100 * 2**20))  # streamed lazily
        server.route("/drop", drop=True)                        # connection closed, no answer
        server.handler("/dyn", lambda info: Response(body=info.path.encode()))
        url = server.url("/feed.xml")

A 200 answer whose headers carry ``ETag`` or ``Last-Modified`` is turned into a
304 when the request's ``If-None-Match`` / ``If-Modified-Since`` match. The
server records every request (``requests``), the most requests it served at
once per Host header (``max_concurrent``) and the body bytes it wrote
(``body_bytes_sent``). Closing it wakes every delayed or streaming answer and
shuts the open connections, so teardown never hangs.

It does not do TLS, HTTP/2, or anything but GET and HEAD.
"""

from __future__ import annotations

import contextlib
import gzip as gzip_module
import itertools
import socket
import threading
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

import pytest

CHUNK = 64 * 1024


@dataclass(frozen=True, slots=True)
class RequestInfo:
    """One request the server received; header names are lower-cased."""

    method: str
    path: str
    headers: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class Response:
    """What to answer: a body, or lazily produced chunks, and how to misbehave."""

    status: int = 200
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    delay: float = 0.0
    chunks: Iterable[bytes] | None = None
    chunk_delay: float = 0.0
    gzip: bool = False
    drop: bool = False


Handler = Callable[[RequestInfo], Response]


def trickle(interval: float, byte: bytes = b"x") -> Iterator[bytes]:
    """Chunks for a body that sends one byte every ``interval`` seconds, forever."""
    return _paced(itertools.repeat(byte), interval)


def zeros(total: int, chunk: int = CHUNK) -> Iterator[bytes]:
    """Chunks of ``total`` zero bytes, produced lazily ``chunk`` bytes at a time."""
    block = bytes(chunk)
    full, rest = divmod(total, chunk)
    yield from itertools.repeat(block, full)
    if rest:
        yield block[:rest]


def _paced(chunks: Iterable[bytes], interval: float) -> Iterator[bytes]:
    for data in chunks:
        yield _Pause(interval, data)


class _Pause(bytes):
    """Bytes that ask the server to wait ``interval`` seconds before sending them."""

    interval: float

    def __new__(cls, interval: float, data: bytes) -> _Pause:
        obj = super().__new__(cls, data)
        obj.interval = interval
        return obj


class LoopbackServer:
    """A threaded HTTP/1.1 server on 127.0.0.1 with an ephemeral port."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._handlers: dict[str, Handler] = {}
        self._requests: list[RequestInfo] = []
        self._active: Counter[str] = Counter()
        self._max_active: Counter[str] = Counter()
        self._max_total = 0
        self._sent = 0
        self._accepted = 0
        self._connections: set[socket.socket] = set()
        self._threads: set[threading.Thread] = set()
        self._httpd = _Server(("127.0.0.1", 0), _RequestHandler, self)
        self.port: int = self._httpd.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def __enter__(self) -> LoopbackServer:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def url(self, path: str) -> str:
        """The absolute URL of ``path`` on this server."""
        return self.base_url + path

    def route(
        self,
        path: str,
        status: int = 200,
        body: bytes = b"",
        headers: Mapping[str, str] | None = None,
        *,
        delay: float = 0.0,
        chunks: Callable[[], Iterable[bytes]] | None = None,
        chunk_delay: float = 0.0,
        gzip: bool = False,
        drop: bool = False,
    ) -> None:
        """Answer ``path`` with a static response (chunks are produced afresh per request)."""
        fixed = dict(headers or {})

        def answer(_info: RequestInfo) -> Response:
            produced = chunks() if chunks is not None else None
            return Response(status, body, fixed, delay, produced, chunk_delay, gzip, drop)

        self.handler(path, answer)

    def redirect(self, path: str, location: str, status: int = 302) -> None:
        """Answer ``path`` with a redirect to ``location``."""
        self.route(path, status, headers={"Location": location})

    def handler(self, path: str, fn: Handler) -> None:
        """Answer ``path`` (query string ignored) with whatever ``fn`` returns."""
        with self._lock:
            self._handlers[path] = fn

    @property
    def requests(self) -> list[RequestInfo]:
        """A copy of every request received so far, in arrival order."""
        with self._lock:
            return list(self._requests)

    def max_concurrent(self, host: str | None = None) -> int:
        """The most requests served at once (for one Host header, or overall)."""
        with self._lock:
            return self._max_total if host is None else self._max_active[host]

    @property
    def body_bytes_sent(self) -> int:
        """How many body bytes the server has written so far (after any gzip)."""
        with self._lock:
            return self._sent

    @property
    def connections_accepted(self) -> int:
        """How many client connections the server has accepted so far."""
        with self._lock:
            return self._accepted

    @property
    def open_connections(self) -> int:
        """How many client connections a handler thread is still serving."""
        with self._lock:
            return len(self._connections)

    def close(self, timeout: float = 5.0) -> None:
        """Stop serving, wake delayed answers, close connections and join threads."""
        self._closing.set()
        if self._thread.is_alive():
            self._httpd.shutdown()
        with self._lock:
            connections, threads = list(self._connections), list(self._threads)
        for conn in connections:
            _shutdown_socket(conn)
        for thread in threads:
            thread.join(timeout)
        self._httpd.server_close()

    # ------------------------------------------------------------------ used by handler threads

    def _find(self, path: str) -> Handler | None:
        with self._lock:
            return self._handlers.get(path.split("?", 1)[0])

    def _connected(self, conn: socket.socket) -> None:
        with self._lock:
            self._accepted += 1
            self._connections.add(conn)
            self._threads.add(threading.current_thread())

    def _disconnected(self, conn: socket.socket) -> None:
        with self._lock:
            self._connections.discard(conn)
            self._threads.discard(threading.current_thread())

    def _begin(self, info: RequestInfo) -> None:
        host = info.headers.get("host", "")
        with self._lock:
            self._requests.append(info)
            self._active[host] += 1
            self._max_active[host] = max(self._max_active[host], self._active[host])
            self._max_total = max(self._max_total, sum(self._active.values()))

    def _end(self, info: RequestInfo) -> None:
        with self._lock:
            self._active[info.headers.get("host", "")] -= 1

    def _count_sent(self, size: int) -> None:
        with self._lock:
            self._sent += size

    def _wait(self, seconds: float) -> bool:
        """Sleep up to ``seconds``; True when the server is closing meanwhile."""
        return self._closing.wait(seconds) if seconds > 0 else self._closing.is_set()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # LoopbackServer.close joins its handler threads with a timeout

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay quiet about clients that went away (tests kill them on purpose)."""

    def __init__(self, address: tuple[str, int], handler: Any, owner: LoopbackServer) -> None:
        self.owner = owner
        super().__init__(address, handler)


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.server.owner._connected(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.owner._disconnected(self.connection)

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet: tests read ``requests`` instead."""

    def do_GET(self) -> None:
        self._serve()

    def do_HEAD(self) -> None:
        self._serve()

    def _serve(self) -> None:
        owner = self.server.owner
        info = RequestInfo(self.command, self.path, {k.lower(): v for k, v in self.headers.items()})
        owner._begin(info)
        try:
            found = owner._find(self.path)
            answer = found(info) if found else Response(404, b"not found")
            self._answer(info, answer)
        except OSError:
            self.close_connection = True  # the client went away
        finally:
            owner._end(info)

    def _answer(self, info: RequestInfo, answer: Response) -> None:
        owner = self.server.owner
        if answer.drop or owner._wait(answer.delay):
            self.close_connection = True
            return
        if answer.status == 200 and _not_modified(info.headers, answer.headers):
            kept = {k: v for k, v in answer.headers.items() if k.lower() != "content-length"}
            self._send_head(304, kept)
            return
        if answer.chunks is None:
            self._send_static(info, answer)
        else:
            self._send_stream(info, answer)

    def _send_head(self, status: int, headers: Mapping[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()

    def _send_static(self, info: RequestInfo, answer: Response) -> None:
        body = gzip_module.compress(answer.body) if answer.gzip else answer.body
        headers = dict(answer.headers)
        headers.setdefault("Content-Length", str(len(body)))
        if answer.gzip:
            headers["Content-Encoding"] = "gzip"
        self._send_head(answer.status, headers)
        if info.method != "HEAD":
            self._write(body)

    def _send_stream(self, info: RequestInfo, answer: Response) -> None:
        headers = dict(answer.headers)
        declared = any(k.lower() == "content-length" for k in headers)
        if not declared:
            headers["Transfer-Encoding"] = "chunked"
        if answer.gzip:
            headers["Content-Encoding"] = "gzip"
        self._send_head(answer.status, headers)
        if info.method == "HEAD" or answer.chunks is None:
            return
        chunks = _gzip_stream(answer.chunks) if answer.gzip else iter(answer.chunks)
        self._stream(chunks, answer.chunk_delay, chunked=not declared)
        self.close_connection = self.close_connection or declared

    def _stream(self, chunks: Iterator[bytes], delay: float, *, chunked: bool) -> None:
        owner = self.server.owner
        for data in chunks:
            pause = data.interval if isinstance(data, _Pause) else delay
            if owner._wait(pause):
                self.close_connection = True
                return
            if data:
                self._write(f"{len(data):x}\r\n".encode() + data + b"\r\n" if chunked else data)
                owner._count_sent(len(data))
        if chunked:
            self._write(b"0\r\n\r\n")

    def _write(self, data: bytes) -> None:
        self.wfile.write(data)
        self.wfile.flush()


def _not_modified(request: Mapping[str, str], response: Mapping[str, str]) -> bool:
    """Whether the request's validators match the answer's ETag / Last-Modified."""
    answer = {k.lower(): v for k, v in response.items()}
    if "if-none-match" in request:
        etag = answer.get("etag")
        tags = [t.strip() for t in request["if-none-match"].split(",")]
        return etag is not None and ("*" in tags or etag in tags)
    since, modified = request.get("if-modified-since"), answer.get("last-modified")
    if since is None or modified is None:
        return False
    try:
        return parsedate_to_datetime(modified) <= parsedate_to_datetime(since)
    except (TypeError, ValueError):
        return False


def _gzip_stream(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """Gzip-compress chunks lazily, keeping any pacing of the original chunks."""
    compressor = zlib.compressobj(wbits=31)
    for data in chunks:
        packed = compressor.compress(data)
        yield _Pause(data.interval, packed) if isinstance(data, _Pause) else packed
    yield compressor.flush()


def _shutdown_socket(conn: socket.socket) -> None:
    with contextlib.suppress(OSError):  # already closed by the client
        conn.shutdown(socket.SHUT_RDWR)


@pytest.fixture
def loopback_server() -> Iterator[LoopbackServer]:
    """A running LoopbackServer, closed (threads joined) at teardown."""
    with LoopbackServer() as server:
        yield server

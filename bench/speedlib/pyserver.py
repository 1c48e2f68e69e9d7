"""A threaded static file server with conditional GET, the fallback to nginx (stdlib only).

usage: python pyserver.py ROOT PORT ACCESS_LOG

Serves ROOT on 127.0.0.1:PORT over HTTP/1.1 keep-alive. Each file has an ETag
(mtime and size) and a Last-Modified; If-None-Match, else If-Modified-Since,
answers 304. Feed files get their content types. One access-log line per
request: ``status bytes seconds``.
"""

from __future__ import annotations

import sys
import threading
import time
from email.utils import formatdate, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import BinaryIO, ClassVar

TYPES = {".rss": "application/rss+xml", ".atom": "application/atom+xml", ".txt": "text/plain"}


class FeedHandler(BaseHTTPRequestHandler):
    """GET and HEAD of static files with 304 support."""

    protocol_version = "HTTP/1.1"
    root: ClassVar[Path]
    log_file: ClassVar[BinaryIO]
    log_lock: ClassVar[threading.Lock] = threading.Lock()

    def do_GET(self) -> None:
        """Send the file, or 304 when the client's copy is current."""
        self._answer(body=True)

    def do_HEAD(self) -> None:
        """Send the headers only."""
        self._answer(body=False)

    def _answer(self, *, body: bool) -> None:
        start = time.perf_counter()
        path = self._file()
        if path is None:
            self._send(404, b"not found\n", {"Content-Type": "text/plain"}, body, start)
            return
        stat = path.stat()
        etag = f'"{stat.st_mtime_ns:x}-{stat.st_size:x}"'
        headers = {
            "ETag": etag,
            "Last-Modified": formatdate(stat.st_mtime, usegmt=True),
            "Content-Type": TYPES.get(path.suffix, "application/octet-stream"),
        }
        if self._fresh(etag, stat.st_mtime):
            self._send(304, b"", headers, False, start)
            return
        self._send(200, path.read_bytes(), headers, body, start)

    def _file(self) -> Path | None:
        relative = self.path.split("?", 1)[0].lstrip("/")
        path = (self.root / relative).resolve()
        inside = path.is_relative_to(self.root) and path.is_file()
        return path if inside else None

    def _fresh(self, etag: str, mtime: float) -> bool:
        match = self.headers.get("If-None-Match")
        if match is not None:
            return etag in (tag.strip() for tag in match.split(","))
        since = self.headers.get("If-Modified-Since")
        if since is None:
            return False
        try:
            return int(mtime) <= parsedate_to_datetime(since).timestamp()
        except (TypeError, ValueError):
            return False

    def _send(
        self, status: int, data: bytes, headers: dict[str, str], body: bool, start: float
    ) -> None:
        self.send_response_only(status)
        for name, value in headers.items():
            self.send_header(name, value)
        if status != 304:  # a 304 has no body, whatever the length of the 200 would be
            self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if body and data:
            self.wfile.write(data)
        took = time.perf_counter() - start
        line = f"{status} {len(data) if body else 0} {took:.3f} {self.path.split('?')[0]}\n"
        with self.log_lock:
            self.log_file.write(line.encode())
            self.log_file.flush()

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the access log above is the record."""


def main(argv: list[str]) -> None:
    """Serve until killed."""
    root, port, log = Path(argv[0]).resolve(), int(argv[1]), Path(argv[2])
    FeedHandler.root = root
    FeedHandler.log_file = log.open("ab")
    server = ThreadingHTTPServer(("127.0.0.1", port), FeedHandler)
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main(sys.argv[1:])

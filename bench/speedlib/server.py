"""The static feed server: nginx from Debian (default) or a threaded Python server.

Either one serves a corpus directory on a free loopback port, answers
conditional requests with 304 (ETag and Last-Modified), sends the feed content
types, and writes one access-log line per request (``status bytes seconds``),
so each step can count its requests and 304s. Its CPU time is read from /proc
before and after a step, to show it is not the bottleneck.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from speedlib.debian import ensure_program
from speedlib.procstat import tree, tree_cpu

READY_SECONDS = 10.0
PYSERVER = Path(__file__).with_name("pyserver.py")

NGINX_CONF = """\
daemon off;
master_process on;
worker_processes 1;
{user}
pid {scratch}/nginx.pid;
error_log {scratch}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    types {{
        application/rss+xml rss;
        application/atom+xml atom;
        text/plain txt;
    }}
    default_type application/octet-stream;
    log_format bench '$status $body_bytes_sent $request_time $uri';
    access_log {scratch}/access.log bench;
    client_body_temp_path {scratch}/tmp-body;
    proxy_temp_path {scratch}/tmp-proxy;
    fastcgi_temp_path {scratch}/tmp-fastcgi;
    uwsgi_temp_path {scratch}/tmp-uwsgi;
    scgi_temp_path {scratch}/tmp-scgi;
    sendfile on;
    etag on;
    keepalive_requests 100000;
    server {{
        listen 127.0.0.1:{port};
        root {root};
        location / {{ }}
    }}
}}
"""


@dataclass(frozen=True, slots=True)
class RequestCounts:
    """Requests seen in the access log during one step."""

    total: int = 0
    ok: int = 0
    not_modified: int = 0
    other: int = 0
    bytes: int = 0
    seconds: float = 0.0

    def describe(self) -> str:
        """For example ``1000 requests (200: 0, 304: 1000), 0.0 MB``."""
        text = f"{self.total} requests (200: {self.ok}, 304: {self.not_modified}"
        text += f", other: {self.other}" if self.other else ""
        return text + f"), {self.bytes / 1e6:.1f} MB"


class Server:
    """A running static server; use ``with serve(...) as server``."""

    def __init__(self, kind: str, proc: subprocess.Popen[bytes], port: int, log: Path) -> None:
        self.kind = kind
        self.proc = proc
        self.port = port
        self.access_log = log

    @property
    def base_url(self) -> str:
        """The URL of the corpus root, ending with ``/``."""
        return f"http://127.0.0.1:{self.port}/"

    @property
    def pids(self) -> frozenset[int]:
        """The server's process tree (left out of every measurement)."""
        return frozenset(tree(self.proc.pid))

    def cpu(self) -> float:
        """CPU seconds used so far by the server's processes."""
        return tree_cpu(self.proc.pid)

    def log_offset(self) -> int:
        """Where the access log ends now."""
        return self.access_log.stat().st_size if self.access_log.exists() else 0

    def paths_since(self, offset: int) -> dict[str, int]:
        """How many times each path was requested after ``offset`` (the log's fourth field)."""
        time.sleep(0.05)
        counts: dict[str, int] = {}
        with self.access_log.open("rb") as log:
            log.seek(offset)
            for line in log.read().splitlines():
                fields = line.split()
                path = fields[3].decode() if len(fields) > 3 else "?"
                counts[path] = counts.get(path, 0) + 1
        return counts

    def requests_since(self, offset: int) -> RequestCounts:
        """Count the access-log lines written after ``offset``."""
        time.sleep(0.05)  # let the last line land
        with self.access_log.open("rb") as log:
            log.seek(offset)
            lines = log.read().splitlines()
        total = ok = not_modified = size = 0
        seconds = 0.0
        for line in lines:
            status, sent, took = line.split()[:3]
            total += 1
            ok += status == b"200"
            not_modified += status == b"304"
            size += int(sent)
            seconds += float(took)
        return RequestCounts(total, ok, not_modified, total - ok - not_modified, size, seconds)


@contextlib.contextmanager
def serve(kind: str, root: Path, scratch: Path) -> Iterator[Server]:
    """Start a ``kind`` (nginx or python) server for ``root``; stop it on exit."""
    scratch.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log = scratch / "access.log"
    log.unlink(missing_ok=True)
    command = _nginx(root, scratch, port) if kind == "nginx" else _python(root, port, log)
    with (scratch / "server.out").open("wb") as out:
        proc = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip
    try:
        _wait_ready(proc, port, scratch / "server.out")
        yield Server(kind, proc, port, log)
    finally:
        _stop(proc)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def ensure_nginx() -> str:
    """The nginx binary; installs Debian's package when missing and we are root."""
    return ensure_program("nginx", "nginx", " or run with --server python")


def _nginx(root: Path, scratch: Path, port: int) -> list[str]:
    binary = ensure_nginx()
    user = "user root;" if os.geteuid() == 0 else ""  # workers must read the scratch dir
    conf = NGINX_CONF.format(user=user, scratch=scratch.resolve(), port=port, root=root.resolve())
    path = scratch / "nginx.conf"
    path.write_text(conf, encoding="utf-8")
    error_log = str((scratch / "error.log").resolve())
    return [binary, "-p", str(scratch.resolve()), "-c", str(path.resolve()), "-e", error_log]


def _python(root: Path, port: int, log: Path) -> list[str]:
    return [sys.executable, str(PYSERVER), str(root.resolve()), str(port), str(log.resolve())]


def _wait_ready(proc: subprocess.Popen[bytes], port: int, output: Path) -> None:
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            text = output.read_text(errors="replace")
            raise RuntimeError(f"the feed server exited ({proc.returncode}):\n{text}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"the feed server did not listen on port {port} within {READY_SECONDS}s")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(OSError):
        os.killpg(proc.pid, 15)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)
        proc.wait()

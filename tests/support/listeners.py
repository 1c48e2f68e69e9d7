"""A bare TCP listener that counts the connections it accepts, and closes them."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable
from types import TracebackType


class CountingListener:
    """Listens on ``host`` (an address on this machine), counting and dropping connections."""

    def __init__(self, host: str = "127.0.0.2") -> None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._sock = socket.socket(family, socket.SOCK_STREAM)
        self._sock.bind((host, 0))
        self._sock.listen(16)
        self._sock.settimeout(0.05)
        self.host = host
        self.port: int = self._sock.getsockname()[1]
        self._count = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def __enter__(self) -> CountingListener:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join(2.0)
        self._sock.close()

    @property
    def accepted(self) -> int:
        """Connections accepted so far."""
        with self._lock:
            return self._count

    def url(self, path: str = "/") -> str:
        """An http URL of this listener."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}{path}"

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except (TimeoutError, OSError):
                continue
            with self._lock:
                self._count += 1
            with contextlib.suppress(OSError):
                conn.close()


class RawServer:
    """A TCP server on 127.0.0.1 that runs ``script(connection)`` for every client.

    For answers no HTTP server library would send: garbage, endless headers,
    a reset in the middle of a body.
    """

    def __init__(self, script: Callable[[socket.socket], None]) -> None:
        self._script = script
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.05)
        self.port: int = self._sock.getsockname()[1]
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def __enter__(self) -> RawServer:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join(2.0)
        self._sock.close()
        for thread in self._threads:
            thread.join(2.0)

    @property
    def stopping(self) -> threading.Event:
        """Set when the server closes: scripts that loop must stop then."""
        return self._stop

    def url(self, path: str = "/") -> str:
        """An http URL of this server."""
        return f"http://127.0.0.1:{self.port}{path}"

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except (TimeoutError, OSError):
                continue
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, conn: socket.socket) -> None:
        with conn, contextlib.suppress(OSError):
            conn.settimeout(30)
            self._script(conn)

"""The HTTP/1.1 connection handling of ``feedsvc serve``, hardened against hostile clients.

uvicorn's h11 protocol waits for a request head as long as a client cares to
send it, one byte at a time (slow-loris), and takes a head of any size that
arrives in one read. ``GuardedH11Protocol`` is that protocol with two limits:
a client must finish each request head within ``HEAD_TIMEOUT`` seconds of
connecting (or, on a kept-alive connection, of starting the next request),
else the connection is closed; and a head larger than ``MAX_HEAD_BYTES`` is
answered ``431`` and the connection closed. Idle kept-alive connections are
closed by uvicorn's own keep-alive timeout. Nothing here reads files or
knows about feeds (``serve`` does).
"""

from __future__ import annotations

import asyncio
import logging

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger("feedsvc.serve")

HEAD_TIMEOUT = 10.0
MAX_HEAD_BYTES = 16 * 1024
_TOO_LARGE = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
    b"content-type: text/plain; charset=utf-8\r\ncontent-length: 24\r\nconnection: close\r\n\r\n"
    b"request head too large\r\n"
)


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline and a size limit on every request head."""

    _head_timer: asyncio.TimerHandle | None = None
    _head_bytes = 0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """Start the clock for the first request head as soon as the client connects."""
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        """Count the bytes of a request head; refuse one that is too large."""
        if self.conn.their_state is h11.IDLE:
            self._arm()
            self._head_bytes += len(data)
            if self._head_bytes > MAX_HEAD_BYTES:
                log.info("request head too large client=%s bytes>%d", self.client, MAX_HEAD_BYTES)
                self.transport.write(_TOO_LARGE)
                self.transport.close()
                self._disarm()
                return
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:
            self._disarm()

    def connection_lost(self, exc: Exception | None) -> None:
        """Forget the head deadline of a closed connection."""
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        if self._head_timer is None:
            self._head_timer = self.loop.call_later(HEAD_TIMEOUT, self._too_slow)

    def _disarm(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        self._head_bytes = 0

    def _too_slow(self) -> None:
        self._head_timer = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            log.info("request head too slow client=%s; closed", self.client)
            self.transport.close()

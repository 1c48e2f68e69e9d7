"""Servers that misbehave: each fetch ends within its timeout with a clear error.

Already covered in test_fetch.py: headers that never come, a body trickled
every 50 ms, a connection dropped before answering, a body shorter than its
Content-Length, an oversized or endless body, a redirect chain too long,
connection refused. Here: the rest, with the outcome named in each test.
"""

from __future__ import annotations

import asyncio
import gzip
import socket
import struct
import time

import pytest

from feedsvc.config_types import FetchConfig
from feedsvc.extract import extract
from feedsvc.fetch import Fetcher
from feedsvc.types import Fetched, FetchFailed, FetchOutcome, FetchRequest
from tests.support.httpserver import LoopbackServer, trickle
from tests.support.listeners import RawServer

RSS = (
    b'<?xml version="1.0"?><rss version="2.0"><channel><title>Courier</title><item>'
    b"<title>Ferries resume at Port Wendel</title><link>https://c.example/1</link></item>"
    b"</channel></rss>"
)


def fetch(url: str, **config: float) -> tuple[FetchOutcome, float]:
    settings = FetchConfig(allow_private_addresses=True, **config)  # type: ignore[arg-type]

    async def go() -> FetchOutcome:
        async with Fetcher(settings, "feedsvc-tests") as fetcher:
            return await asyncio.wait_for(fetcher.fetch(FetchRequest("s", url=url)), 30.0)

    started = time.monotonic()
    outcome = asyncio.run(go())
    return outcome, time.monotonic() - started


def failed(outcome: FetchOutcome) -> str:
    assert isinstance(outcome, FetchFailed), outcome
    return outcome.error


# --------------------------------------------------------------------------- slow and stuck


def test_one_byte_a_second_ends_at_the_total_timeout(loopback_server: LoopbackServer) -> None:
    loopback_server.route("/drip", chunks=lambda: trickle(1.0, b"<"))
    outcome, elapsed = fetch(loopback_server.url("/drip"), total_timeout=3.0)
    assert failed(outcome) == "timed out after 3.0s"
    assert 2.9 < elapsed < 6.0


def test_headers_sent_one_byte_a_second_end_at_the_total_timeout() -> None:
    def drip_headers(conn: socket.socket) -> None:
        conn.recv(65536)
        for byte in b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\n":
            conn.sendall(bytes([byte]))
            time.sleep(1.0)

    with RawServer(drip_headers) as server:
        outcome, elapsed = fetch(server.url(), total_timeout=3.0)
    assert failed(outcome) == "timed out after 3.0s"
    assert elapsed < 6.0


def test_a_server_that_accepts_and_never_answers(loopback_server: LoopbackServer) -> None:
    loopback_server.route("/hang", delay=60.0)
    outcome, elapsed = fetch(loopback_server.url("/hang"), total_timeout=2.0)
    assert failed(outcome) == "timed out after 2.0s"
    assert elapsed < 5.0


# --------------------------------------------------------------------------- broken answers


def reset_after(data: bytes):  # type: ignore[no-untyped-def]
    def script(conn: socket.socket) -> None:
        conn.recv(65536)
        conn.sendall(data)
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        conn.close()  # with linger 0: a TCP reset

    return script


@pytest.mark.parametrize(
    ("sent", "expected"),
    [
        (b"", "network error: the connection was lost (ReadError)"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n<rss>", "network error: "),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n<rss>", "network error: "),
        (b"HTTP/1.1 200 OK\r\nContent-Ty", "network error: "),
    ],
)
def test_a_connection_reset_is_a_clear_error(sent: bytes, expected: str) -> None:
    with RawServer(reset_after(sent)) as server:
        outcome, elapsed = fetch(server.url())
    error = failed(outcome)
    assert error.startswith((expected, "protocol error: ")), error
    assert elapsed < 5.0


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (b"SSH-2.0-OpenSSH_9.6\r\n", "protocol error: "),
        (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(64), "protocol error: "),
        (b"HTTP/1.1 999999 Whatever\r\n\r\n", "protocol error: "),
        (b"HTTP/1.1 200 OK\r\nContent-Length: ten\r\n\r\n<rss/>", "protocol error: "),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 9\r\n\r\n<rss/>", "protocol"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "protocol error: "),
    ],
)
def test_garbage_instead_of_http_is_a_protocol_error(answer: bytes, expected: str) -> None:
    def script(conn: socket.socket) -> None:
        conn.recv(65536)
        conn.sendall(answer)
        time.sleep(0.5)

    with RawServer(script) as server:
        outcome, elapsed = fetch(server.url())
    assert failed(outcome).startswith(expected)
    assert elapsed < 5.0


def test_endless_headers_are_cut_off() -> None:
    def script(conn: socket.socket) -> None:
        conn.recv(65536)
        conn.sendall(b"HTTP/1.1 200 OK\r\n")
        for n in range(200_000):
            conn.sendall(f"X-Filler-{n}: {'a' * 100}\r\n".encode())

    with RawServer(script) as server:
        outcome, elapsed = fetch(server.url())
    assert failed(outcome).startswith("protocol error: ")
    assert elapsed < 10.0


# --------------------------------------------------------------------------- lies


def test_a_body_longer_than_its_content_length_is_read_as_declared() -> None:
    """Outcome: what the header declared; the extra bytes are not part of the answer."""

    def script(conn: socket.socket) -> None:
        conn.recv(65536)
        conn.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(RSS) + RSS + bytes(10**6)
        )
        time.sleep(0.5)

    with RawServer(script) as server:
        outcome, _ = fetch(server.url())
    assert isinstance(outcome, Fetched)
    assert outcome.documents[0].body == RSS


def test_a_content_length_of_zero_with_a_body_is_an_empty_document(
    loopback_server: LoopbackServer,
) -> None:
    loopback_server.route("/zero", body=RSS, headers={"Content-Length": "0"})
    outcome, _ = fetch(loopback_server.url("/zero"))
    assert isinstance(outcome, Fetched) and outcome.documents[0].body == b""


@pytest.mark.parametrize(
    "content_type",
    ["application/json", "image/png", "text/html; charset=utf-8", "text/plain", "x/y; charset=?"],
)
def test_a_feed_with_a_lying_content_type_is_still_read(
    loopback_server: LoopbackServer, content_type: str
) -> None:
    loopback_server.route("/feed", body=RSS, headers={"Content-Type": content_type})
    outcome, _ = fetch(loopback_server.url("/feed"))
    assert isinstance(outcome, Fetched)
    extracted = extract(outcome.documents[0], "feed")
    assert [e.title for e in extracted.entries] == ["Ferries resume at Port Wendel"]


def test_a_lying_charset_does_not_break_the_feed(loopback_server: LoopbackServer) -> None:
    body = RSS.replace(b"Ferries", "Fähren".encode())
    loopback_server.route("/feed", body=body, headers={"Content-Type": "text/xml; charset=utf-32"})
    outcome, _ = fetch(loopback_server.url("/feed"))
    assert isinstance(outcome, Fetched)
    [entry] = extract(outcome.documents[0], "feed").entries
    assert entry.title is not None and "resume at Port Wendel" in entry.title


def test_a_compressed_body_labelled_as_plain_is_not_a_crash(
    loopback_server: LoopbackServer,
) -> None:
    loopback_server.route("/feed", body=gzip.compress(RSS), headers={"Content-Type": "text/xml"})
    outcome, _ = fetch(loopback_server.url("/feed"))
    assert isinstance(outcome, Fetched)
    with pytest.raises(Exception, match="not a usable feed"):
        extract(outcome.documents[0], "feed")


# --------------------------------------------------------------------------- redirect loops


def test_a_redirect_loop_ends_with_too_many_redirects(loopback_server: LoopbackServer) -> None:
    loopback_server.redirect("/a", "/b")
    loopback_server.redirect("/b", "/a")
    outcome, elapsed = fetch(loopback_server.url("/a"))
    assert failed(outcome) == "too many redirects (more than 5)"
    assert len(loopback_server.requests) == 6
    assert elapsed < 5.0


def test_a_self_redirect_ends_with_too_many_redirects(loopback_server: LoopbackServer) -> None:
    loopback_server.redirect("/self", "/self", status=301)
    outcome, _ = fetch(loopback_server.url("/self"))
    assert failed(outcome) == "too many redirects (more than 5)"


def test_a_redirect_without_a_location_is_the_answer_itself(
    loopback_server: LoopbackServer,
) -> None:
    loopback_server.route("/nowhere", status=302, body=b"moved somewhere")
    outcome, _ = fetch(loopback_server.url("/nowhere"))
    assert failed(outcome) == "HTTP 302 Found"


def test_a_malformed_location_is_a_clear_error(loopback_server: LoopbackServer) -> None:
    loopback_server.redirect("/bad", "http://[::1/broken")
    outcome, _ = fetch(loopback_server.url("/bad"))
    assert failed(outcome) == (
        "protocol error: Invalid URL in location header: Invalid port: ':1'."
    )


# --------------------------------------------------------------------------- broken validators


def test_a_304_to_a_request_with_nothing_to_compare_is_a_failure(
    loopback_server: LoopbackServer,
) -> None:
    """A server (or cache) that answers 304 to a first, unconditional request has said nothing:
    counted as "not modified", the source stayed healthy and empty for ever."""
    loopback_server.route("/feed", status=304, body=b"", headers={"ETag": '"x"'})
    outcome, _ = fetch(loopback_server.url("/feed"))
    assert "304" in failed(outcome) and "If-None-Match" in failed(outcome)

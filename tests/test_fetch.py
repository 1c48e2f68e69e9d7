"""Tests of feedsvc.fetch over a real loopback HTTP server and real files."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import os
import socket
import time
import tracemalloc
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TypeVar

import httpx
import pytest

from feedsvc import __version__
from feedsvc.addresses import AddressPolicy
from feedsvc.config_types import FetchConfig
from feedsvc.fetch import (
    ACCEPT,
    STARTED_PER_SLOT,
    Fetcher,
    fetch_all_sync,
    user_agent,
)
from feedsvc.politeness import host_interval
from feedsvc.types import Fetched, FetchFailed, FetchOutcome, FetchRequest, NotModified
from feedsvc.websub import notify_hub
from tests.support.httpserver import LoopbackServer, RequestInfo, Response, trickle, zeros

T = TypeVar("T")

# Until tests/conftest.py imports it for the whole suite, bind the fixture here.

UA = user_agent("https://example.invalid/feedsvc-tests")
CONFIG = FetchConfig(
    allow_private_addresses=True, connect_timeout=2.0, total_timeout=5.0, max_body_bytes=1024 * 1024
)
RSS = (
    b'<?xml version="1.0"?><rss version="2.0"><channel><title>Lakeside Courier</title>'
    b"<item><title>Ferry timetable changes at Port Wendel</title></item></channel></rss>"
)
LAST_MODIFIED = "Tue, 03 Mar 2026 08:00:00 GMT"


def run(coro: Awaitable[T]) -> T:
    async def wrapper() -> T:
        return await coro

    return asyncio.run(wrapper())


async def fetch_one(
    request: FetchRequest,
    config: FetchConfig = CONFIG,
    transport: httpx.AsyncBaseTransport | None = None,
) -> FetchOutcome:
    async with Fetcher(config, UA, transport=transport) as fetcher:
        # A guard far past any deadline used here: a broken deadline fails, never hangs.
        return await asyncio.wait_for(fetcher.fetch(request), timeout=15.0)


def get(
    url: str,
    config: FetchConfig = CONFIG,
    *,
    etag: str | None = None,
    last_modified: str | None = None,
) -> FetchOutcome:
    request = FetchRequest(source="courier", url=url, etag=etag, last_modified=last_modified)
    return run(fetch_one(request, config))


def expect_failed(outcome: FetchOutcome) -> FetchFailed:
    assert isinstance(outcome, FetchFailed), outcome
    return outcome


def expect_fetched(outcome: FetchOutcome) -> Fetched:
    assert isinstance(outcome, Fetched), outcome
    return outcome


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def wait_until(condition: Callable[[], bool], timeout: float = 3.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


# --------------------------------------------------------------------------- HTTP: success


def test_user_agent_names_version_and_contact() -> None:
    assert user_agent("mailto:ops@example.invalid") == (
        f"feedsvc/{__version__} (+mailto:ops@example.invalid)"
    )


def test_ok_records_body_validators_and_lowercased_headers(
    loopback_server: LoopbackServer,
) -> None:
    loopback_server.route(
        "/feed.xml",
        body=RSS,
        headers={
            "Content-Type": "application/rss+xml; charset=utf-8",
            "ETag": '"courier-1"',
            "Last-Modified": LAST_MODIFIED,
            "X-Served-By": "loopback",
        },
    )
    url = loopback_server.url("/feed.xml")
    fetched = expect_fetched(get(url))
    assert (fetched.source, fetched.url, fetched.final_url, fetched.status) == (
        "courier",
        url,
        url,
        200,
    )
    assert (fetched.etag, fetched.last_modified) == ('"courier-1"', LAST_MODIFIED)
    assert fetched.headers["x-served-by"] == "loopback"
    assert all(key == key.lower() for key in fetched.headers)
    [document] = fetched.documents
    assert document.body == RSS
    assert document.url == url
    assert document.content_type == "application/rss+xml"
    assert document.headers["content-type"] == "application/rss+xml; charset=utf-8"


def test_request_headers_as_sent(loopback_server: LoopbackServer) -> None:
    loopback_server.route("/feed.xml", body=RSS)
    expect_fetched(get(loopback_server.url("/feed.xml")))
    [seen] = loopback_server.requests
    assert seen.headers["user-agent"] == UA
    assert UA.startswith(f"feedsvc/{__version__} (+https://example.invalid/")
    assert seen.headers["accept"] == ACCEPT
    assert seen.headers["accept"].startswith("application/rss+xml, application/atom+xml")
    assert seen.headers["accept-encoding"] == "gzip, deflate"
    assert "if-none-match" not in seen.headers
    assert "if-modified-since" not in seen.headers


def test_missing_content_type_gives_none(loopback_server: LoopbackServer) -> None:
    loopback_server.route("/bare", body=b"plain bytes")
    fetched = expect_fetched(get(loopback_server.url("/bare")))
    assert fetched.documents[0].content_type is None
    assert (fetched.etag, fetched.last_modified) == (None, None)


# --------------------------------------------------------------------------- conditional GET


def test_conditional_get_sends_validators_and_304_is_not_modified(
    loopback_server: LoopbackServer,
) -> None:
    headers = {"ETag": '"courier-7"', "Last-Modified": LAST_MODIFIED}
    loopback_server.route("/feed.xml", body=RSS, headers=headers)
    url = loopback_server.url("/feed.xml")
    outcome = get(url, etag='"courier-7"', last_modified=LAST_MODIFIED)
    assert isinstance(outcome, NotModified), outcome
    assert (outcome.source, outcome.url) == ("courier", url)
    assert outcome.headers["etag"] == '"courier-7"'
    [seen] = loopback_server.requests
    assert seen.headers["if-none-match"] == '"courier-7"'
    assert seen.headers["if-modified-since"] == LAST_MODIFIED


def test_if_modified_since_alone_gives_not_modified(loopback_server: LoopbackServer) -> None:
    loopback_server.route("/feed.xml", body=RSS, headers={"Last-Modified": LAST_MODIFIED})
    outcome = get(loopback_server.url("/feed.xml"), last_modified=LAST_MODIFIED)
    assert isinstance(outcome, NotModified), outcome


def test_stale_etag_gets_the_new_body(loopback_server: LoopbackServer) -> None:
    loopback_server.route("/feed.xml", body=RSS, headers={"ETag": '"courier-8"'})
    fetched = expect_fetched(get(loopback_server.url("/feed.xml"), etag='"courier-7"'))
    assert fetched.documents[0].body == RSS
    assert fetched.etag == '"courier-8"'


def test_a_validator_a_header_cannot_carry_is_not_sent(loopback_server: LoopbackServer) -> None:
    """A server sent an ETag in Latin-1: asked again, the request goes without it, not fails."""
    loopback_server.route("/feed.xml", body=RSS, headers={"ETag": '"café"'})
    first = expect_fetched(get(loopback_server.url("/feed.xml")))
    assert first.etag == '"café"'
    again = expect_fetched(get(loopback_server.url("/feed.xml"), etag=first.etag))
    assert again.documents[0].body == RSS
    assert "if-none-match" not in loopback_server.requests[-1].headers


# --------------------------------------------------------------------------- redirects


def test_redirects_followed_to_the_final_url(loopback_server: LoopbackServer) -> None:
    loopback_server.redirect("/a", "/b", status=301)
    loopback_server.redirect("/b", "/c", status=302)
    loopback_server.redirect("/c", "/d", status=307)
    loopback_server.redirect("/d", loopback_server.url("/feed.xml"), status=308)
    loopback_server.route("/feed.xml", body=RSS, headers={"X-Final": "yes"})
    start = loopback_server.url("/a")
    fetched = expect_fetched(get(start))
    assert fetched.url == start
    assert fetched.final_url == loopback_server.url("/feed.xml")
    assert fetched.documents[0].url == fetched.final_url
    assert fetched.headers["x-final"] == "yes"
    assert "location" not in fetched.headers
    assert [r.path for r in loopback_server.requests] == ["/a", "/b", "/c", "/d", "/feed.xml"]


def test_too_many_redirects(loopback_server: LoopbackServer) -> None:
    for hop in range(5):
        loopback_server.redirect(f"/hop{hop}", f"/hop{hop + 1}")
    loopback_server.route("/hop5", body=RSS)
    config = FetchConfig(allow_private_addresses=True, max_redirects=3)
    failed = expect_failed(get(loopback_server.url("/hop0"), config))
    assert failed.error == "too many redirects (more than 3)"
    assert expect_fetched(get(loopback_server.url("/hop2"), config)).status == 200


# --------------------------------------------------------------------------- deadlines


def test_slow_headers_time_out_within_the_deadline(loopback_server: LoopbackServer) -> None:
    loopback_server.route("/slow", body=RSS, delay=30.0)
    config = FetchConfig(allow_private_addresses=True, total_timeout=1.0)
    started = time.monotonic()
    failed = expect_failed(get(loopback_server.url("/slow"), config))
    elapsed = time.monotonic() - started
    assert failed.error == "timed out after 1.0s"
    assert failed.status is None
    assert 0.9 < elapsed < 1.8


def test_trickling_body_times_out_and_the_server_lets_go(
    loopback_server: LoopbackServer,
) -> None:
    loopback_server.route("/trickle", chunks=lambda: trickle(0.05))
    config = FetchConfig(allow_private_addresses=True, total_timeout=1.0)
    started = time.monotonic()
    failed = expect_failed(get(loopback_server.url("/trickle"), config))
    elapsed = time.monotonic() - started
    assert failed.error == "timed out after 1.0s"
    assert 0.9 < elapsed < 1.8
    assert loopback_server.body_bytes_sent >= 5  # it really was trickling
    assert wait_until(lambda: loopback_server.open_connections == 0)


# --------------------------------------------------------------------------- body size


def test_oversized_streamed_body_is_cut_off(loopback_server: LoopbackServer) -> None:
    hundred_mb = 100 * 1024 * 1024
    loopback_server.route("/huge", chunks=lambda: zeros(hundred_mb))
    started = time.monotonic()
    failed = expect_failed(get(loopback_server.url("/huge")))
    assert failed.error == "response body exceeds 1048576 bytes; cut off"
    assert failed.status == 200
    assert time.monotonic() - started < 3.0
    assert wait_until(lambda: loopback_server.open_connections == 0)
    assert loopback_server.body_bytes_sent < hundred_mb // 4


def test_declared_oversized_length_is_rejected_before_reading(
    loopback_server: LoopbackServer,
) -> None:
    size = 200 * 1024 * 1024
    loopback_server.route(
        "/huge", headers={"Content-Length": str(size)}, chunks=lambda: zeros(size)
    )
    failed = expect_failed(get(loopback_server.url("/huge")))
    assert failed.error == "response body exceeds 1048576 bytes; cut off"
    assert wait_until(lambda: loopback_server.open_connections == 0)
    assert loopback_server.body_bytes_sent < size // 4


def test_body_exactly_at_the_limit_is_accepted(loopback_server: LoopbackServer) -> None:
    loopback_server.route("/edge", chunks=lambda: zeros(1024 * 1024, chunk=1000))
    fetched = expect_fetched(get(loopback_server.url("/edge")))
    assert len(fetched.documents[0].body) == 1024 * 1024


def test_gzip_body_is_decoded(loopback_server: LoopbackServer) -> None:
    body = RSS * 50
    loopback_server.route("/feed.xml", body=body, gzip=True)
    fetched = expect_fetched(get(loopback_server.url("/feed.xml")))
    assert fetched.documents[0].body == body
    assert fetched.headers["content-encoding"] == "gzip"
    assert loopback_server.body_bytes_sent < len(body)  # it travelled compressed


def test_gzip_bomb_is_cut_off_by_decoded_size(loopback_server: LoopbackServer) -> None:
    decoded = 64 * 1024 * 1024
    loopback_server.route("/bomb", chunks=lambda: zeros(decoded), gzip=True)
    failed = expect_failed(get(loopback_server.url("/bomb")))
    assert failed.error == "response body exceeds 1048576 bytes; cut off"
    assert len(gzip.compress(bytes(1024 * 1024))) < 1024 * 1024 // 100  # compressed it is tiny


# --------------------------------------------------------------------------- failures


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (500, "HTTP 500 Internal Server Error"),
        (404, "HTTP 404 Not Found"),
        (410, "HTTP 410 Gone"),
        (429, "HTTP 429 Too Many Requests"),
    ],
)
def test_http_errors_keep_status_and_headers(
    loopback_server: LoopbackServer, status: int, error: str
) -> None:
    loopback_server.route("/feed.xml", status, b"nope", {"Retry-After": "120"})
    failed = expect_failed(get(loopback_server.url("/feed.xml")))
    assert (failed.error, failed.status) == (error, status)
    assert failed.headers["retry-after"] == "120"
    assert failed.url == loopback_server.url("/feed.xml")


def test_connection_refused() -> None:
    url = f"http://127.0.0.1:{closed_port()}/feed.xml"
    failed = expect_failed(get(url))
    assert failed.error.startswith("could not connect: ")
    assert failed.status is None


def test_dropped_connection(loopback_server: LoopbackServer) -> None:
    loopback_server.route("/drop", drop=True)
    failed = expect_failed(get(loopback_server.url("/drop")))
    assert failed.error.startswith("protocol error: ")
    assert failed.status is None


def test_body_cut_short_by_the_server(loopback_server: LoopbackServer) -> None:
    loopback_server.route("/short", headers={"Content-Length": "5000"}, chunks=lambda: [b"x" * 10])
    failed = expect_failed(get(loopback_server.url("/short")))
    assert failed.error.startswith("protocol error: ")


@pytest.mark.parametrize(
    ("url", "error"),
    [
        ("ftp://example.invalid/feed.xml", "unsupported URL: ftp://example.invalid/feed.xml: "),
        ("not a url", "unsupported URL: not a url: only http and https URLs are fetched"),
        ("http://[::1/feed", "invalid URL: "),
        ("file://elsewhere.example/feed.xml", "unsupported URL: file://elsewhere.example/"),
        ("file:///etc/passwd", "unsupported URL: file:///etc/passwd: only http and https"),
    ],
)
def test_bad_urls_fail_cleanly(url: str, error: str) -> None:
    failed = expect_failed(get(url))
    assert failed.error.startswith(error)
    assert failed.url == url


def test_transport_errors_are_translated() -> None:
    def unreachable(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno -2] Name or service not known", request=request)

    request = FetchRequest(source="courier", url="https://courier.example.invalid/feed")
    outcome = run(fetch_one(request, transport=httpx.MockTransport(unreachable)))
    assert expect_failed(outcome).error == "could not connect: [Errno -2] Name or service not known"


def test_bugs_propagate() -> None:
    def broken(request: httpx.Request) -> httpx.Response:
        raise TypeError("a bug, not a network problem")

    request = FetchRequest(source="courier", url="https://courier.example.invalid/feed")
    with pytest.raises(TypeError, match="a bug"):
        run(fetch_one(request, transport=httpx.MockTransport(broken)))


def test_fetcher_outside_its_context_refuses() -> None:
    fetcher = Fetcher(CONFIG, UA)
    request = FetchRequest(source="courier", url="https://courier.example.invalid/feed")
    with pytest.raises(RuntimeError, match="async context manager"):
        run(fetcher.fetch(request))


# --------------------------------------------------------------------------- concurrency


def fetch_all_async(requests: Sequence[FetchRequest], config: FetchConfig) -> list[FetchOutcome]:
    async def collect() -> list[FetchOutcome]:
        async with Fetcher(config, UA) as fetcher:
            return [outcome async for outcome in fetcher.fetch_each(requests)]

    return run(collect())


def test_per_host_limit_is_observed(loopback_server: LoopbackServer) -> None:
    loopback_server.route("/feed.xml", body=RSS, delay=0.2)
    other_host = f"http://localhost:{loopback_server.port}/feed.xml"
    urls = [loopback_server.url("/feed.xml")] * 4 + [other_host] * 4
    requests = [FetchRequest(source=f"s{i}", url=u) for i, u in enumerate(urls)]
    outcomes = fetch_all_async(
        requests,
        FetchConfig(allow_private_addresses=True, concurrency=8, per_host=2, host_interval=0.0),
    )
    assert all(isinstance(o, Fetched) for o in outcomes)
    assert loopback_server.max_concurrent(f"127.0.0.1:{loopback_server.port}") == 2
    assert loopback_server.max_concurrent(f"localhost:{loopback_server.port}") == 2
    assert loopback_server.max_concurrent() == 4


def test_overall_limit_is_observed(loopback_server: LoopbackServer) -> None:
    loopback_server.route("/feed.xml", body=RSS, delay=0.2)
    other_host = f"http://localhost:{loopback_server.port}/feed.xml"
    urls = [loopback_server.url("/feed.xml"), other_host] * 2
    requests = [FetchRequest(source=f"s{i}", url=u) for i, u in enumerate(urls)]
    fetch_all_async(requests, FetchConfig(allow_private_addresses=True, concurrency=1, per_host=2))
    assert loopback_server.max_concurrent() == 1


def test_fetch_each_yields_fast_sources_before_slow_ones(
    loopback_server: LoopbackServer,
) -> None:
    loopback_server.route("/slow", body=b"slow", delay=1.0)
    loopback_server.route("/fast", body=b"fast")
    loopback_server.route("/broken", status=500)
    requests = [
        FetchRequest(source="slow", url=loopback_server.url("/slow")),
        FetchRequest(source="broken", url=loopback_server.url("/broken")),
        FetchRequest(source="fast", url=loopback_server.url("/fast")),
    ]
    arrivals: list[tuple[str, float]] = []

    async def collect() -> None:
        started = time.monotonic()
        async with Fetcher(FetchConfig(allow_private_addresses=True, per_host=3), UA) as fetcher:
            async for outcome in fetcher.fetch_each(requests):
                arrivals.append((outcome.source, time.monotonic() - started))

    run(collect())
    assert arrivals[-1][0] == "slow"
    assert {name for name, _ in arrivals[:2]} == {"fast", "broken"}
    assert all(at < 0.5 for _, at in arrivals[:2])


@pytest.mark.parametrize(("per_host", "concurrency", "most"), [(2, 8, 6), (8, 1, 16)])
def test_fetch_each_starts_a_few_fetches_per_host_and_a_bounded_number_in_all(
    per_host: int, concurrency: int, most: int
) -> None:
    """120 sources on three hosts: the others wait as requests, not as tasks (36 MB at 10,000).

    At most ``per_host`` fetches of a host (2 x 3 hosts) and ``STARTED_PER_SLOT``
    times the connections in all (16 of 8 x 3) exist at once, and every source
    is still fetched.
    """
    config = FetchConfig(allow_private_addresses=True, concurrency=concurrency, per_host=per_host)
    tasks = []

    async def collect(requests: list[FetchRequest]) -> list[FetchOutcome]:
        outcomes = []
        async with Fetcher(config, UA) as fetcher:
            async for outcome in fetcher.fetch_each(requests):
                tasks.append(len(asyncio.all_tasks()) - 1)  # not this one
                outcomes.append(outcome)
        return outcomes

    with LoopbackServer() as a, LoopbackServer() as b, LoopbackServer() as c:
        for server in (a, b, c):
            server.route("/feed.xml", body=RSS, delay=0.01)
        requests = [
            FetchRequest(source=f"{name}{n}", url=server.url(f"/feed.xml?{n}"))
            for n in range(40)
            for name, server in (("a", a), ("b", b), ("c", c))
        ]
        outcomes = run(collect(requests))
    assert sorted(o.source for o in outcomes) == sorted(r.source for r in requests)
    assert all(isinstance(o, Fetched) for o in outcomes)
    assert max(tasks) == most
    assert most == min(per_host * 3, STARTED_PER_SLOT * concurrency)


def test_hosts_waiting_for_their_interval_leave_the_others_to_go() -> None:
    """Nine paced hosts of three sources each come first; nine hosts of one source follow.

    A paced host's next fetch waits as a request until its interval has passed,
    not as a started fetch asleep on one of the run's 16 places (nine hosts
    would hold all 16 for a second): the one-source hosts are done at once.
    """
    config = FetchConfig(allow_private_addresses=True, concurrency=1, per_host=2, host_interval=1.0)
    arrivals: dict[str, float] = {}

    async def collect(requests: list[FetchRequest]) -> None:
        started = time.monotonic()
        async with Fetcher(config, UA) as fetcher:
            async for outcome in fetcher.fetch_each(requests):
                assert isinstance(outcome, Fetched), outcome
                arrivals[outcome.source] = time.monotonic() - started

    with contextlib.ExitStack() as stack:
        servers = [stack.enter_context(LoopbackServer()) for _ in range(9)]
        for server in servers:
            server.route("/feed.xml", body=RSS)
        paced = [
            FetchRequest(source=f"paced{i}-{n}", url=server.url(f"/feed.xml?{n}"))
            for i, server in enumerate(servers)
            for n in range(3)
        ]
        single = [  # another host name for the same server: another host
            FetchRequest(source=f"single{i}", url=f"http://localhost:{server.port}/feed.xml")
            for i, server in enumerate(servers)
        ]
        run(collect([*paced, *single]))
    assert len(arrivals) == len(paced) + len(single)
    assert max(arrivals[r.source] for r in single) < 0.7, arrivals
    assert max(arrivals[r.source] for r in paced) >= 1.9  # three a second apart, per host


def test_a_host_name_idna_refuses_fails_its_source_only(loopback_server: LoopbackServer) -> None:
    """In a source's URL or in a redirect: a failed fetch, not a run brought down."""
    loopback_server.route("/moved", status=302, headers={"Location": "http://xn--a.test/feed"})
    loopback_server.route("/feed.xml", body=RSS)
    requests = [
        FetchRequest(source="bad", url="http://xn--a.test/feed"),
        FetchRequest(source="moved", url=loopback_server.url("/moved")),
        FetchRequest(source="good", url=loopback_server.url("/feed.xml")),
    ]
    outcomes = {
        o.source: o for o in fetch_all_async(requests, FetchConfig(allow_private_addresses=True))
    }
    for name in ("bad", "moved"):
        failed = outcomes[name]
        assert isinstance(failed, FetchFailed) and "invalid URL: host name" in failed.error
    assert isinstance(outcomes["good"], Fetched)


def test_fetch_all_sync_keeps_request_order(loopback_server: LoopbackServer) -> None:
    loopback_server.route("/slow", body=b"slow", delay=0.3)
    loopback_server.handler("/echo", lambda info: Response(body=info.path.encode()))
    requests = [
        FetchRequest(source="slow", url=loopback_server.url("/slow")),
        FetchRequest(source="echo", url=loopback_server.url("/echo?n=1")),
        FetchRequest(source="gone", url=f"http://127.0.0.1:{closed_port()}/"),
    ]
    outcomes = fetch_all_sync(requests, CONFIG, UA)
    assert [o.source for o in outcomes] == ["slow", "echo", "gone"]
    assert expect_fetched(outcomes[1]).documents[0].body == b"/echo?n=1"
    assert isinstance(outcomes[2], FetchFailed)


def test_server_records_dynamic_requests(loopback_server: LoopbackServer) -> None:
    def answer(info: RequestInfo) -> Response:
        return Response(status=201 if info.headers.get("x-never") else 200, body=b"ok")

    loopback_server.handler("/dyn", answer)
    fetched = expect_fetched(get(loopback_server.url("/dyn")))
    assert fetched.status == 200
    assert [(r.method, r.path) for r in loopback_server.requests] == [("GET", "/dyn")]


# --------------------------------------------------------------------------- local files


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def read_local(path: Path, etag: str | None = None, config: FetchConfig = CONFIG) -> FetchOutcome:
    return run(fetch_one(FetchRequest(source="desk", path=path, etag=etag), config))


def test_single_file(tmp_path: Path) -> None:
    feed = write(tmp_path / "courier.rss", RSS.decode())
    fetched = expect_fetched(read_local(feed))
    [document] = fetched.documents
    assert document.url == feed.resolve().as_uri()
    assert document.body == RSS
    assert document.content_type == "application/rss+xml"
    assert fetched.final_url == feed.resolve().as_uri()
    assert fetched.url == str(feed)
    assert fetched.etag
    assert isinstance(read_local(feed, etag=fetched.etag), NotModified)


def test_file_url_as_a_source_url_is_refused(tmp_path: Path) -> None:
    page = write(tmp_path / "dir with space" / "story.html", "<p>Harbour reopens</p>")
    request = FetchRequest(source="desk", url=page.as_uri())
    failed = expect_failed(run(fetch_one(request)))
    assert failed.error.startswith(f"unsupported URL: {page.as_uri()}: only http and https")
    assert "'path'" in failed.error
    fetched = expect_fetched(run(fetch_one(FetchRequest(source="desk", path=page))))
    assert fetched.documents[0].body == b"<p>Harbour reopens</p>"


def test_folder_with_mixed_files(tmp_path: Path) -> None:
    write(tmp_path / "b-wire.txt", "PORT WENDEL, March 3 - Ferries resume.")
    write(tmp_path / "a" / "story.htm", "<p>a</p>")
    write(tmp_path / "a" / "z.json", "{}")
    write(tmp_path / "c.atom", "<feed/>")
    write(tmp_path / "d.xml", "<rss/>")
    write(tmp_path / "e.HTML", "<p>e</p>")
    write(tmp_path / "notes.md", "skipped")
    write(tmp_path / "photo.png", "skipped")
    write(tmp_path / ".draft.txt", "hidden")
    write(tmp_path / ".git" / "config.xml", "hidden")
    fetched = expect_fetched(read_local(tmp_path))
    names = [Path(d.url).name for d in fetched.documents]
    assert names == ["story.htm", "z.json", "b-wire.txt", "c.atom", "d.xml", "e.HTML"]
    types = [d.content_type for d in fetched.documents]
    assert types == [
        "text/html",
        "application/json",
        "text/plain",
        "application/atom+xml",
        "application/xml",
        "text/html",
    ]
    assert fetched.documents[2].body == b"PORT WENDEL, March 3 - Ferries resume."
    assert fetched.documents[0].url == (tmp_path / "a" / "story.htm").resolve().as_uri()


def test_unchanged_folder_is_not_modified_and_changes_are_seen(tmp_path: Path) -> None:
    wire = write(tmp_path / "wire.txt", "first")
    etag = expect_fetched(read_local(tmp_path)).etag
    assert isinstance(read_local(tmp_path, etag=etag), NotModified)
    write(tmp_path / "new.txt", "second")
    added = expect_fetched(read_local(tmp_path, etag=etag))
    assert added.etag != etag
    assert len(added.documents) == 2
    stat = wire.stat()
    os.utime(wire, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert expect_fetched(read_local(tmp_path, etag=added.etag)).etag != added.etag
    write(tmp_path / "ignored.md", "not a document")
    assert isinstance(read_local(tmp_path, etag=read_local_etag(tmp_path)), NotModified)


def read_local_etag(path: Path) -> str | None:
    return expect_fetched(read_local(path)).etag


def test_missing_path(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "feed.xml"
    failed = expect_failed(read_local(missing))
    assert failed.error.startswith("no such file or folder: ")
    assert "nowhere" in failed.error
    assert failed.url == str(missing)


def test_oversized_file_is_named(tmp_path: Path) -> None:
    write(tmp_path / "small.txt", "fine")
    (tmp_path / "big.xml").write_bytes(b"x" * 2048)
    failed = expect_failed(
        read_local(tmp_path, config=FetchConfig(allow_private_addresses=True, max_body_bytes=1024))
    )
    assert "big.xml" in failed.error
    assert "exceeds 1024 bytes" in failed.error


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files regardless of permissions")
def test_unreadable_file(tmp_path: Path) -> None:
    locked = write(tmp_path / "locked.txt", "secret")
    locked.chmod(0)
    try:
        failed = expect_failed(read_local(tmp_path))
    finally:
        locked.chmod(0o600)
    assert failed.error.startswith("cannot read ")
    assert "locked.txt" in failed.error


# --------------------------------------------------------------------------- redirects, pacing, hub


def test_every_redirect_hop_is_recorded(loopback_server: LoopbackServer) -> None:
    server = loopback_server
    server.route("/feed.xml", body=RSS, headers={"ETag": '"r1"'})
    server.redirect("/a", "/b", status=301)
    server.redirect("/b", server.url("/feed.xml"), status=307)
    fetched = expect_fetched(get(server.url("/a")))
    assert [(h.url, h.status, h.location) for h in fetched.redirects] == [
        (server.url("/a"), 301, server.url("/b")),
        (server.url("/b"), 307, server.url("/feed.xml")),
    ]
    not_modified = get(server.url("/a"), etag='"r1"')
    assert isinstance(not_modified, NotModified) and len(not_modified.redirects) == 2
    server.route("/feed.xml", status=410)
    failed = expect_failed(get(server.url("/a")))
    assert failed.status == 410 and [h.status for h in failed.redirects] == [301, 307]


def test_host_interval_defaults_spare_loopback_only() -> None:
    default = FetchConfig()
    assert host_interval(default, "127.0.0.1:8080") == 0.0
    assert host_interval(default, "::1:8080") == 0.0
    assert host_interval(default, "localhost:None") == 0.0
    assert host_interval(default, "feeds.example.org:443") == 1.0
    assert (
        host_interval(FetchConfig(allow_private_addresses=True, host_interval=0.5), "127.0.0.1:80")
        == 0.5
    )


def test_notify_hub_reports_failures_without_raising(loopback_server: LoopbackServer) -> None:
    # the loopback server answers POST with 501: a failed ping, as a value
    local = AddressPolicy(allow_private=True)
    topics = ["http://feeds.test/all.atom"]
    errors = notify_hub(loopback_server.url("/hub"), topics, UA, policy=local)
    assert len(errors) == 1 and "all.atom" in errors[0]
    gone = f"http://127.0.0.1:{closed_port()}/hub"
    unreachable = notify_hub(gone, ["http://f.test/a"], UA, policy=local)
    assert len(unreachable) == 1 and "hub request failed" in unreachable[0]
    assert notify_hub(loopback_server.url("/hub"), [], UA, policy=local) == ()


def test_bodies_are_read_only_while_few_are_in_the_callers_hands(
    loopback_server: LoopbackServer,
) -> None:
    loopback_server.route("/feed.xml", body=RSS)
    loopback_server.route("/same.xml", status=304)
    url = loopback_server.url("/feed.xml")
    requests = [FetchRequest(source=f"s{i}", url=url) for i in range(6)]
    requests += [
        FetchRequest(source=f"n{i}", url=loopback_server.url("/same.xml")) for i in range(3)
    ]
    requests.append(FetchRequest(source="refused", url="ftp://files.example.invalid/feed"))
    config = FetchConfig(allow_private_addresses=True, per_host=10, host_interval=0.0)
    bodiless = {"n0", "n1", "n2", "refused"}
    third_bodies: list[str] = []  # bodies read while two were still held
    stalled: list[set[str]] = []

    async def collect() -> list[FetchOutcome]:
        got: list[FetchOutcome] = []
        holding: set[str] = set()
        async with Fetcher(config, UA, bodies=2) as fetcher:
            outcomes = fetcher.fetch_each(requests).__aiter__()
            upcoming = asyncio.ensure_future(outcomes.__anext__())
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                done, _ = await asyncio.wait({upcoming}, timeout=0.3)
                if not done:
                    arrived = {o.source for o in got}
                    if len(holding) == 2 and bodiless <= arrived:  # held up by the two bodies
                        stalled.append(arrived)
                        for source in holding:
                            fetcher.done_with(source)
                            fetcher.done_with(source)  # twice: gives its slot back once
                        holding.clear()
                    continue
                try:
                    outcome = upcoming.result()
                except StopAsyncIteration:
                    return got
                got.append(outcome)
                if isinstance(outcome, Fetched):
                    if len(holding) >= 2:
                        third_bodies.append(outcome.source)
                    if stalled:  # past the stall: each body given back at once
                        fetcher.done_with(outcome.source)
                    else:
                        holding.add(outcome.source)
                upcoming = asyncio.ensure_future(outcomes.__anext__())
        upcoming.cancel()
        return got

    outcomes = run(collect())
    assert third_bodies == []
    (arrived,) = stalled  # everything without a body came; the third body waited
    assert len(arrived - bodiless) == 2
    assert sorted(o.source for o in outcomes) == sorted(r.source for r in requests)
    assert all(isinstance(o, Fetched) for o in outcomes if o.source.startswith("s"))


def test_fetch_each_keeps_no_outcome_once_the_caller_lets_it_go(
    loopback_server: LoopbackServer,
) -> None:
    big = RSS.replace(b"</channel>", b"<!-- " + b"x" * 200_000 + b" --></channel>")
    loopback_server.route("/big.xml", body=big)
    requests = [
        FetchRequest(source=f"s{i}", url=loopback_server.url("/big.xml")) for i in range(40)
    ]
    config = FetchConfig(allow_private_addresses=True, per_host=8, host_interval=0.0)
    held: list[int] = []

    async def consume() -> None:
        async with Fetcher(config, UA) as fetcher:
            seen = 0
            async for outcome in fetcher.fetch_each(requests):
                assert isinstance(outcome, Fetched)
                seen += 1
                del outcome
                if seen == len(requests):
                    held.append(tracemalloc.get_traced_memory()[0])

    tracemalloc.start()
    try:
        run(consume())
    finally:
        tracemalloc.stop()
    # all 40 bodies (8 MB) were kept until the end before; now a few at most
    assert held[0] < 10 * len(big), held

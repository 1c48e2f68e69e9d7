"""Polite, robust fetching end to end: real loopback servers, real SQLite, a fake clock.

Each test drives ``Service`` cycles with an injected clock instead of sleeping,
so days of redirects and back-off pass in milliseconds.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from feedsvc.addresses import AddressPolicy
from feedsvc.cli import format_sources
from feedsvc.config_types import FetchConfig
from feedsvc.connect import guarded_transport
from feedsvc.fetch import Fetcher
from feedsvc.service import Service
from feedsvc.store import Store
from feedsvc.types import Fetched, FetchOutcome, FetchRequest, SourceState
from tests.support.configs import feed_source, write_config
from tests.support.httpserver import LoopbackServer, RequestInfo, Response

T0 = datetime(2031, 5, 4, 9, 30, tzinfo=UTC)
MIN = timedelta(minutes=1)
HOUR = timedelta(hours=1)


def rss(*titles: str, outlet: str = "Brackwater Tribune") -> bytes:
    items = "".join(
        f"<item><title>{t}</title><guid isPermaLink='false'>bt-{i}</guid>"
        f"<link>http://brackwater.test/news/{i}</link>"
        f"<pubDate>Mon, 0{i + 1} May 2031 08:00:00 +0000</pubDate>"
        f"<description>{t}, the Tribune reports.</description></item>"
        for i, t in enumerate(titles)
    )
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>{outlet}</title>'
        f"<link>http://brackwater.test/</link><description>Local news</description>"
        f"{items}</channel></rss>"
    ).encode()


FEED = rss("Lock gates reopen after repairs", "Ferry fares frozen for winter")
FEED_TYPE = {"Content-Type": "application/rss+xml"}


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def service_for(path: Path, clock: FakeClock) -> Service:
    return Service.from_path(path, clock=clock)


def state_of(service: Service, name: str) -> SourceState:
    states = {s.name: s for s in service.sources()}
    return states[name]


def paths(server: LoopbackServer) -> list[str]:
    return [r.path for r in server.requests]


# --------------------------------------------------------------------------- redirects


def test_stable_permanent_redirect_is_adopted_after_the_configured_time(
    tmp_path: Path, loopback_server: LoopbackServer
) -> None:
    server = loopback_server
    server.route("/new.xml", body=FEED, headers=FEED_TYPE)
    server.redirect("/old.xml", server.url("/new.xml"), status=301)
    config = write_config(
        tmp_path, [feed_source("tribune", server.url("/old.xml"))], redirect_adopt_after="2h"
    )
    clock = FakeClock()
    service = service_for(config, clock)

    assert service.run_once(force=True, workers=1).sources[0].new == 2
    pending = state_of(service, "tribune").redirect
    assert (pending.pending_url, pending.pending_since) == (server.url("/new.xml"), T0)
    assert pending.adopted_url is None
    assert "redirects permanently to" in format_sources(service.sources())

    clock.now = T0 + HOUR
    service.run_once(force=True, workers=1)
    assert state_of(service, "tribune").redirect.adopted_url is None

    clock.now = T0 + 2 * HOUR
    service.run_once(force=True, workers=1)
    adopted = state_of(service, "tribune")
    assert adopted.redirect.adopted_url == server.url("/new.xml")
    assert adopted.redirect.pending_url is None
    assert adopted.location == server.url("/old.xml")  # the configured URL is kept
    assert f"moved: now fetched from {server.url('/new.xml')}" in format_sources([adopted])

    before = len(server.requests)
    clock.now = T0 + 3 * HOUR
    service.run_once(force=True, workers=1)
    assert paths(server)[before:] == ["/new.xml"]  # straight to the new URL


def test_temporary_redirects_are_followed_never_adopted(
    tmp_path: Path, loopback_server: LoopbackServer
) -> None:
    server = loopback_server
    server.route("/today.xml", body=FEED, headers=FEED_TYPE)
    server.redirect("/302.xml", server.url("/today.xml"), status=302)
    server.redirect("/307.xml", server.url("/today.xml"), status=307)
    sources = [feed_source(n, server.url(f"/{n}.xml")) for n in ("302", "307")]
    config = write_config(tmp_path, sources, redirect_adopt_after="1h")
    clock = FakeClock()
    service = service_for(config, clock)
    for step in range(4):
        clock.now = T0 + step * 2 * HOUR
        result = service.run_once(force=True, workers=1)
        assert {r.status for r in result.sources} <= {"ok", "not-modified"}
    for name in ("302", "307"):
        redirect = state_of(service, name).redirect
        assert (redirect.adopted_url, redirect.pending_url) == (None, None)
    assert paths(server).count("/302.xml") == 4 and paths(server).count("/307.xml") == 4


# --------------------------------------------------------------------------- status codes


def test_410_gone_disables_the_source_until_its_url_changes(
    tmp_path: Path, loopback_server: LoopbackServer
) -> None:
    server = loopback_server
    server.route("/closed.xml", status=410, body=b"this outlet has closed")
    server.route("/reborn.xml", body=FEED, headers=FEED_TYPE)
    config = write_config(tmp_path, [feed_source("closed", server.url("/closed.xml"))])
    clock = FakeClock()
    service = service_for(config, clock)

    result = service.run_once(force=True, workers=1)
    assert result.sources[0].status == "error" and "410" in (result.sources[0].error or "")
    gone = state_of(service, "closed")
    assert gone.disabled_at == T0 and "410" in (gone.disabled_reason or "")
    table = format_sources([gone])
    assert "gone (410)" in table and "never" in table

    clock.now = T0 + 30 * 24 * HOUR
    assert service.run_once(workers=1).sources == ()
    assert service.run_once(force=True, workers=1).sources == ()  # not even with --all
    assert len(server.requests) == 1

    write_config(tmp_path, [feed_source("closed", server.url("/reborn.xml"))])
    reborn = service_for(config, clock).run_once(workers=1)
    assert [(r.source, r.status, r.new) for r in reborn.sources] == [("closed", "ok", 2)]
    assert state_of(service, "closed").disabled_at is None


def test_429_retry_after_holds_back_that_source_only(
    tmp_path: Path, loopback_server: LoopbackServer
) -> None:
    server = loopback_server
    server.route("/busy.xml", status=429, headers={"Retry-After": "7200"})
    server.route("/calm.xml", body=FEED, headers=FEED_TYPE)
    sources = [
        feed_source("busy", server.url("/busy.xml"), interval="10m"),
        feed_source("calm", server.url("/calm.xml"), interval="10m"),
    ]
    clock = FakeClock()
    service = service_for(write_config(tmp_path, sources), clock)
    service.run_once(workers=1)

    busy, calm = state_of(service, "busy"), state_of(service, "calm")
    assert busy.http_status == 429 and busy.failures == 1
    assert busy.next_fetch_after is not None and calm.next_fetch_after is not None
    assert T0 + 2 * HOUR <= busy.next_fetch_after <= T0 + 2 * HOUR * 1.1
    assert T0 + 10 * MIN <= calm.next_fetch_after <= T0 + 11 * MIN

    clock.now = T0 + 30 * MIN  # calm is due again on the same host; busy is not
    assert [r.source for r in service.run_once(workers=1).sources] == ["calm"]
    clock.now = T0 + 3 * HOUR
    assert [r.source for r in service.run_once(workers=1).sources] == ["busy", "calm"]


def test_503_retry_after_as_a_date(tmp_path: Path, loopback_server: LoopbackServer) -> None:
    loopback_server.route(
        "/down.xml", status=503, headers={"Retry-After": "Sun, 04 May 2031 15:30:00 GMT"}
    )
    clock = FakeClock()
    config = write_config(tmp_path, [feed_source("down", loopback_server.url("/down.xml"))])
    service = service_for(config, clock)
    service.run_once(workers=1)
    state = state_of(service, "down")
    assert state.next_fetch_after is not None
    assert T0 + 6 * HOUR <= state.next_fetch_after <= T0 + 6 * HOUR * 1.1


@pytest.mark.parametrize("status", [500, 404, 502])
def test_failures_back_off_with_growing_delay(
    tmp_path: Path, loopback_server: LoopbackServer, status: int
) -> None:
    loopback_server.route("/flaky.xml", status=status, body=b"not today")
    config = write_config(
        tmp_path, [feed_source("flaky", loopback_server.url("/flaky.xml"), interval="10m")]
    )
    clock = FakeClock()
    service = service_for(config, clock)
    gaps = []
    for _ in range(9):
        result = service.run_once(workers=1)  # due at each step: failing sources are retried
        assert [r.status for r in result.sources] == ["error"]
        state = state_of(service, "flaky")
        assert state.next_fetch_after is not None and state.http_status == status
        assert service.run_once(workers=1).sources == ()  # not due again before its time
        gaps.append(state.next_fetch_after - clock.now)
        clock.now = state.next_fetch_after
    assert state_of(service, "flaky").failures == 9
    for earlier, later in itertools.pairwise(gaps[:7]):
        assert later >= earlier * 1.8  # doubling, whatever the jitter
    assert gaps[-1] == timedelta(days=1)  # the cap: still tried, once a day
    assert gaps[0] >= 10 * MIN


def test_same_body_without_validators_is_not_reprocessed(
    tmp_path: Path, loopback_server: LoopbackServer
) -> None:
    server = loopback_server
    server.route("/stubborn.xml", body=FEED, headers=FEED_TYPE)  # no ETag, no Last-Modified
    config = write_config(tmp_path, [feed_source("stubborn", server.url("/stubborn.xml"))])
    service = service_for(config, FakeClock())
    assert service.run_once(force=True, workers=1).sources[0].new == 2
    db = service.config.settings.database_url
    with Store.open(db) as store:
        seen = {a.id: a for a in store.recent_articles(10)}

    again = service.run_once(force=True, workers=1).sources[0]
    assert (again.status, again.new, again.updated) == ("not-modified", 0, 0)
    state = state_of(service, "stubborn")
    assert (state.last_status, state.http_status) == ("not-modified", 200)
    assert "if-none-match" not in server.requests[-1].headers
    with Store.open(db) as store:
        assert {a.id: a for a in store.recent_articles(10)} == seen

    server.route("/stubborn.xml", body=rss("Lock gates reopen after repairs"), headers=FEED_TYPE)
    changed = service.run_once(force=True, workers=1).sources[0]
    assert changed.status == "ok"


# --------------------------------------------------------------------------- per-host pacing


def test_requests_to_one_host_are_spaced_by_host_interval(tmp_path: Path) -> None:
    """Through the service: the config's interval holds one host back, not another.

    The server sees a request some time after it went: the first one also waits
    for its connection, so the gaps between arrivals are not the gaps between
    starts (those are pinned by the fetcher-level test below). What arrivals do
    bound: the third request to one host went two intervals after the run began.
    """
    starts: dict[str, list[float]] = {"127.0.0.1": [], "localhost": []}
    lock = threading.Lock()

    def record(info: RequestInfo) -> Response:
        with lock:
            starts[info.headers["host"].rsplit(":", 1)[0]].append(time.monotonic())
        return Response(body=FEED, headers=FEED_TYPE)

    with LoopbackServer() as server:
        server.handler("/f.xml", record)
        local = f"http://localhost:{server.port}/f.xml"
        sources = [feed_source(f"ip{i}", server.url(f"/f.xml?{i}")) for i in range(3)]
        sources.append(feed_source("named", local))
        config = write_config(
            tmp_path, sources, fetch={"host_interval": "1s", "per_host": 4, "concurrency": 8}
        )
        began = time.monotonic()
        result = service_for(config, FakeClock()).run_once(force=True, workers=1)

    assert [r.status for r in result.sources] == ["ok"] * 4
    ip = sorted(starts["127.0.0.1"])
    assert len(ip) == 3
    assert ip[-1] - began >= 1.95, (began, ip)
    assert starts["localhost"][0] - ip[0] < 0.9  # another host is not held back


class _StartRecorder(httpx.AsyncBaseTransport):
    """The real guarded transport, noting when each request is handed to it (when it goes)."""

    def __init__(self) -> None:
        self.starts: dict[str, list[float]] = {}
        self._inner = guarded_transport(AddressPolicy(allow_private=True), httpx.Limits())

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.starts.setdefault(request.url.host, []).append(time.monotonic())
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


def test_request_starts_to_one_host_are_spaced_by_host_interval() -> None:
    recorder = _StartRecorder()
    config = FetchConfig(allow_private_addresses=True, host_interval=1.0, per_host=4)

    async def fetch_all(requests: list[FetchRequest]) -> list[FetchOutcome]:
        async with Fetcher(config, "feedsvc-tests", transport=recorder) as fetcher:
            return [o async for o in fetcher.fetch_each(requests)]

    with LoopbackServer() as server:
        server.route("/f.xml", body=FEED, headers=FEED_TYPE)
        urls = [server.url(f"/f.xml?{i}") for i in range(3)]
        urls.append(f"http://localhost:{server.port}/f.xml")
        requests = [FetchRequest(source=f"s{i}", url=u) for i, u in enumerate(urls)]
        outcomes = asyncio.run(fetch_all(requests))

    assert all(isinstance(o, Fetched) for o in outcomes), outcomes
    ip = recorder.starts["127.0.0.1"]
    assert len(ip) == 3
    assert all(b - a >= 0.95 for a, b in itertools.pairwise(ip)), ip
    assert recorder.starts["localhost"][0] - ip[0] < 0.5  # another host is not held back


def test_a_host_is_paced_from_when_its_requests_go_not_from_when_they_waited() -> None:
    """One connection; another host's slow request holds it while two of this host's wait.

    Marked before waiting for the connection, both would go the moment it is
    free, together; marked once it is held, they go an interval apart.
    """
    recorder = _StartRecorder()
    config = FetchConfig(allow_private_addresses=True, host_interval=0.3, per_host=2, concurrency=1)

    async def fetch_all(requests: list[FetchRequest]) -> list[FetchOutcome]:
        async with Fetcher(config, "feedsvc-tests", transport=recorder) as fetcher:
            return [o async for o in fetcher.fetch_each(requests)]

    with LoopbackServer() as server:
        server.route("/slow.xml", body=FEED, headers=FEED_TYPE, delay=0.8)
        server.route("/f.xml", body=FEED, headers=FEED_TYPE)
        requests = [
            FetchRequest(source="slow", url=f"http://localhost:{server.port}/slow.xml"),
            FetchRequest(source="a", url=server.url("/f.xml?a")),
            FetchRequest(source="b", url=server.url("/f.xml?b")),
        ]
        outcomes = asyncio.run(fetch_all(requests))

    assert all(isinstance(o, Fetched) for o in outcomes), outcomes
    first, second = recorder.starts["127.0.0.1"]
    assert second - first >= 0.29, (first, second)


# --------------------------------------------------------------------------- WebSub


class _Hub(BaseHTTPRequestHandler):
    """A WebSub hub that records publish pings."""

    server: _HubServer

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        form = parse_qs(self.rfile.read(length).decode())
        self.server.pings.append(form)
        self.send_response(self.server.status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


class _HubServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Hub)
        self.pings: list[dict[str, list[str]]] = []
        self.status = 204

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hub"


@pytest.fixture
def hub() -> Iterator[_HubServer]:
    server = _HubServer()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(5)


def test_feeds_advertise_the_hub_and_changes_are_pinged(
    tmp_path: Path, loopback_server: LoopbackServer, hub: _HubServer
) -> None:
    loopback_server.route("/f.xml", body=FEED, headers={**FEED_TYPE, "ETag": '"one"'})
    config = write_config(
        tmp_path,
        [feed_source("tribune", loopback_server.url("/f.xml"), tags=["river"])],
        websub_hub=hub.url,
    )
    service = service_for(config, FakeClock())
    service.run_once(force=True, workers=1)

    output = tmp_path / "output"
    assert f'<atom:link rel="hub" href="{hub.url}"/>' in (output / "all.rss").read_text()
    assert f'<link href="{hub.url}" rel="hub"/>' in (output / "all.atom").read_text()
    assert f'"url": "{hub.url}"' in (output / "all.json").read_text()
    pinged = {form["hub.url"][0] for form in hub.pings}
    assert all(form["hub.mode"] == ["publish"] for form in hub.pings)
    feeds = ("all", "sources/tribune", "tags/river")
    assert pinged >= {f"http://feeds.test/{f}.{e}" for f in feeds for e in ("rss", "atom", "json")}
    assert all(u.endswith((".rss", ".atom", ".json")) for u in pinged)

    count = len(hub.pings)
    service.run_once(force=True, workers=1)  # 304: nothing changed, nobody pinged
    assert len(hub.pings) == count


def test_a_failing_hub_is_logged_never_fatal(
    tmp_path: Path, loopback_server: LoopbackServer, hub: _HubServer
) -> None:
    hub.status = 500
    loopback_server.route("/f.xml", body=FEED, headers=FEED_TYPE)
    config = write_config(
        tmp_path, [feed_source("tribune", loopback_server.url("/f.xml"))], websub_hub=hub.url
    )
    result = service_for(config, FakeClock()).run_once(force=True, workers=1)
    assert result.sources[0].status == "ok" and hub.pings
    unreachable = write_config(
        tmp_path,
        [feed_source("tribune", loopback_server.url("/f.xml"))],
        websub_hub="http://127.0.0.1:9/hub",
    )
    loopback_server.route("/f.xml", body=rss("Quay lights restored"), headers=FEED_TYPE)
    assert service_for(unreachable, FakeClock()).run_once(force=True, workers=1).published


# --------------------------------------------------------------------------- stopping a cycle


def test_a_stopped_cycle_abandons_fetches_in_flight_and_keeps_finished_ones(
    tmp_path: Path, loopback_server: LoopbackServer
) -> None:
    loopback_server.route("/quick.xml", body=FEED, headers=FEED_TYPE)
    loopback_server.route("/stuck.xml", delay=60.0)
    sources = [feed_source(n, loopback_server.url(f"/{n}.xml")) for n in ("quick", "stuck")]
    service = service_for(write_config(tmp_path, sources), FakeClock())
    stop = threading.Event()
    threading.Timer(1.0, stop.set).start()
    started = time.monotonic()
    result = service.daemon_cycle(stop, workers=1, publish=True)

    assert time.monotonic() - started < 3.0  # not the 30 s fetch deadline
    assert [(r.source, r.status, r.new) for r in result.sources] == [("quick", "ok", 2)]
    assert result.published is None  # a stopped cycle publishes nothing
    assert state_of(service, "stuck").last_fetch is None  # nothing half-recorded
    assert state_of(service, "quick").article_count == 2

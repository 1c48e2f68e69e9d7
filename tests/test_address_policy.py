"""No one can point feedsvc at the local network: the address policy and the connection guard.

Refused cases are shown to make **no connection**: loopback cases against a
real loopback server that counts the connections it accepts, private and
link-local ones (which must never be the target of traffic from this machine)
through an inner network backend that records connection attempts instead of
making them.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Sequence
from pathlib import Path

import httpcore
import httpx
import pytest

from feedsvc.addresses import AddressPolicy, IPAddress, classify, refusal, scheme_refusal
from feedsvc.config_types import FetchConfig
from feedsvc.connect import Resolver, SocketOptions, guarded_transport
from feedsvc.fetch import Fetcher, user_agent
from feedsvc.service import Service
from feedsvc.types import Fetched, FetchFailed, FetchOutcome, FetchRequest
from feedsvc.websub import notify_hub
from tests.support.configs import feed_source, write_config
from tests.support.httpserver import LoopbackServer
from tests.support.listeners import CountingListener

UA = user_agent("https://example.invalid/feedsvc-tests")
STRICT = FetchConfig(connect_timeout=2.0, total_timeout=5.0)
RSS = b'<?xml version="1.0"?><rss version="2.0"><channel><title>Port Wendel</title></channel></rss>'

# --------------------------------------------------------------------------- the pure decision

NOT_PUBLIC = [
    ("127.0.0.1", "loopback"),
    ("127.255.255.254", "loopback"),
    ("10.1.2.3", "private"),
    ("172.16.0.1", "private"),
    ("172.31.255.255", "private"),
    ("192.168.1.1", "private"),
    ("169.254.169.254", "link-local"),
    ("100.64.0.1", "shared (carrier-grade NAT)"),
    ("0.0.0.0", "unspecified"),
    ("0.1.2.3", "unspecified"),
    ("224.0.0.1", "multicast"),
    ("239.255.255.250", "multicast"),
    ("240.0.0.1", "reserved"),
    ("255.255.255.255", "reserved"),
    ("192.0.2.10", "documentation"),
    ("198.18.0.1", "benchmarking"),
    ("::1", "loopback"),
    ("::", "unspecified"),
    ("fe80::1", "link-local"),
    ("fd00::1", "private (unique local)"),
    ("fc00::1", "private (unique local)"),
    ("ff02::1", "multicast"),
    ("fec0::1", "site-local"),
    ("2001:db8::1", "documentation"),
    ("::ffff:127.0.0.1", "loopback"),  # IPv4-mapped
    ("::ffff:169.254.169.254", "link-local"),
    ("::ffff:10.0.0.1", "private"),
    ("::127.0.0.1", "loopback"),  # IPv4-compatible
    ("2002:7f00:1::", "loopback"),  # 6to4 of 127.0.0.1
    ("2002:c0a8:101::1", "private"),  # 6to4 of 192.168.1.1
    ("64:ff9b::a9fe:a9fe", "link-local"),  # NAT64 of 169.254.169.254
    ("2001:0:4136:e378:8000:63bf:f5ff:fffe", "private"),  # Teredo client 10.0.0.1
]
PUBLIC = ["93.184.215.14", "8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "::ffff:8.8.8.8"]


@pytest.mark.parametrize(("text", "kind"), NOT_PUBLIC)
def test_every_kind_of_non_public_address_is_named_and_refused(text: str, kind: str) -> None:
    address = ipaddress.ip_address(text)
    assert classify(address) == kind
    reason = refusal(address, AddressPolicy())
    assert reason is not None and kind in reason
    assert "settings.fetch.allow_private_addresses: true" in reason
    assert refusal(address, AddressPolicy(allow_private=True)) is None


@pytest.mark.parametrize("text", PUBLIC)
def test_public_addresses_are_allowed(text: str) -> None:
    assert classify(ipaddress.ip_address(text)) is None
    assert refusal(ipaddress.ip_address(text), AddressPolicy()) is None


def test_an_allow_list_opens_only_its_own_networks() -> None:
    policy = AddressPolicy.allowing(["127.0.0.1/32", "fd12::/16"])
    assert refusal(ipaddress.ip_address("127.0.0.1"), policy) is None
    assert refusal(ipaddress.ip_address("fd12::5"), policy) is None
    assert refusal(ipaddress.ip_address("127.0.0.2"), policy) is not None
    assert refusal(ipaddress.ip_address("10.0.0.1"), policy) is not None


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "ftp://x.example/f", "data:text/html,<p>x", "gopher://x/"]
)
def test_only_http_and_https_are_fetched(url: str) -> None:
    reason = scheme_refusal(url)
    assert reason is not None and reason.endswith("only http and https URLs are fetched")
    assert scheme_refusal("https://x.example/feed") is None
    assert scheme_refusal("HTTP://x.example/feed") is None


# --------------------------------------------------------------------------- helpers


def fetch(
    url: str,
    config: FetchConfig = STRICT,
    transport: httpx.AsyncBaseTransport | None = None,
) -> FetchOutcome:
    async def go() -> FetchOutcome:
        async with Fetcher(config, UA, transport=transport) as fetcher:
            return await asyncio.wait_for(fetcher.fetch(FetchRequest("s", url=url)), 15.0)

    return asyncio.run(go())


def failed(outcome: FetchOutcome) -> str:
    assert isinstance(outcome, FetchFailed), outcome
    return outcome.error


class Recorder(httpcore.AsyncNetworkBackend):
    """An inner backend that records where it was asked to connect and connects nowhere."""

    def __init__(self) -> None:
        self.attempts: list[tuple[str, int]] = []

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: SocketOptions | None = None,
    ) -> httpcore.AsyncNetworkStream:
        self.attempts.append((host, port))
        raise httpcore.ConnectError("recorded, not connected")


def fixed_resolver(table: dict[str, list[str]]) -> Resolver:
    async def resolve(host: str, port: int) -> Sequence[IPAddress]:
        return [ipaddress.ip_address(a) for a in table[host]]

    return resolve


def guarded(
    policy: AddressPolicy,
    table: dict[str, list[str]] | None = None,
    inner: httpcore.AsyncNetworkBackend | None = None,
) -> httpx.AsyncBaseTransport:
    if table is None:
        return guarded_transport(policy, httpx.Limits(), inner=inner)
    return guarded_transport(policy, httpx.Limits(), resolver=fixed_resolver(table), inner=inner)


# ---------------------------------------------------------------------- loopback, no connection


def loopback_spellings(port: int) -> list[str]:
    return [
        f"http://127.0.0.1:{port}/feed.xml",
        f"http://localhost:{port}/feed.xml",
        f"http://LocalHost:{port}/feed.xml",
        f"http://127.1:{port}/feed.xml",
        f"http://2130706433:{port}/feed.xml",
        f"http://0x7f000001:{port}/feed.xml",
        f"http://0x7f.1:{port}/feed.xml",
        f"http://[::ffff:127.0.0.1]:{port}/feed.xml",
        f"http://[::ffff:7f00:1]:{port}/feed.xml",
        f"http://0.0.0.0:{port}/feed.xml",
        f"http://0:{port}/feed.xml",
    ]


def test_loopback_in_any_spelling_is_refused_without_a_connection(
    loopback_server: LoopbackServer,
) -> None:
    loopback_server.route("/feed.xml", body=RSS)
    for url in loopback_spellings(loopback_server.port):
        error = failed(fetch(url))
        assert error.startswith("refused to connect to "), (url, error)
        assert "loopback address" in error or "unspecified address" in error, (url, error)
        assert "settings.fetch.allow_private_addresses: true" in error
    assert loopback_server.connections_accepted == 0
    assert loopback_server.requests == []


def test_the_setting_allows_the_same_spellings(loopback_server: LoopbackServer) -> None:
    loopback_server.route("/feed.xml", body=RSS)
    allowed = FetchConfig(allow_private_addresses=True)
    for url in loopback_spellings(loopback_server.port):
        outcome = fetch(url, allowed)
        assert isinstance(outcome, Fetched), (url, outcome)
    assert loopback_server.connections_accepted >= len(loopback_spellings(0))


def test_octal_spelling_is_refused_as_an_invalid_url(loopback_server: LoopbackServer) -> None:
    error = failed(fetch(f"http://0177.0.0.1:{loopback_server.port}/feed.xml"))
    assert error.startswith("invalid URL: ")
    assert loopback_server.connections_accepted == 0


def test_ipv6_loopback_is_refused_without_a_connection() -> None:
    with CountingListener("::1") as listener:
        error = failed(fetch(listener.url("/feed.xml")))
        assert error.startswith("refused to connect to ::1: ::1 is a loopback address")
    assert listener.accepted == 0


# ---------------------------------------------------------------------- private ranges, recorded


CLOUD_AND_PRIVATE = [
    "http://169.254.169.254/latest/meta-data/",
    "http://[fd00:ec2::254]/latest/meta-data/",
    "http://10.0.0.1/feed.xml",
    "http://172.20.1.1/feed.xml",
    "http://192.168.0.1/rss",
    "http://100.100.100.200/latest/meta-data/",
    "http://[fe80::1]/feed",
    "http://[fd00::1]:8080/feed",
    "http://224.0.0.251/feed",
    "http://[::ffff:169.254.169.254]/latest/",
    "http://[::ffff:a9fe:a9fe]/latest/",
    "http://2852039166/latest/meta-data/",  # 169.254.169.254 as one number
    "http://0xa9fea9fe/latest/meta-data/",
    "http://[64:ff9b::a9fe:a9fe]/latest/",
]


@pytest.mark.parametrize("url", CLOUD_AND_PRIVATE)
def test_private_and_metadata_addresses_are_refused_before_connecting(url: str) -> None:
    recorder = Recorder()
    error = failed(fetch(url, transport=guarded(AddressPolicy(), inner=recorder)))
    assert error.startswith("refused to connect to "), error
    assert recorder.attempts == []


def test_a_public_address_is_connected_to_by_address_not_by_name() -> None:
    recorder = Recorder()
    table = {"news.example": ["93.184.215.14"]}
    error = failed(
        fetch("http://news.example/feed", transport=guarded(AddressPolicy(), table, recorder))
    )
    assert error.startswith("could not connect: recorded")
    assert recorder.attempts == [("93.184.215.14", 80)]


# --------------------------------------------------------------------------- names and DNS


def test_a_name_resolving_to_loopback_is_refused(loopback_server: LoopbackServer) -> None:
    table = {"intranet.example": ["127.0.0.1"]}
    url = f"http://intranet.example:{loopback_server.port}/feed.xml"
    error = failed(fetch(url, transport=guarded(AddressPolicy(), table)))
    assert error == (
        "refused to connect to intranet.example: 127.0.0.1 is a loopback address"
        " (set settings.fetch.allow_private_addresses: true to fetch from it)"
    )
    assert loopback_server.connections_accepted == 0


def test_one_private_address_among_public_ones_refuses_the_name(
    loopback_server: LoopbackServer,
) -> None:
    recorder = Recorder()
    table = {"mixed.example": ["93.184.215.14", "10.0.0.7", "2606:4700:4700::1111"]}
    error = failed(
        fetch("http://mixed.example/", transport=guarded(AddressPolicy(), table, recorder))
    )
    assert "10.0.0.7 is a private address" in error
    assert recorder.attempts == []


def test_dns_rebinding_cannot_switch_the_address_after_the_check(
    loopback_server: LoopbackServer,
) -> None:
    """The guard connects to the address it checked: a second answer is never used for it."""
    loopback_server.route("/feed.xml", body=RSS)
    answers = [["127.0.0.1"], ["127.0.0.2"]]
    calls: list[str] = []

    async def rebinding(host: str, port: int) -> Sequence[IPAddress]:
        calls.append(host)
        return [ipaddress.ip_address(a) for a in answers[min(len(calls), 2) - 1]]

    policy = AddressPolicy.allowing(["127.0.0.1/32"])
    with CountingListener("127.0.0.2") as other:
        url = f"http://rebind.example:{loopback_server.port}/feed.xml"
        first = fetch(url, transport=guarded_transport(policy, httpx.Limits(), resolver=rebinding))
        assert isinstance(first, Fetched)
        second = fetch(url, transport=guarded_transport(policy, httpx.Limits(), resolver=rebinding))
        assert "127.0.0.2 is a loopback address" in failed(second)
    assert calls == ["rebind.example", "rebind.example"]  # one resolution per connection
    assert loopback_server.connections_accepted == 1
    assert other.accepted == 0


# --------------------------------------------------------------------------- redirects


def test_a_redirect_to_a_refused_address_makes_no_connection(
    loopback_server: LoopbackServer,
) -> None:
    policy = AddressPolicy.allowing(["127.0.0.1/32"])
    with CountingListener("127.0.0.2") as internal:
        loopback_server.redirect("/feed.xml", internal.url("/admin"))
        error = failed(fetch(loopback_server.url("/feed.xml"), transport=guarded(policy)))
        assert error.startswith("refused to connect to 127.0.0.2: 127.0.0.2 is a loopback")
    assert internal.accepted == 0
    assert [r.path for r in loopback_server.requests] == ["/feed.xml"]


def test_a_redirect_to_a_name_of_a_refused_address_makes_no_connection(
    loopback_server: LoopbackServer,
) -> None:
    policy = AddressPolicy.allowing(["127.0.0.1/32"])
    with CountingListener("127.0.0.2") as internal:
        table = {"127.0.0.1": ["127.0.0.1"], "metadata.internal": ["127.0.0.2"]}
        loopback_server.redirect("/feed.xml", f"http://metadata.internal:{internal.port}/")
        error = failed(fetch(loopback_server.url("/feed.xml"), transport=guarded(policy, table)))
        assert "refused to connect to metadata.internal: 127.0.0.2" in error
    assert internal.accepted == 0


@pytest.mark.parametrize(
    "location",
    [
        "file:///etc/passwd",
        "FILE:///etc/shadow",
        "ftp://ftp.example.org/feed.xml",
        "data:application/rss+xml;base64,PHJzcy8+",
        "javascript:alert(1)",
        "gopher://127.0.0.1:25/",
    ],
)
def test_redirects_to_other_schemes_are_refused(
    loopback_server: LoopbackServer, location: str
) -> None:
    loopback_server.redirect("/feed.xml", location, status=301)
    allowed = FetchConfig(allow_private_addresses=True)
    error = failed(fetch(loopback_server.url("/feed.xml"), allowed))
    assert error.startswith(f"redirect refused: {loopback_server.url('/feed.xml')} pointed to ")
    assert error.endswith("only http and https URLs are fetched")
    assert loopback_server.connections_accepted == 1


# --------------------------------------------------------------------------- whole runs and the hub


def test_a_run_with_the_default_policy_refuses_a_loopback_source(
    tmp_path: Path, loopback_server: LoopbackServer
) -> None:
    loopback_server.route("/feed.xml", body=RSS)
    config = write_config(
        tmp_path,
        [feed_source("inside", loopback_server.url("/feed.xml"))],
        fetch={"allow_private_addresses": False},
    )
    result = Service.from_path(config).run_once(force=True)
    [source] = result.sources
    assert source.status == "error"
    assert source.error is not None and "127.0.0.1 is a loopback address" in source.error
    assert loopback_server.connections_accepted == 0


def test_the_hub_ping_goes_through_the_same_policy(loopback_server: LoopbackServer) -> None:
    errors = notify_hub(loopback_server.url("/hub"), ["http://feeds.test/all.atom"], UA)
    assert len(errors) == 1
    assert "hub request refused: refused to connect to 127.0.0.1" in errors[0]
    assert loopback_server.connections_accepted == 0


def test_file_sources_are_unaffected_and_a_loopback_hub_is_not_pinged(
    tmp_path: Path, loopback_server: LoopbackServer
) -> None:
    feed = tmp_path / "drop" / "local.rss"
    feed.parent.mkdir()
    feed.write_bytes(
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>Desk</title><item>'
        b"<title>Ferry timetable changes at Port Wendel</title><link>https://desk.example/1</link>"
        b"</item></channel></rss>"
    )
    config = write_config(
        tmp_path,
        [{"name": "desk", "kind": "file", "path": str(feed.parent)}],
        fetch={"allow_private_addresses": False},
        websub_hub=loopback_server.url("/hub"),
    )
    result = Service.from_path(config).run_once(force=True)
    assert [s.status for s in result.sources] == ["ok"]
    assert result.published is not None and result.published.written
    assert loopback_server.connections_accepted == 0

"""Serving output/ over real HTTP: types, validators, gzip, cache headers, traversal, health."""

from __future__ import annotations

import gzip
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import formatdate
from pathlib import Path

import httpx
import pytest

from feedsvc.config import load_config
from feedsvc.config_types import SourceConfig
from feedsvc.serve import Health, Server, cache_seconds_for, create_app
from feedsvc.serve_files import accepts_gzip, etag_matches, request_parts
from feedsvc.store import Store
from tests.support.configs import feed_source, write_config

IDENTITY = {"Accept-Encoding": "identity"}
GZIP = {"Accept-Encoding": "gzip"}
SECRET = b"<rss>the harbourmaster's private ledger</rss>"


def _feed(title: str) -> bytes:
    items = "".join(
        f"<item><title>{title} #{n}: the Quayside ferry timetable changes</title></item>"
        for n in range(20)
    )
    return f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0">{items}</rss>'.encode()


FILES = {
    "index.html": b"<!doctype html><title>Quayside feeds</title><p>Harbour news</p>\n" * 12,
    "feeds.opml": b'<?xml version="1.0"?><opml version="2.0"><body/></opml>\n',
    "all.rss": _feed("All"),
    "all.atom": b'<feed xmlns="http://www.w3.org/2005/Atom">'
    + b"<title>All</title>" * 40
    + b"</feed>",
    "all.json": b'{"version": "https://jsonfeed.org/version/1.1", "items": []}\n',
    "sources/quay.rss": _feed("Quay Gazette"),
    "sources/quay.atom": b'<feed xmlns="http://www.w3.org/2005/Atom"/>',
    "sources/quay.json": b'{"version": "https://jsonfeed.org/version/1.1"}',
    "tags/harbour.rss": _feed("Harbour"),
    "tags/harbour.html": b"<!doctype html><title>Harbour</title>\n",
    "sources/quay.html": b"<!doctype html><title>Quay Gazette</title>\n",
    "stories/story-0123456789abcdef.html": b"<!doctype html><title>Ferry</title>\n",
    "favicon.svg": b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 1 1"/>\n',
}

STORY_PAGE = (
    "/stories/story-0123456789abcdef.html",
    "text/html; charset=utf-8",
    "stories/story-0123456789abcdef.html",
)
TYPES = [
    ("/", "text/html; charset=utf-8", "index.html"),
    ("/index.html", "text/html; charset=utf-8", "index.html"),
    ("/feeds.opml", "text/x-opml; charset=utf-8", "feeds.opml"),
    ("/all.rss", "application/rss+xml; charset=utf-8", "all.rss"),
    ("/all.atom", "application/atom+xml; charset=utf-8", "all.atom"),
    ("/all.json", "application/feed+json; charset=utf-8", "all.json"),
    ("/sources/quay.rss", "application/rss+xml; charset=utf-8", "sources/quay.rss"),
    ("/sources/quay.atom", "application/atom+xml; charset=utf-8", "sources/quay.atom"),
    ("/sources/quay.json", "application/feed+json; charset=utf-8", "sources/quay.json"),
    ("/tags/harbour.rss", "application/rss+xml; charset=utf-8", "tags/harbour.rss"),
    ("/tags/harbour.html", "text/html; charset=utf-8", "tags/harbour.html"),
    ("/sources/quay.html", "text/html; charset=utf-8", "sources/quay.html"),
    STORY_PAGE,
    ("/favicon.svg", "image/svg+xml", "favicon.svg"),
]


@pytest.fixture(scope="module")
def output(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One output/ for the module; tests that change it use file names of their own."""
    root = tmp_path_factory.mktemp("serve") / "output"
    for name, data in FILES.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    (root.parent / "secret.rss").write_bytes(SECRET)
    return root


@dataclass
class FakeClock:
    now: datetime = datetime(2031, 3, 4, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@dataclass
class FakeDaemon:
    started: datetime
    running: bool = True
    last_end: datetime | None = None
    calls: list[int] = field(default_factory=list)

    def __call__(self) -> Health:
        self.calls.append(1)
        return Health(self.running, self.last_end, self.started)


@pytest.fixture
def running() -> Iterator[list[Server]]:
    servers: list[Server] = []
    yield servers
    for server in servers:
        server.stop()


def _start(
    servers: list[Server],
    output: Path,
    *,
    health: FakeDaemon | None = None,
    clock: FakeClock | None = None,
) -> httpx.Client:
    app = create_app(output, cache_seconds=300, health=health, clock=clock or FakeClock())
    server = Server(app, "127.0.0.1", 0)
    server.start()
    servers.append(server)
    return httpx.Client(base_url=server.url, timeout=5.0)


@pytest.fixture(scope="module")
def client(output: Path) -> Iterator[httpx.Client]:
    servers: list[Server] = []
    try:
        with _start(servers, output) as http:
            yield http
    finally:
        for server in servers:
            server.stop()


def _replace(path: Path, data: bytes) -> None:
    temp = path.with_name(f".{path.name}.tmp")
    temp.write_bytes(data)
    temp.replace(path)


# --------------------------------------------------------------------------- content


@pytest.mark.parametrize(("url", "content_type", "name"), TYPES)
def test_each_kind_has_its_content_type(
    client: httpx.Client, output: Path, url: str, content_type: str, name: str
) -> None:
    response = client.get(url, headers=IDENTITY)
    assert response.status_code == 200
    assert response.headers["content-type"] == content_type
    assert response.content == (output / name).read_bytes()
    assert response.headers["content-length"] == str(len(FILES[name]))


def test_validators_and_cache_headers_on_every_file(client: httpx.Client, output: Path) -> None:
    response = client.get("/sources/quay.rss", headers=IDENTITY)
    mtime = (output / "sources" / "quay.rss").stat().st_mtime
    assert response.headers["last-modified"] == formatdate(mtime, usegmt=True)
    assert response.headers["etag"].startswith('"') and response.headers["etag"].endswith('"')
    assert response.headers["cache-control"] == "public, max-age=300"
    assert response.headers["vary"] == "Accept-Encoding"
    assert response.headers["x-content-type-options"] == "nosniff"


def test_if_none_match_gives_304_without_body(client: httpx.Client) -> None:
    first = client.get("/all.rss", headers=IDENTITY)
    again = client.get("/all.rss", headers={**IDENTITY, "If-None-Match": first.headers["etag"]})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == first.headers["etag"]
    assert again.headers["cache-control"] == "public, max-age=300"
    listed = client.get(
        "/all.rss", headers={**IDENTITY, "If-None-Match": f'"x", W/{first.headers["etag"]}'}
    )
    assert listed.status_code == 304
    other = client.get("/all.rss", headers={**IDENTITY, "If-None-Match": '"something-else"'})
    assert other.status_code == 200
    assert other.content == FILES["all.rss"]


def test_if_modified_since_gives_304_until_the_file_is_newer(
    client: httpx.Client, output: Path
) -> None:
    mtime = (output / "all.atom").stat().st_mtime
    same = client.get("/all.atom", headers={"If-Modified-Since": formatdate(mtime, usegmt=True)})
    assert same.status_code == 304
    assert same.content == b""
    older = formatdate(mtime - 3600, usegmt=True)
    assert client.get("/all.atom", headers={"If-Modified-Since": older}).status_code == 200
    junk = client.get("/all.atom", headers={"If-Modified-Since": "yesterday-ish"})
    assert junk.status_code == 200


def test_if_none_match_wins_over_if_modified_since(client: httpx.Client) -> None:
    future = formatdate(time.time() + 86400, usegmt=True)
    headers = {"If-None-Match": '"stale"', "If-Modified-Since": future}
    assert client.get("/all.rss", headers=headers).status_code == 200


def test_gzip_only_when_asked_and_the_body_decodes_to_the_file(client: httpx.Client) -> None:
    with client.stream("GET", "/all.rss", headers=GZIP) as response:
        raw = b"".join(response.iter_raw())
    assert response.headers["content-encoding"] == "gzip"
    assert response.headers["vary"] == "Accept-Encoding"
    assert gzip.decompress(raw) == FILES["all.rss"]
    assert len(raw) < len(FILES["all.rss"])
    for refusal in ("identity", "gzip;q=0", "br", "*;q=0"):
        plain = client.get("/all.rss", headers={"Accept-Encoding": refusal})
        assert "content-encoding" not in plain.headers
        assert plain.content == FILES["all.rss"]


def test_gzip_representation_has_its_own_etag_and_304(client: httpx.Client) -> None:
    plain = client.get("/all.rss", headers=IDENTITY).headers["etag"]
    zipped = client.get("/all.rss", headers=GZIP).headers["etag"]
    assert zipped != plain
    assert client.get("/all.rss", headers={**GZIP, "If-None-Match": zipped}).status_code == 304
    # a cache that stored the identity body must not be told the gzip one is the same
    assert client.get("/all.rss", headers={**GZIP, "If-None-Match": plain}).status_code == 200
    assert client.get("/all.rss", headers={**IDENTITY, "If-None-Match": zipped}).status_code == 200


def test_small_files_are_not_compressed(client: httpx.Client) -> None:
    response = client.get("/sources/quay.atom", headers=GZIP)
    assert "content-encoding" not in response.headers
    assert response.content == FILES["sources/quay.atom"]


def test_head_has_the_headers_and_no_body(client: httpx.Client) -> None:
    get = client.get("/tags/harbour.rss", headers=IDENTITY)
    head = client.head("/tags/harbour.rss", headers=IDENTITY)
    assert head.status_code == 200
    assert head.content == b""
    for name in ("etag", "last-modified", "content-type", "content-length", "cache-control"):
        assert head.headers[name] == get.headers[name]


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
def test_writes_are_not_allowed(client: httpx.Client, output: Path, method: str) -> None:
    response = client.request(method, "/all.rss", content=b"<rss>defaced</rss>")
    assert response.status_code == 405
    assert {m.strip() for m in response.headers["allow"].split(",")} == {"GET", "HEAD"}
    assert (output / "all.rss").read_bytes() == FILES["all.rss"]


def test_a_replaced_file_gets_a_new_etag_and_body(client: httpx.Client, output: Path) -> None:
    older = b'{"version": "https://jsonfeed.org/version/1.1", "items": [0]}\n'
    newer = b'{"version": "https://jsonfeed.org/version/1.1", "items": [1]}\n'
    (output / "tags" / "replaced.json").write_bytes(older)
    first = client.get("/tags/replaced.json", headers=IDENTITY)
    assert first.content == older
    _replace(output / "tags" / "replaced.json", newer)
    headers = {**IDENTITY, "If-None-Match": first.headers["etag"]}
    second = client.get("/tags/replaced.json", headers=headers)
    assert second.status_code == 200
    assert second.headers["etag"] != first.headers["etag"]
    assert second.content == newer


def test_a_file_replaced_while_served_is_never_seen_half(
    client: httpx.Client, output: Path
) -> None:
    versions = [b"A" * 700_000, b"B" * 900_000]
    target = output / "tags" / "busy.rss"
    target.write_bytes(versions[0])
    stop = threading.Event()

    def publisher() -> None:
        n = 0
        while not stop.is_set():
            n += 1
            _replace(target, versions[n % 2])

    thread = threading.Thread(target=publisher)
    thread.start()
    try:
        bodies = [client.get("/tags/busy.rss", headers=IDENTITY).content for _ in range(25)]
    finally:
        stop.set()
        thread.join()
    assert all(body in versions for body in bodies)


# --------------------------------------------------------------------------- escapes

TRAVERSALS = [
    b"/../secret.rss",
    b"/%2e%2e/secret.rss",
    b"/%2E%2E/secret.rss",
    b"/..%2fsecret.rss",
    b"/..%2Fsecret.rss",
    b"/%2e%2e%2fsecret.rss",
    b"/sources/../../secret.rss",
    b"/sources/..%2f..%2fsecret.rss",
    b"/sources/%2e%2e/%2e%2e/secret.rss",
    b"/..\\secret.rss",
    b"/..%5csecret.rss",
    b"//etc/passwd",
    b"/%2fetc%2fpasswd",
    b"/./all.rss",
    b"/sources",
    b"/sources/",
    b"/tags//harbour.rss",
    b"/.all.rss.tmp",
    b"/sources/quay.rss.tmp",
    b"/" + b"a/" * 200 + b"x.rss",
    b"/" + b"x" * 5000 + b".rss",
]


@pytest.mark.parametrize("target", TRAVERSALS, ids=lambda t: t[:40].decode())
def test_no_path_escapes_output(client: httpx.Client, target: bytes) -> None:
    response = client.get("/", extensions={"target": target})
    assert response.status_code == 404
    assert b"harbourmaster" not in response.content


@pytest.mark.parametrize("target", [b"/all.rss%00", b"/all.rss%00.html", b"/%00/../secret.rss"])
def test_nul_bytes_are_a_bad_request(client: httpx.Client, target: bytes) -> None:
    response = client.get("/", extensions={"target": target})
    assert response.status_code == 400


def test_absolute_paths_do_not_escape(client: httpx.Client, output: Path) -> None:
    secret = str(output.parent / "secret.rss").encode()
    for target in (b"/" + secret, b"/%2F" + secret[1:], b"http://127.0.0.1" + secret):
        response = client.get("/", extensions={"target": target})
        assert response.status_code in (400, 404), target
        assert b"harbourmaster" not in response.content


def test_symlinks_escaping_output_are_refused(
    client: httpx.Client, output: Path, tmp_path: Path
) -> None:
    (output / "sources" / "leak.rss").symlink_to(output.parent / "secret.rss")
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "stolen.rss").write_bytes(SECRET)
    (output / "loot").symlink_to(outside, target_is_directory=True)
    for url in ("/sources/leak.rss", "/loot/stolen.rss"):
        response = client.get(url)
        assert response.status_code == 404
        assert b"harbourmaster" not in response.content


def test_no_symlink_below_output_is_followed(client: httpx.Client, output: Path) -> None:
    (output / "alias.rss").symlink_to(output / "all.rss")
    assert client.get("/alias.rss").status_code == 404
    assert client.get("/all.rss").status_code == 200
    page = client.get(STORY_PAGE[0], headers=IDENTITY)  # pages are cached like the feeds
    assert page.headers["cache-control"] == "public, max-age=300"
    assert (
        client.get(STORY_PAGE[0], headers={"If-None-Match": page.headers["etag"]}).status_code
        == 304
    )


def test_only_the_output_layout_extensions_are_served(client: httpx.Client, output: Path) -> None:
    (output / "feedsvc.sqlite").write_bytes(b"SQLite format 3\x00")
    (output / "notes.txt").write_bytes(b"draft")
    assert client.get("/feedsvc.sqlite").status_code == 404
    assert client.get("/notes.txt").status_code == 404


def test_request_parts_accepts_the_layout_and_nothing_else() -> None:
    assert request_parts("/") == ("index.html",)
    assert request_parts("/tags/harbour-news.atom") == ("tags", "harbour-news.atom")
    for bad in ("", "all.rss", "/../all.rss", "/a/./b.rss", "/.hidden.rss", "/a//b.rss", "/x.py"):
        assert request_parts(bad) is None, bad


def test_accept_encoding_parsing() -> None:
    assert accepts_gzip("gzip, deflate, br")
    assert accepts_gzip("br;q=1.0, gzip;q=0.5")
    assert accepts_gzip("*")
    assert accepts_gzip("x-gzip")
    assert not accepts_gzip("")
    assert not accepts_gzip("identity")
    assert not accepts_gzip("gzip;q=0, *")
    assert not accepts_gzip("gzip;q=zero")


def test_etag_comparison_is_weak() -> None:
    assert etag_matches('W/"1-2"', '"1-2"')
    assert etag_matches('"0", "1-2"', '"1-2"')
    assert etag_matches("*", '"1-2"')
    assert not etag_matches('"1-2-gzip"', '"1-2"')


def test_cache_seconds_follow_the_shortest_enabled_interval() -> None:
    def source(name: str, minutes: float, enabled: bool = True) -> SourceConfig:
        interval = timedelta(minutes=minutes)
        return SourceConfig(
            name, name, "feed", url="http://quay.test/", interval=interval, enabled=enabled
        )

    assert cache_seconds_for([source("a", 30), source("b", 10)]) == 600
    assert cache_seconds_for([source("a", 30), source("b", 0.25, enabled=False)]) == 1800
    assert cache_seconds_for([source("a", 0.25)]) == 60
    assert cache_seconds_for([source("a", 600)]) == 3600
    assert cache_seconds_for([]) == 3600


# --------------------------------------------------------------------------- health


def test_healthz_without_a_scheduler_is_static(client: httpx.Client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "mode": "static"}
    assert response.headers["cache-control"] == "no-store"


def test_healthz_follows_the_scheduler_and_the_last_cycle(
    output: Path, running: list[Server]
) -> None:
    clock = FakeClock()
    daemon = FakeDaemon(started=clock.now)
    with _start(running, output, health=daemon, clock=clock) as http:
        fresh = http.get("/healthz")
        assert (fresh.status_code, fresh.json()["status"]) == (200, "ok")
        assert fresh.json()["last_cycle_end"] is None
        assert fresh.headers["cache-control"] == "no-store"

        clock.now += timedelta(minutes=16)  # grace is max(3 * 300 s, 15 min) = 15 min
        never = http.get("/healthz")
        assert never.status_code == 503
        assert "no cycle" in never.json()["problem"]

        daemon.last_end = clock.now - timedelta(minutes=2)
        ok = http.get("/healthz").json()
        assert ok["status"] == "ok"
        assert ok["seconds_since_last_cycle"] == 120.0
        assert ok["last_cycle_end"] == daemon.last_end.isoformat()

        clock.now += timedelta(minutes=14)
        assert http.get("/healthz").status_code == 503

        daemon.last_end = clock.now
        daemon.running = False
        stopped = http.get("/healthz")
        assert stopped.status_code == 503
        assert stopped.json()["scheduler_running"] is False


# --------------------------------------------------------------------------- server and CLI


def test_server_picks_a_port_and_stops(output: Path) -> None:
    server = Server(create_app(output, cache_seconds=60), "127.0.0.1", 0)
    server.start()
    assert server.port != 0 and server.running
    assert httpx.get(server.url + "all.rss").status_code == 200
    server.stop()
    assert not server.running
    with pytest.raises(httpx.ConnectError):
        httpx.get(server.url + "all.rss")


def test_missing_output_directory_answers_404(tmp_path: Path, running: list[Server]) -> None:
    with _start(running, tmp_path / "not-yet") as http:
        assert http.get("/all.rss").status_code == 404
        assert http.get("/healthz").status_code == 200


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _get_when_up(url: str, process: subprocess.Popen[bytes], deadline: float) -> httpx.Response:
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stderr.read() if process.stderr else b""
        try:
            return httpx.get(url, headers=IDENTITY)
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError(f"no answer from {url}")


@pytest.mark.slow
def test_serve_command_serves_and_exits_0_on_sigterm(
    tmp_path: Path, output: Path, repo_dir: Path
) -> None:
    config = write_config(
        tmp_path,
        [feed_source("quay", "http://quay.test/feed.xml", interval="10m")],
        output_dir=str(output),
    )
    loaded = load_config(config)
    with Store.open(loaded.settings.database_url) as store:
        store.sync_sources(loaded.sources, datetime.now(UTC))
    port = _free_port()
    command = [
        sys.executable,
        "-m",
        "feedsvc",
        "--config",
        str(config),
        "serve",
        "--port",
        str(port),
    ]
    env = {**os.environ, "PYTHONPATH": str(repo_dir)}
    process = subprocess.Popen(command, cwd=tmp_path, env=env, stderr=subprocess.PIPE)
    try:
        response = _get_when_up(f"http://127.0.0.1:{port}/all.rss", process, time.monotonic() + 20)
        assert response.status_code == 200
        assert response.content == FILES["all.rss"]
        assert response.headers["cache-control"] == "public, max-age=600"
        metrics = httpx.get(f"http://127.0.0.1:{port}/metrics")
        assert 'feedsvc_source_failures{source="quay"} 0.0' in metrics.text
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=5) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

"""End-to-end cycles: real config files, real loopback HTTP, real SQLite, feeds read back."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import feedparser
import pytest

from feedsvc.service import Service
from feedsvc.store import Store
from feedsvc.types import RunResult, SourceResult
from tests.support.configs import feed_source, write_config
from tests.support.httpserver import LoopbackServer, trickle, zeros

FIXTURES = Path(__file__).parent / "fixtures" / "pipeline"
QUAYSIDE = (FIXTURES / "quayside.rss").read_bytes()
ARTICLE = (FIXTURES / "article.html").read_bytes()


def by_source(result: RunResult) -> dict[str, SourceResult]:
    return {r.source: r for r in result.sources}


def read_feed(path: Path) -> feedparser.FeedParserDict:
    parsed = feedparser.parse(path.read_bytes())
    assert parsed.bozo == 0, (path, parsed.get("bozo_exception"))
    return parsed


def test_sample_outlets_publish_readable_feeds(tmp_path: Path, repo_dir: Path) -> None:
    samples = repo_dir / "samples"
    config = write_config(
        tmp_path,
        [
            {
                "name": "gazette",
                "kind": "feed",
                "path": str(samples / "harbour-gazette/feed.xml"),
                "tags": ["coast"],
            },
            {
                "name": "wire",
                "kind": "feed",
                "path": str(samples / "valley-wire/atom.xml"),
                "tags": ["coast", "wire"],
            },
            {"name": "metro", "kind": "feed", "path": str(samples / "metro-daily/feed.json")},
            {
                "name": "chronicle",
                "kind": "page",
                "path": str(samples / "pages/riverside-chronicle-ferry.html"),
            },
            {"name": "drops", "kind": "file", "path": str(samples / "drops")},
        ],
    )
    service = Service.from_path(config)
    result = service.run_once(force=True, workers=1)

    assert [r.status for r in result.sources] == ["ok"] * 5, result.sources
    counts = {r.source: r.new for r in result.sources}
    assert counts == {"chronicle": 1, "drops": 3, "gazette": 6, "metro": 4, "wire": 5}
    output = tmp_path / "output"
    everything = read_feed(output / "all.atom")
    assert (
        len(everything.entries) == 15
    )  # 19 articles; the ferry story's five reports are one entry
    published = [e.published_parsed for e in everything.entries]
    assert published == sorted(published, reverse=True)
    assert len(read_feed(output / "sources" / "gazette.rss").entries) == 6
    assert len(read_feed(output / "tags" / "coast.atom").entries) == 10  # 11 articles, 10 stories
    assert len(json.loads((output / "all.json").read_text())["items"]) == 15
    assert 'type="application/atom+xml"' in (output / "index.html").read_text()


def test_second_run_rewrites_nothing(tmp_path: Path, repo_dir: Path) -> None:
    feed = repo_dir / "samples" / "harbour-gazette" / "feed.xml"
    config = write_config(tmp_path, [{"name": "gazette", "kind": "feed", "path": str(feed)}])
    service = Service.from_path(config)
    first = service.run_once(force=True, workers=1)
    before = {p: p.read_bytes() for p in (tmp_path / "output").rglob("*") if p.is_file()}
    second = service.run_once(force=True, workers=1)

    assert first.published is not None and first.published.written
    assert second.sources[0].status == "not-modified"
    assert second.published is not None and second.published.written == ()
    after = {p: p.read_bytes() for p in (tmp_path / "output").rglob("*") if p.is_file()}
    assert after == before


def test_http_sources_fail_alone(tmp_path: Path, loopback_server: LoopbackServer) -> None:
    server = loopback_server
    server.route(
        "/feed.xml", body=QUAYSIDE, headers={"Content-Type": "application/rss+xml", "ETag": '"q1"'}
    )
    server.redirect("/moved.xml", "/feed.xml", status=301)
    server.route(
        "/article.html", body=ARTICLE, headers={"Content-Type": "text/html; charset=utf-8"}
    )
    server.route("/broken.xml", status=500, body=b"oops")
    server.route("/gone.xml", status=404, body=b"no such feed")
    server.route("/slow.xml", delay=30.0, body=QUAYSIDE)
    server.route("/trickle.xml", chunks=lambda: trickle(0.05))
    server.route("/huge.xml", chunks=lambda: zeros(50 * 2**20))
    server.route(
        "/garbage.xml",
        body=b"\x00\x01 this is not a feed <<<",
        headers={"Content-Type": "text/plain"},
    )
    server.route("/drop.xml", drop=True)
    names = ["feed", "moved", "broken", "gone", "slow", "trickle", "huge", "garbage", "drop"]
    sources = [feed_source(n, server.url(f"/{n}.xml")) for n in names]
    sources.append({"name": "page", "kind": "page", "url": server.url("/article.html")})
    config = write_config(
        tmp_path,
        sources,
        fetch={"total_timeout": "2s", "connect_timeout": "1s", "max_body_size": "1MiB"},
    )

    result = Service.from_path(config).run_once(force=True, workers=2)

    got = by_source(result)
    assert {n for n, r in got.items() if r.status == "ok"} == {"feed", "moved", "page"}
    assert got["feed"].new == 2 and got["moved"].new == 2 and got["page"].new == 1
    assert "500" in (got["broken"].error or "")
    assert "404" in (got["gone"].error or "")
    assert "timed out" in (got["slow"].error or "")
    assert "timed out" in (got["trickle"].error or "")
    assert "exceeds" in (got["huge"].error or "")
    assert "not a usable feed" in (got["garbage"].error or "")
    assert got["drop"].error
    assert not any("internal error" in (r.error or "") for r in result.sources)
    assert server.body_bytes_sent < 10 * 2**20  # the huge body was cut off, not downloaded


def test_failures_are_recorded_and_back_off(
    tmp_path: Path, loopback_server: LoopbackServer
) -> None:
    loopback_server.route("/broken.xml", status=503, body=b"busy")
    config = write_config(
        tmp_path, [feed_source("broken", loopback_server.url("/broken.xml"), interval="10m")]
    )
    service = Service.from_path(config)
    service.run_once(force=True, workers=1)
    service.run_once(force=True, workers=1)

    (state,) = service.sources()
    assert state.failures == 2
    assert state.last_status == "error"
    assert state.http_status == 503
    assert "503" in (state.last_error or "")
    assert state.last_fetch is not None and state.next_fetch_after is not None
    assert state.next_fetch_after - state.last_fetch > service.config.sources[0].interval


def test_conditional_get_and_reingest_updates_in_place(
    tmp_path: Path, loopback_server: LoopbackServer
) -> None:
    server = loopback_server
    server.route("/feed.xml", body=QUAYSIDE, headers={"ETag": '"v1"'})
    config = write_config(tmp_path, [feed_source("quay", server.url("/feed.xml"))])
    service = Service.from_path(config)
    assert service.run_once(force=True, workers=1).sources[0].new == 2

    assert service.run_once(force=True, workers=1).sources[0].status == "not-modified"
    assert server.requests[-1].headers.get("if-none-match") == '"v1"'

    edited = QUAYSIDE.replace(b"Night market returns", b"Night market is back")
    server.route("/feed.xml", body=edited, headers={"ETag": '"v2"'})
    third = service.run_once(force=True, workers=1).sources[0]
    assert (third.status, third.new, third.updated) == ("ok", 0, 1)
    with Store.open(service.config.settings.database_url) as store:
        titles = sorted(a.title for a in store.recent_articles(10))
    assert titles == [
        "Dredger arrives to clear silted channel",
        "Night market is back to the old fish hall",
    ]


def test_article_is_clean_in_the_store(tmp_path: Path, loopback_server: LoopbackServer) -> None:
    loopback_server.route("/feed.xml", body=QUAYSIDE)
    config = write_config(
        tmp_path, [feed_source("quay", loopback_server.url("/feed.xml"), tags=["harbour"])]
    )
    service = Service.from_path(config)
    service.run_once(force=True, workers=1)
    with Store.open(service.config.settings.database_url) as store:
        article = store.article("quay", "quayside-1001")
    assert article is not None
    assert article.url == "http://quayside.test/news/dredger-arrives"
    assert article.published == datetime(2026, 11, 17, 9, 15, tzinfo=UTC)
    assert "<script" not in article.content_html and "alert(1)" not in article.text
    assert article.authors == ("Orla Finnerty",)
    assert article.tags == ("harbour",)


def test_due_sources_only_unless_forced(tmp_path: Path, loopback_server: LoopbackServer) -> None:
    loopback_server.route("/feed.xml", body=QUAYSIDE)
    config = write_config(
        tmp_path, [feed_source("quay", loopback_server.url("/feed.xml"), interval="1h")]
    )
    service = Service.from_path(config)
    service.run_once(workers=1)
    assert service.run_once(workers=1).sources == ()
    assert len(service.run_once(force=True, workers=1).sources) == 1
    assert len(loopback_server.requests) == 2


def test_disabled_sources_are_not_fetched(tmp_path: Path, loopback_server: LoopbackServer) -> None:
    loopback_server.route("/feed.xml", body=QUAYSIDE)
    config = write_config(
        tmp_path, [feed_source("quay", loopback_server.url("/feed.xml"), enabled=False)]
    )
    assert Service.from_path(config).run_once(force=True, workers=1).sources == ()
    assert loopback_server.requests == []


@pytest.mark.shared
def test_seed_reports_ingested_as_file_sources(tmp_path: Path, shared_dir: Path) -> None:
    config = write_config(
        tmp_path, [{"name": "seeds", "kind": "file", "path": str(shared_dir / "seeds")}]
    )
    service = Service.from_path(config)
    result = service.run_once(force=True, workers=1)
    assert result.sources[0].status == "ok" and result.sources[0].new == 2

    with Store.open(service.config.settings.database_url) as store:
        articles = {a.title: a for a in store.recent_articles(10)}
    summit = articles[
        "Korea-Japan Summit: What Progress Was Made on Historical Issues and Regional Cooperation?"
    ]
    assert summit.published.date().isoformat() == "2026-01-13"
    assert "Josei Coal Mine" in summit.text
    for teaser in ("Supreme Court", "Saebyul", "Sim Eun Kyeong", "Check Out", "/ News1"):
        assert teaser not in summit.text
    (other,) = [a for t, a in articles.items() if a is not summit]
    assert other.dateline == "NARA"
    assert other.published.date().isoformat() == "2026-01-13"
    assert "Chosei Coal Mine" in other.text


def test_many_sources_through_few_body_slots_all_finish(
    tmp_path: Path, loopback_server: LoopbackServer
) -> None:
    # One connection: four bodies read and not yet extracted at most
    # (pipeline.BODIES_PER_CONNECTION); every body must give its slot back.
    loopback_server.route("/feed.xml", body=QUAYSIDE)
    loopback_server.route("/broken.xml", status=500, body=b"oops")
    sources = [feed_source(f"ok{i}", loopback_server.url("/feed.xml")) for i in range(12)]
    sources += [feed_source(f"bad{i}", loopback_server.url("/broken.xml")) for i in range(6)]
    (tmp_path / "drops").mkdir()  # a file source: fetched without a connection slot
    (tmp_path / "drops" / "note.html").write_text(ARTICLE.decode(), encoding="utf-8")
    sources.append({"name": "drops", "kind": "file", "path": str(tmp_path / "drops")})
    config = write_config(tmp_path, sources, fetch={"concurrency": 1, "per_host": 1})

    result = Service.from_path(config).run_once(force=True, workers=2)

    got = by_source(result)
    assert len(got) == 19
    assert all(got[f"ok{i}"].status == "ok" for i in range(12))
    assert all("500" in (got[f"bad{i}"].error or "") for i in range(6))
    assert got["drops"].status == "ok"
    assert len(loopback_server.requests) == 18

"""The idle check: a run with nothing due ends early, and only when it is sure."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from feedsvc import quickrun
from feedsvc.config import read_config
from feedsvc.fingerprint import output_fingerprint
from feedsvc.idle_ticket import read_ticket, source_rows, ticket_for, ticket_path, write_ticket
from feedsvc.progress import summary
from feedsvc.publish.text import INDEX_FILE
from feedsvc.quickrun import IDLE_SUMMARY
from feedsvc.service import Service
from feedsvc.store.idle import SOURCES_DIGEST_KEY, is_idle, sources_digest, sqlite_path
from feedsvc.types import FetchIntent, PublishResult, RunResult
from tests.support.configs import feed_source, write_config
from tests.support.httpserver import LoopbackServer

NOW = datetime(2031, 6, 1, 8, 0, tzinfo=UTC)
FEED = (
    b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
    b"<item><guid>k1</guid><title>Kelp farm doubles its harvest</title>"
    b"<pubDate>Sun, 01 Jun 2031 07:00:00 +0000</pubDate></item></channel></rss>"
)
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def config(tmp_path: Path, loopback_server: LoopbackServer) -> Path:
    loopback_server.route("/kelp.xml", body=FEED)
    source = feed_source("kelp", loopback_server.url("/kelp.xml"), interval="1h")
    path = write_config(tmp_path, [source])
    Service.from_path(path, clock=lambda: NOW).run_once(workers=1)
    return path


@pytest.fixture
def fetched_now(tmp_path: Path, loopback_server: LoopbackServer) -> Path:
    """As ``config``, fetched at the real time: a command in a fresh process reads the real
    clock, and state fetched at ``NOW`` (years ahead) is what a clock stepped back leaves."""
    loopback_server.route("/kelp.xml", body=FEED)
    source = feed_source("kelp", loopback_server.url("/kelp.xml"), interval="1h")
    path = write_config(tmp_path, [source])
    Service.from_path(path).run_once(workers=1)
    return path


def at(config: Path, moment: datetime) -> Service:
    return Service.from_path(config, clock=lambda: moment)


def test_idle_until_the_source_is_due(config: Path) -> None:
    service = at(config, NOW)
    with service.open_store() as store:
        (state,) = store.source_states()
    assert state.next_fetch_after is not None
    due = state.next_fetch_after
    assert at(config, due - timedelta(seconds=1)).idle()
    assert not at(config, due).idle()  # the stored text compares like the times
    assert not at(config, due + timedelta(microseconds=1)).idle()


def test_not_idle_when_in_doubt(config: Path, tmp_path: Path) -> None:
    service = at(config, NOW)
    settings = service.config.settings
    sources = sources_digest(source_rows(service.config))
    fingerprint = output_fingerprint(service.config)
    assert is_idle(settings.database_url, sources, NOW, fingerprint)

    assert not is_idle(settings.database_url, sources, NOW, "another configuration")
    none = sources_digest(())
    assert not is_idle(settings.database_url, none, NOW, fingerprint)  # sync would remove one
    (row,) = source_rows(service.config)
    retitled = sources_digest([(row[0], "Kelp News", *row[2:])])
    assert not is_idle(settings.database_url, retitled, NOW, fingerprint)  # sync would rename
    assert not is_idle("postgresql://db.test/feedsvc", sources, NOW, fingerprint)
    assert not is_idle(f"sqlite:///{tmp_path / 'none.sqlite3'}", sources, NOW, fingerprint)
    with service.open_store() as store:  # a change waiting to be published
        (article,) = store.recent_articles(1)
        changed = dataclasses.replace(article, title="Kelp harvest triples")
        store.save_batch("kelp", [changed], FetchIntent("kelp", NOW, "ok", NOW + timedelta(1)))
    assert not is_idle(settings.database_url, sources, NOW, fingerprint)
    service.run_once()  # publishes the change
    assert service.idle()
    (settings.output_dir / "index.html").unlink()
    assert not service.idle()


def test_a_sync_of_other_sources_is_not_idle_until_the_configured_ones_are_back(
    config: Path,
) -> None:
    """The digest stored is the last sync's: a sync of other sources into the database counts."""
    service = at(config, NOW)
    assert service.idle()
    with service.open_store() as store:
        store.sync_sources([], NOW)  # what a config without the source does to the database
    assert not service.idle()
    with service.open_store() as store:
        store.sync_sources(service.config.sources, NOW)
    assert service.idle()


def stored_digest_matches_the_rows(database_url: str) -> bool:
    """Whether the digest the last sync stored is that of the live rows as they are now."""
    path = sqlite_path(database_url)
    assert path is not None
    with contextlib.closing(sqlite3.connect(path)) as connection:
        rows = connection.execute(
            "SELECT name, title, kind, location, enabled FROM sources WHERE removed_at IS NULL"
        ).fetchall()
        (stored,) = connection.execute(
            "SELECT value FROM service_state WHERE key = ?", (SOURCES_DIGEST_KEY,)
        ).fetchone()
    return bool(stored == sources_digest(rows))


def test_no_fetch_outcome_changes_what_the_sources_digest_covers(
    tmp_path: Path, loopback_server: LoopbackServer
) -> None:
    """Only a sync writes the columns the digest covers: fetches of every outcome leave them."""
    server = loopback_server
    server.route("/ok.xml", body=FEED)
    server.route("/down.xml", status=503)
    server.route("/gone.xml", status=410)
    server.route("/new.xml", body=FEED)
    server.redirect("/moved.xml", "/new.xml", status=301)
    names = ("ok", "down", "gone", "moved")
    config = write_config(
        tmp_path, [feed_source(n, server.url(f"/{n}.xml"), interval="1h") for n in names]
    )
    service = at(config, NOW)
    for hours in range(3):  # three fetches: failures counted, the gone one disabled
        at(config, NOW + timedelta(hours=hours)).run_once(force=True, workers=1)
        assert stored_digest_matches_the_rows(service.config.settings.database_url)
    with service.open_store() as store:
        states = {s.name: s for s in store.source_states()}
    assert states["gone"].disabled_at is not None and states["down"].failures == 3
    redirect = states["moved"].redirect  # followed, on trial or adopted
    assert server.url("/new.xml") in (redirect.adopted_url, redirect.pending_url)


def test_sources_digest_ignores_order_and_sees_every_field() -> None:
    rows = [("a", "A", "feed", "https://a.test/", True), ("b", "B", "file", "/b", False)]
    assert sources_digest(rows) == sources_digest(reversed(rows))
    for field in range(5):
        changed = list(rows[0])
        changed[field] = not changed[field] if field == 4 else f"{changed[field]}x"
        assert sources_digest([tuple(changed), rows[1]]) != sources_digest(rows)  # type: ignore[arg-type]


def test_sqlite_path_of_urls(tmp_path: Path) -> None:
    assert sqlite_path(f"sqlite:///{tmp_path}/a.sqlite3") == tmp_path / "a.sqlite3"
    assert sqlite_path("sqlite:///relative/b.db?timeout=5") == Path("relative/b.db")
    assert sqlite_path("sqlite://") is None
    assert sqlite_path("sqlite:///:memory:") is None
    assert sqlite_path("postgresql://x/y") is None


def test_a_run_with_nothing_due_loads_no_database_or_parser_library(fetched_now: Path) -> None:
    config = fetched_now
    script = (
        "import sys; from feedsvc.cli import main; code = main(['-q', '--config', sys.argv[1],"
        " 'run', '--timings']);"
        " heavy = [m for m in ('sqlalchemy', 'alembic', 'feedparser', 'feedgen', 'httpx',"
        " 'trafilatura', 'lxml') if m in sys.modules]; print('loaded', heavy); sys.exit(code)"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-c", script, str(config)], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert "loaded []" in done.stdout
    timings = next(line for line in done.stdout.splitlines() if line.startswith("timings:"))
    assert timings.split()[1:] and all(cell.startswith("total=") for cell in timings.split()[1:])


# --------------------------------------------------------------------------- the config's ticket


def cli_run(config: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """``feedsvc run`` in a fresh interpreter; prints which heavy modules it loaded."""
    script = (
        "import sys; from feedsvc.cli import main; code = main(['--config', sys.argv[1], 'run',"
        " *sys.argv[2:]]); heavy = [m for m in ('yaml', 'feedsvc.config', 'feedsvc.types',"
        " 'sqlalchemy', 'feedparser') if m in sys.modules]; print('loaded', heavy); sys.exit(code)"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-c", script, str(config), *extra], env=env, capture_output=True, text=True
    )


def test_an_idle_run_after_a_full_one_does_not_even_parse_the_config(fetched_now: Path) -> None:
    config = fetched_now
    first = cli_run(config)  # no ticket yet: parses the config, keeps its ticket, finds it idle
    assert first.returncode == 0, first.stderr
    assert "nothing due" in first.stdout and "'feedsvc.config'" in first.stdout
    second = cli_run(config)
    assert second.returncode == 0, second.stderr
    assert "loaded []" in second.stdout
    assert f"feedsvc: {IDLE_SUMMARY} (" in second.stdout
    assert f"feeds in {config.parent / 'output'}/" in second.stdout


def test_a_changed_config_is_read_again(config: Path, loopback_server: LoopbackServer) -> None:
    assert cli_run(config).returncode == 0  # keeps the ticket
    loopback_server.route("/reef.xml", body=FEED.replace(b"k1", b"r1"))
    sources = [
        feed_source("kelp", loopback_server.url("/kelp.xml"), interval="1h"),
        feed_source("reef", loopback_server.url("/reef.xml")),
    ]
    write_config(config.parent, sources)
    done = cli_run(config)
    assert done.returncode == 0, done.stderr
    assert "1 sources fetched: 1 ok" in done.stdout  # the new source, found by parsing again


def test_tickets_stand_only_for_the_bytes_and_environment_they_were_made_from(
    config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    loaded, text = read_config(config)
    ticket = ticket_for(loaded)
    write_ticket(config, text, ticket)
    assert read_ticket(config) == ticket
    monkeypatch.setenv("FEEDSVC_DATABASE_URL", f"sqlite:///{config.parent / 'other.db'}")
    assert read_ticket(config) is None  # the environment changes what the file means
    monkeypatch.delenv("FEEDSVC_DATABASE_URL")
    config.write_bytes(text + b"\n# a comment\n")
    assert read_ticket(config) is None  # any byte changed
    config.write_bytes(text)
    assert read_ticket(config) == ticket
    where = ticket_path(config)
    assert where is not None
    where.write_text('{"key": "truncated')
    assert read_ticket(config) is None  # unreadable: parse instead
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.delenv("HOME")
    assert ticket_path(config) is None and read_ticket(config) is None  # nowhere to keep one
    write_ticket(config, text, ticket)  # and keeping one is skipped quietly


def test_the_quick_summary_says_what_an_idle_run_says() -> None:
    idle = RunResult(NOW, NOW, (), PublishResult(), {})
    assert summary(idle) == f"{IDLE_SUMMARY} (0.0s)"
    assert quickrun.INDEX_FILE == INDEX_FILE

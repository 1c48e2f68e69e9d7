"""The idle check: a run with nothing due ends early, and only when it is sure."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from feedsvc.fingerprint import output_fingerprint
from feedsvc.service import Service
from feedsvc.store.idle import is_idle, sqlite_path
from feedsvc.types import FetchIntent
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
    sources = service.config.sources
    fingerprint = output_fingerprint(service.config)
    assert is_idle(settings.database_url, sources, NOW, fingerprint)

    assert not is_idle(settings.database_url, sources, NOW, "another configuration")
    assert not is_idle(settings.database_url, (), NOW, fingerprint)  # sync would remove one
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


def test_sqlite_path_of_urls(tmp_path: Path) -> None:
    assert sqlite_path(f"sqlite:///{tmp_path}/a.sqlite3") == tmp_path / "a.sqlite3"
    assert sqlite_path("sqlite:///relative/b.db?timeout=5") == Path("relative/b.db")
    assert sqlite_path("sqlite://") is None
    assert sqlite_path("sqlite:///:memory:") is None
    assert sqlite_path("postgresql://x/y") is None


def test_a_run_with_nothing_due_loads_no_database_or_parser_library(config: Path) -> None:
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

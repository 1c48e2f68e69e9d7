"""The system clock stepped back: state written while it ran ahead must not park the sources.

A host whose clock ran a year ahead (a bad RTC after a resume, a typo in
``date -s``) and was then corrected keeps fetch times "in the future" in the
database. Real commands (``feedsvc run``, ``feedsvc worker --once``) on a real
database, with a real loopback server counting requests.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from feedsvc.cli import EXIT_OK, main
from feedsvc.service import Service
from feedsvc.store import Store
from feedsvc.store.schema import sources
from tests.support.configs import feed_source, write_config
from tests.support.httpserver import LoopbackServer
from tests.test_worker import rss

pytestmark = pytest.mark.slow

AHEAD = timedelta(days=365)


def gets(server: LoopbackServer) -> int:
    return Counter(r.path for r in server.requests if r.method == "GET")["/a.xml"]


def fetched_while_the_clock_ran_ahead(
    store_url: str, tmp_path: Path, server: LoopbackServer
) -> Path:
    server.route("/a.xml", body=rss("a", 2))
    source = feed_source("a", server.url("/a.xml"), interval="30m")
    config = write_config(tmp_path, [source], database_url=store_url)
    ahead = datetime.now(UTC) + AHEAD
    Service.from_path(config, clock=lambda: ahead).run_once(workers=1)
    assert gets(server) == 1
    return config


def test_a_run_after_the_clock_stepped_back_fetches_what_was_fetched_in_its_future(
    store_url: str, tmp_path: Path, loopback_server: LoopbackServer
) -> None:
    config = fetched_while_the_clock_ran_ahead(store_url, tmp_path, loopback_server)
    assert main(["-q", "--config", str(config), "run"]) == EXIT_OK
    assert gets(loopback_server) == 2  # not parked for a year
    with Store.open(store_url) as store:
        (state,) = store.source_states()
    assert state.next_fetch_after is not None
    assert state.next_fetch_after < datetime.now(UTC) + timedelta(hours=1)  # back on schedule
    assert main(["-q", "--config", str(config), "run"]) == EXIT_OK
    assert gets(loopback_server) == 2  # and not fetched on every run after


def test_a_worker_after_the_clock_stepped_back_takes_those_sources(
    store_url: str, tmp_path: Path, loopback_server: LoopbackServer
) -> None:
    config = fetched_while_the_clock_ran_ahead(store_url, tmp_path, loopback_server)
    command = ["-q", "--config", str(config), "worker", "--once", "--workers", "1"]
    assert main(command) == EXIT_OK
    assert gets(loopback_server) == 2


def test_a_small_step_back_does_not_fetch_early(
    store_url: str, tmp_path: Path, loopback_server: LoopbackServer
) -> None:
    """A clock stepped back by an hour, or another host's an hour ahead, refetches nothing."""
    loopback_server.route("/a.xml", body=rss("a", 2))
    source = feed_source("a", loopback_server.url("/a.xml"), interval="30m")
    config = write_config(tmp_path, [source], database_url=store_url)
    assert main(["-q", "--config", str(config), "run"]) == EXIT_OK
    with Store.open(store_url) as store:
        (state,) = store.source_states()
        assert state.last_fetch is not None
        with store.engine.begin() as connection:  # as if the clock then went back an hour
            connection.execute(
                sa.update(sources).values(last_fetch=state.last_fetch + timedelta(hours=1))
            )
    assert main(["-q", "--config", str(config), "run"]) == EXIT_OK
    assert gets(loopback_server) == 1

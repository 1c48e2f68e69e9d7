"""Is there anything for a run to do? A cheap, read-only look at a SQLite database.

A cron line runs ``feedsvc run`` every few minutes and most runs find nothing
due. Answering that through the ``Store`` costs importing SQLAlchemy and
Alembic; this module answers it with the standard library's ``sqlite3``, and
says "idle" only when it is sure: the schema is at ``HEAD_REVISION``, the
stored sources are exactly the configured ones (so syncing would change
nothing: each sync stores the digest of the sources it made live,
``sources_digest``, and it must be the configured sources'), none of them is
due, no publish mark is waiting (new articles always come with one, so none
waits for a story either), and the last publish used the same output
fingerprint. Any doubt (another database engine, a missing file or table, a
row it cannot read) answers "not idle", and the full run decides.
It never writes. Timestamps are compared as the text SQLAlchemy stores in
SQLite (``YYYY-MM-DD HH:MM:SS.ffffff``, UTC), which a test checks.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import unquote

# A configured source as stored: name, title, kind, location (URL or path), enabled.
SourceRow = tuple[str, str, str, str, bool]

log = logging.getLogger("feedsvc.store.idle")

# The schema revision this feedsvc migrates to (a test checks it is Alembic's head).
HEAD_REVISION = "r0009"
STORED_TIME = "%Y-%m-%d %H:%M:%S.%f"
# A source last fetched more than this after "now" was fetched while the clock ran
# ahead; it is due at once rather than parked until the clock catches up. Large, so
# that hosts whose clocks differ by minutes or hours (workers) never refetch each
# other's fetches; a smaller step back delays a source by at most the step.
CLOCK_STEP_SLACK = timedelta(days=1)
# The service_state key of the digest of the live sources, written by each sync.
SOURCES_DIGEST_KEY = "sources_digest"


def sources_digest(rows: Iterable[SourceRow]) -> str:
    """A digest of a set of sources as stored (the order does not count)."""
    canonical = sorted(
        [name, title, kind, location, bool(on)] for name, title, kind, location, on in rows
    )
    text = json.dumps(canonical, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def sqlite_path(database_url: str) -> Path | None:
    """The file of a ``sqlite:///`` URL, or None for any other database or an in-memory one."""
    prefix = "sqlite:///"
    if not database_url.startswith(prefix):
        return None
    name = unquote(database_url[len(prefix) :].partition("?")[0])
    if not name or name == ":memory:" or name.startswith("file:"):
        return None
    return Path(name)


def is_idle(database_url: str, sources: str, now: datetime, fingerprint: str) -> bool:
    """True only when a run at ``now`` would fetch, group and publish nothing.

    ``sources`` is the ``sources_digest`` of the configured sources.
    """
    path = sqlite_path(database_url)
    if path is None or not path.is_file():
        return False
    try:
        connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=1)
    except sqlite3.Error:
        return False
    try:
        return _idle(connection, sources, now, fingerprint)
    except sqlite3.Error as exc:
        log.debug("idle check gave up: %s", exc)
        return False
    finally:
        connection.close()


def _idle(
    connection: sqlite3.Connection,
    sources: str,
    now: datetime,
    fingerprint: str,
) -> bool:
    revision = connection.execute("SELECT version_num FROM alembic_version").fetchall()
    if revision != [(HEAD_REVISION,)] or _state(connection, SOURCES_DIGEST_KEY) != sources:
        return False
    due = connection.execute(
        "SELECT 1 FROM sources WHERE removed_at IS NULL AND enabled = 1 AND disabled_at IS NULL"
        " AND (next_fetch_after IS NULL OR next_fetch_after <= ? OR last_fetch > ?) LIMIT 1",
        (
            now.astimezone(UTC).strftime(STORED_TIME),
            (now + CLOCK_STEP_SLACK).astimezone(UTC).strftime(STORED_TIME),
        ),
    ).fetchone()
    if due is not None or connection.execute("SELECT 1 FROM publish_marks LIMIT 1").fetchone():
        return False
    return _state(connection, "output_fingerprint") == fingerprint


def _state(connection: sqlite3.Connection, key: str) -> str | None:
    row = connection.execute("SELECT value FROM service_state WHERE key = ?", (key,)).fetchone()
    return None if row is None else str(row[0])

"""Engine creation and transactions: the one place that knows about database dialects.

For SQLite this module turns on WAL, foreign keys and a busy timeout on every
connection, creates the parent directory of the database file, and takes over
BEGIN from the sqlite3 driver so that transactions (DDL included) are real and
writes start with ``BEGIN IMMEDIATE``. Other engines (PostgreSQL) get a plain
engine with pre-ping. It also spells the dialect-specific locks (PostgreSQL advisory locks). This
module runs no application SQL and translates no exceptions: the ``Store``
does that.
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event, pool
from sqlalchemy.engine import URL, Connection, Engine

log = logging.getLogger("feedsvc.store.engine")

WRITE_OPTION = "feedsvc_write"
BUSY_TIMEOUT_MS = 10_000


def make_engine(url: str) -> Engine:
    """Create the engine for ``url``, prepared for feedsvc's use of it."""
    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "postgresql":
        if parsed.drivername == "postgresql":  # psycopg 3, not SQLAlchemy's psycopg2 default
            parsed = parsed.set(drivername="postgresql+psycopg")
        return sa.create_engine(parsed, pool_pre_ping=True)
    if parsed.get_backend_name() != "sqlite":
        return sa.create_engine(parsed, pool_pre_ping=True)
    return _sqlite_engine(parsed)


def is_memory(url: URL) -> bool:
    """Whether a SQLite URL names an in-memory database."""
    database = url.database or ""
    return database in ("", ":memory:") or "mode=memory" in database


def _sqlite_engine(url: URL) -> Engine:
    kwargs: dict[str, Any] = {"connect_args": {"check_same_thread": False}}
    if is_memory(url):
        # One shared connection, or every thread would see its own empty database.
        kwargs["poolclass"] = pool.StaticPool
    else:
        _make_parent(url)
    engine = sa.create_engine(url, **kwargs)
    event.listen(engine, "connect", _on_sqlite_connect)
    event.listen(engine, "begin", _on_sqlite_begin)
    return engine


def _make_parent(url: URL) -> None:
    database = url.database or ""
    if database.startswith("file:"):
        return
    Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)


def _on_sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # Stop the driver from emitting BEGIN itself (it skips SELECT and DDL); see _on_sqlite_begin.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        # In WAL mode NORMAL keeps the database consistent after a crash; only
        # the last commits may be lost on power failure, never half of one.
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()


def _on_sqlite_begin(connection: Connection) -> None:
    immediate = connection.get_execution_options().get(WRITE_OPTION, False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


@contextmanager
def writing(engine: Engine) -> Iterator[Connection]:
    """A connection in a write transaction, committed on success, rolled back on error."""
    with engine.connect() as connection:
        connection.execution_options(**{WRITE_OPTION: True})
        with connection.begin():
            yield connection


@contextmanager
def reading(engine: Engine) -> Iterator[Connection]:
    """A connection in a read transaction: one consistent snapshot for several queries."""
    with engine.connect() as connection, connection.begin():
        yield connection


def lock_key(name: str) -> int:
    """The PostgreSQL advisory lock key (a signed 64-bit number) of a feedsvc lock name."""
    return 0xFEED << 32 | zlib.crc32(name.encode())


def is_postgres(connection: Connection) -> bool:
    """Whether ``connection`` talks to PostgreSQL."""
    return connection.dialect.name == "postgresql"


def serialise(connection: Connection, name: str) -> None:
    """Make transactions that call this with the same ``name`` run one after another.

    On PostgreSQL a transaction-scoped advisory lock, held until commit or
    rollback; SQLite write transactions (``BEGIN IMMEDIATE``) already take turns.
    """
    if is_postgres(connection):
        connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": lock_key(name)})

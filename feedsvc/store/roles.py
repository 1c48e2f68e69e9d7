"""A role that one process at a time holds among all that share the database (the publisher).

On PostgreSQL the role is a session advisory lock taken on a connection kept
open for as long as the role is held: if the process dies, its connection
closes and the server frees the lock, so another process takes the role at its
next try. On SQLite (one host) it is an ``flock`` on a file beside the
database, which the kernel frees when the process dies; an in-memory database
has one process, which always holds the role. Taking it never waits.
"""

from __future__ import annotations

import fcntl
import logging
import os
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from feedsvc.store.engine import is_memory, lock_key

log = logging.getLogger("feedsvc.store.roles")


class RoleLock:
    """The role ``name``: ``try_take`` it (again and again), ``release`` it when done."""

    def __init__(self, engine: Engine, name: str) -> None:
        self._engine = engine
        self.name = name
        self._key = lock_key(name)
        self._connection: Connection | None = None
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        """Whether this process held the role at its last try."""
        return self._connection is not None or self._fd is not None

    def try_take(self) -> bool:
        """Take the role if no one else holds it; True while this process holds it."""
        if self._engine.dialect.name == "postgresql":
            return self._try_postgres()
        return self._try_file()

    def release(self) -> None:
        """Give the role up (closing the connection or file that held it)."""
        if self._connection is not None:
            connection, self._connection = self._connection, None
            try:
                connection.execute(sa.text("SELECT pg_advisory_unlock_all()"))
                connection.close()  # back to the pool, holding nothing
            except SQLAlchemyError as exc:
                log.debug("role connection dropped role=%s error=%s", self.name, exc)
                connection.invalidate()  # closed for good: the server frees what it held
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _try_postgres(self) -> bool:
        if self._connection is not None and self._still_held(self._connection):
            return True
        self.release()
        connection = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        try:
            taken = connection.execute(
                sa.text("SELECT pg_try_advisory_lock(:key)"), {"key": self._key}
            ).scalar_one()
        except BaseException:
            connection.close()
            raise
        if not taken:
            connection.close()  # it holds nothing: back to the pool
            return False
        log.debug("role taken role=%s", self.name)
        self._connection = connection
        return True

    def _still_held(self, connection: Connection) -> bool:
        """Whether the held connection still works (and so still holds the lock)."""
        try:
            connection.execute(sa.text("SELECT 1")).scalar_one()
        except SQLAlchemyError as exc:
            log.warning("role connection lost role=%s error=%s", self.name, exc)
            return False
        return True

    def _try_file(self) -> bool:
        if self._fd is not None:
            return True
        path = _lock_path(self._engine, self.name)
        if path is None:
            self._fd = os.open(os.devnull, os.O_RDONLY)  # one process: it holds the role
            return True
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        return True


def _lock_path(engine: Engine, name: str) -> Path | None:
    """The lock file of ``name`` beside a SQLite database file (None when in memory)."""
    url = engine.url
    database = url.database or ""
    if is_memory(url) or database.startswith("file:"):
        return None
    path = Path(database).expanduser()
    return path.with_name(f"{path.name}.{name}.lock")

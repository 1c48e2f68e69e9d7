"""Schema migrations: run the packaged Alembic revisions programmatically.

The revisions live in ``migrations/`` next to this module; there is no
alembic.ini. ``upgrade`` brings a database to head inside one write
transaction, and refuses a database stamped by a newer feedsvc (a revision this
code does not know). A database without any table is not migrated but
created: ``schema.py``'s tables and the head stamp, as Alembic's guide to
building a database from scratch says, so a new installation never loads
Alembic (about 11 MB that a run's process would keep to its end). Tests check
that the revisions build exactly the same schema. This module does not define
tables (``schema`` does) and does not translate exceptions (the ``Store`` does).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from feedsvc.errors import StoreError
from feedsvc.store.engine import reading, serialise, writing
from feedsvc.store.idle import HEAD_REVISION
from feedsvc.store.schema import metadata

if TYPE_CHECKING:
    from alembic.config import Config

log = logging.getLogger("feedsvc.store.migrate")

MIGRATIONS = Path(__file__).parent / "migrations"

# Alembic's own table, as Alembic creates it: one row, the revision at which the schema is.
_VERSIONS = sa.Table(
    "alembic_version",
    sa.MetaData(),
    sa.Column("version_num", sa.String(32), nullable=False),
    sa.PrimaryKeyConstraint("version_num", name="alembic_version_pkc"),
)


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic configuration for the packaged revisions, bound to ``connection``."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("file_template", "%%(rev)s_%%(slug)s")
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest revision this feedsvc knows."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise StoreError(f"no migrations found in {MIGRATIONS}")
    return head


def current_revision(connection: Connection) -> str | None:
    """The revision the database is at, or None for an empty database."""
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine) -> str:
    """Bring the database to the newest revision and return that revision.

    A database already at ``HEAD_REVISION`` is recognised with one query,
    without loading Alembic; so is a database without any table, which is
    created at head (``create_at_head``).
    """
    stamped = _stamped(engine)
    if stamped == HEAD_REVISION:
        return HEAD_REVISION
    if stamped is None and create_at_head(engine):
        return HEAD_REVISION
    return migrate(engine)


def create_at_head(engine: Engine) -> bool:
    """Create ``schema.py``'s tables, stamped at head, in a database without tables.

    Returns False, and changes nothing, when the database has any table.
    """
    with writing(engine) as connection:
        serialise(connection, "migrate")  # two new processes: one creates, one sees it done
        if sa.inspect(connection).get_table_names():
            return False
        metadata.create_all(connection)
        _VERSIONS.create(connection)
        connection.execute(_VERSIONS.insert().values(version_num=HEAD_REVISION))
    log.info("database created at revision=%s", HEAD_REVISION)
    return True


def migrate(engine: Engine) -> str:
    """Run the Alembic revisions from the database's revision to head; return head."""
    from alembic import command
    from alembic.util.exc import CommandError

    try:
        with writing(engine) as connection:
            before = current_revision(connection)
            _check_known(before)
            command.upgrade(alembic_config(connection), "head")
            after = current_revision(connection)
    except CommandError as exc:
        raise StoreError(f"migrating the database failed: {exc}") from exc
    if before != after:
        log.info("database migrated from=%s to=%s", before or "empty", after)
    return after or ""


def _stamped(engine: Engine) -> str | None:
    """The revision recorded in ``alembic_version``, or None when there is none (yet)."""
    with reading(engine) as connection:
        if not sa.inspect(connection).has_table("alembic_version"):
            return None
        rows = connection.execute(sa.text("SELECT version_num FROM alembic_version")).all()
    return str(rows[0][0]) if len(rows) == 1 else None


def _check_known(revision: str | None) -> None:
    if revision is None:
        return
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config())
    known = {rev.revision for rev in script.walk_revisions()}
    if revision not in known:
        raise StoreError(
            f"the database is at schema revision {revision!r}, which this feedsvc does not know: "
            "it was made by a newer feedsvc; upgrade feedsvc or use another database"
        )

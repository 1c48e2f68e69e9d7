"""Alembic environment of feedsvc: runs revisions on the connection ``migrate`` hands over.

Online mode only, on the connection (and inside the transaction) given in
``config.attributes["connection"]``; there is no alembic.ini and no URL here.
This module does not decide when to migrate: ``feedsvc.store.migrate`` does.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from feedsvc.store.schema import metadata


def run_migrations(connection: Connection) -> None:
    """Run the pending revisions on ``connection``."""
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _connection() -> Connection:
    connection = context.config.attributes.get("connection")
    if not isinstance(connection, Connection):
        raise RuntimeError("feedsvc migrations run through feedsvc.store.migrate, not the CLI")
    return connection


if context.is_offline_mode():
    raise RuntimeError("feedsvc migrations do not support offline (--sql) mode")
run_migrations(_connection())

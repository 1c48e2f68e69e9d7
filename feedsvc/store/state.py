"""SQL for the service's own facts: small values by key, kept with the data they describe.

The last publish's output fingerprint, the token of the story engine's
snapshot: each written in the transaction whose result it describes. Every
function takes a connection inside the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Mapping

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from feedsvc.store.schema import service_state


def get(connection: Connection, key: str) -> str | None:
    """The value stored under ``key``, if any."""
    stmt = sa.select(service_state.c.value).where(service_state.c.key == key)
    return connection.execute(stmt).scalar_one_or_none()


def put(connection: Connection, values: Mapping[str, str]) -> None:
    """Store each value under its key, replacing what was there."""
    for key, value in values.items():
        connection.execute(sa.delete(service_state).where(service_state.c.key == key))
        connection.execute(sa.insert(service_state).values(key=key, value=value))

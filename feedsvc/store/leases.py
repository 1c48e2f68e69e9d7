"""SQL for sharing the work between worker processes: source leases and the workers table.

A worker *claims* due sources: in one short transaction it picks the most
overdue ones that no one holds (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so
two workers claiming at once take different rows instead of waiting for each
other; SQLite's ``BEGIN IMMEDIATE`` makes claims take turns) and writes its id
and an expiry on them. The lease, not the row lock, is what keeps the source
its own while it fetches: recording the fetch clears it (``sources``), and if
the worker dies the lease lapses and the source is due for anyone again.

Every function takes a connection inside the caller's transaction. Nothing
here decides how many sources to claim or for how long: ``feedsvc.worker`` does.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from feedsvc.store.schema import sources, workers
from feedsvc.store.sources import due_clause, state_select, to_state
from feedsvc.types import FetchIntent, LeaseLost, SourceState, WorkerState, WorkLoad

# How long after its last report a worker that did not say goodbye is shown as gone.
STALE_AFTER = timedelta(minutes=5)
# Stopped workers stay listed this long, then their rows are deleted.
KEEP_STOPPED = timedelta(days=1)


def _free(now: datetime) -> sa.ColumnElement[bool]:
    return sa.or_(sources.c.lease_until.is_(None), sources.c.lease_until <= now)


def claim(
    connection: Connection,
    owner: str,
    now: datetime,
    *,
    until: datetime,
    limit: int,
    due_by: datetime | None = None,
) -> list[SourceState]:
    """Lease up to ``limit`` sources due by ``due_by`` (default ``now``) that no one holds."""
    pick = (
        sa.select(sources.c.name)
        .where(due_clause(due_by or now), _free(now))
        .order_by(sources.c.next_fetch_after.asc().nulls_first(), sources.c.name)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    names = list(connection.execute(pick).scalars())
    if not names:
        return []
    connection.execute(
        sa.update(sources)
        .where(sources.c.name.in_(names))
        .values(lease_owner=owner, lease_until=until)
    )
    rows = connection.execute(state_select(counts=False).where(sources.c.name.in_(names)))
    order = {name: n for n, name in enumerate(names)}
    return sorted((to_state(row) for row in rows), key=lambda state: order[state.name])


def lost(connection: Connection, intents: Sequence[FetchIntent]) -> dict[str, LeaseLost]:
    """The fetches made under a lease their worker no longer holds, by source.

    A worker's lease can lapse while it works (it stalled past the expiry)
    and another worker claim the source and record a fetch of its own; the
    stale fetch must not then overwrite that one. The rows are locked until
    the caller's transaction ends (PostgreSQL; SQLite's write transactions
    take turns), so no claim slips in between this check and the recording.
    Fetches made under no lease (``lease_owner`` None) are never lost.
    """
    owners = {i.source: i.lease_owner for i in intents if i.lease_owner is not None}
    if not owners:
        return {}
    rows = connection.execute(
        sa.select(sources.c.name, sources.c.lease_owner)
        .where(sources.c.name.in_(sorted(owners)))
        .order_by(sources.c.name)  # rows locked in one order by everyone: no deadlock
        .with_for_update(key_share=True)
    )
    holders: dict[str, str | None] = {row.name: row.lease_owner for row in rows}
    return {
        name: LeaseLost(name, owner, holders.get(name))
        for name, owner in owners.items()
        if holders.get(name) != owner
    }


def release(connection: Connection, owner: str, names: Sequence[str] | None = None) -> int:
    """Give back the leases ``owner`` holds (only on ``names``, if given); how many."""
    stmt = sa.update(sources).where(sources.c.lease_owner == owner)
    if names is not None:
        stmt = stmt.where(sources.c.name.in_(list(names)))
    result = connection.execute(stmt.values(lease_owner=None, lease_until=None))
    return int(result.rowcount)


def extend(connection: Connection, owner: str, until: datetime) -> int:
    """Push back the expiry of every lease ``owner`` still holds; how many."""
    stmt = sa.update(sources).where(sources.c.lease_owner == owner).values(lease_until=until)
    return int(connection.execute(stmt).rowcount)


def register(connection: Connection, worker: str, host: str, pid: int, now: datetime) -> None:
    """Add a worker's row (and forget workers stopped long ago)."""
    connection.execute(sa.delete(workers).where(workers.c.stopped_at < now - KEEP_STOPPED))
    connection.execute(sa.delete(workers).where(workers.c.id == worker))
    connection.execute(
        sa.insert(workers).values(id=worker, host=host, pid=pid, started_at=now, seen_at=now)
    )


def report(
    connection: Connection,
    worker: str,
    now: datetime,
    *,
    fetches: int = 0,
    articles: int = 0,
    publisher: bool | None = None,
    stopped: bool = False,
) -> None:
    """Record that ``worker`` is alive at ``now`` and add what it did since its last report.

    The publisher role is one process's at a time: a worker reporting that it
    took it also clears the claim of any other row (one killed while holding
    it never said it let go), so ``status`` names one publisher.
    """
    values: dict[str, Any] = {
        "seen_at": now,
        "fetches": workers.c.fetches + fetches,
        "articles": workers.c.articles + articles,
    }
    if publisher is not None:
        values["publisher"] = publisher
    if stopped:
        values["stopped_at"] = now
        values["publisher"] = False
    if publisher:
        others = sa.and_(workers.c.id != worker, workers.c.publisher.is_(True))
        connection.execute(sa.update(workers).where(others).values(publisher=False))
    connection.execute(sa.update(workers).where(workers.c.id == worker).values(values))


def worker_states(connection: Connection, now: datetime) -> list[WorkerState]:
    """Every listed worker with the leases it holds now, newest first."""
    held = (
        sa.select(sources.c.lease_owner, sources.c.name)
        .where(sources.c.lease_owner.is_not(None), sources.c.lease_until > now)
        .order_by(sources.c.lease_owner, sources.c.name)
    )
    leases: dict[str, list[str]] = {}
    for owner, name in connection.execute(held):
        leases.setdefault(owner, []).append(name)
    rows = connection.execute(sa.select(workers).order_by(workers.c.started_at.desc()))
    return [
        WorkerState(
            id=row.id,
            host=row.host,
            pid=row.pid,
            started_at=row.started_at,
            seen_at=row.seen_at,
            stopped_at=row.stopped_at,
            alive=row.stopped_at is None and now - row.seen_at < STALE_AFTER,
            publisher=row.publisher,
            fetches=row.fetches,
            articles=row.articles,
            leases=tuple(leases.get(row.id, ())),
        )
        for row in rows
    ]


def workload(connection: Connection, now: datetime, window: timedelta) -> WorkLoad:
    """How much is due, how late the most overdue source is, and fetches in the last ``window``."""
    due = due_clause(now)
    oldest = connection.execute(
        sa.select(sa.func.count(), sa.func.min(sources.c.next_fetch_after)).where(due)
    ).one()
    leased = connection.execute(
        sa.select(sa.func.count()).where(due, sources.c.lease_until > now)
    ).scalar_one()
    never = connection.execute(
        sa.select(sa.func.count()).where(due, sources.c.next_fetch_after.is_(None))
    ).scalar_one()
    recent = connection.execute(
        sa.select(sa.func.count()).where(sources.c.last_fetch > now - window)
    ).scalar_one()
    lag = now - oldest[1] if oldest[1] is not None and oldest[1] < now else timedelta(0)
    return WorkLoad(
        due=int(oldest[0]),
        leased=int(leased),
        never_fetched=int(never),
        lag=lag,
        fetched_recently=int(recent),
        window=window,
    )

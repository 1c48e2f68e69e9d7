"""The worker half of ``Store``: transactions around the SQL in ``store.leases``.

A mixin, like ``StoryQueries``: claims and leases of due sources, the workers
table, the status figures, and the publisher role. It decides nothing about
how much to claim or when: ``feedsvc.worker`` does.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from datetime import datetime, timedelta

from sqlalchemy.engine import Engine

from feedsvc.store import leases as lease_sql
from feedsvc.store.engine import reading, writing
from feedsvc.store.roles import RoleLock
from feedsvc.types import SourceState, WorkerState, WorkLoad

Translator = Callable[[str], AbstractContextManager[None]]
PUBLISHER_ROLE = "publisher"


class WorkerQueries:
    """Leases, workers and roles; mixed into ``Store``."""

    _translate: Translator

    @property
    def engine(self) -> Engine:
        """The open engine; ``Store`` provides it."""
        raise NotImplementedError

    def claim_sources(
        self,
        owner: str,
        now: datetime,
        *,
        lease: timedelta,
        limit: int,
        due_by: datetime | None = None,
    ) -> list[SourceState]:
        """Lease up to ``limit`` due sources no one holds to ``owner`` for ``lease``."""
        with self._translate(f"claiming sources worker={owner}"), writing(self.engine) as c:
            return lease_sql.claim(c, owner, now, until=now + lease, limit=limit, due_by=due_by)

    def release_leases(self, owner: str, names: Sequence[str] | None = None) -> int:
        """Give back ``owner``'s leases (only on ``names``, if given)."""
        with self._translate(f"releasing leases worker={owner}"), writing(self.engine) as c:
            return lease_sql.release(c, owner, names)

    def extend_leases(self, owner: str, until: datetime) -> int:
        """Push the expiry of ``owner``'s leases back to ``until``."""
        with self._translate(f"extending leases worker={owner}"), writing(self.engine) as c:
            return lease_sql.extend(c, owner, until)

    def register_worker(self, worker: str, host: str, pid: int, now: datetime) -> None:
        """List a starting worker."""
        with self._translate(f"registering worker={worker}"), writing(self.engine) as c:
            lease_sql.register(c, worker, host, pid, now)

    def report_worker(
        self,
        worker: str,
        now: datetime,
        *,
        fetches: int = 0,
        articles: int = 0,
        publisher: bool | None = None,
        stopped: bool = False,
    ) -> None:
        """Record that ``worker`` is alive (or ``stopped``) and what it did since last time."""
        with self._translate(f"reporting worker={worker}"), writing(self.engine) as c:
            lease_sql.report(
                c, worker, now,
                fetches=fetches, articles=articles, publisher=publisher, stopped=stopped,
            )  # fmt: skip

    def worker_states(self, now: datetime) -> list[WorkerState]:
        """Every listed worker and the leases it holds at ``now``."""
        with self._translate("reading workers"), reading(self.engine) as c:
            return lease_sql.worker_states(c, now)

    def workload(self, now: datetime, window: timedelta) -> WorkLoad:
        """What is due at ``now``, how late, and how many fetches the last ``window`` saw."""
        with self._translate("reading the workload"), reading(self.engine) as c:
            return lease_sql.workload(c, now, window)

    def publisher_role(self) -> RoleLock:
        """The publisher role: one process at a time groups stories and writes the feeds."""
        return RoleLock(self.engine, PUBLISHER_ROLE)

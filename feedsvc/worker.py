"""``feedsvc worker``: one of many processes, on any host, sharing the work through the database.

A worker claims a batch of due sources (``Store.claim_sources``: row locks that
skip what another worker is claiming, and a lease that lapses if this worker
dies), fetches and ingests them with the ordinary cycle (``pipeline.Cycle``),
whose recording of each fetch ends its lease, then claims the next batch. While
the batch is in hand a thread extends its leases every third of a lease (a
heartbeat), so only a dead or stalled worker's leases lapse. There is no
coordinator: the database is the queue.

Story grouping and publishing stay serialised: they run only in the worker
that holds the *publisher role* (a PostgreSQL advisory lock held on an open
connection, an ``flock`` on SQLite). The role is sticky, so the story engine's
snapshot stays warm on that host; when its holder dies, the server frees the
lock and the next worker to try takes it over. Every article is grouped by
that one process, in order, so two reports of one event ingested at the same
moment by two workers meet in one story round.

With ``once``, the worker takes the sources due when it started until none is
left anywhere (waiting for other workers' leases to end or lapse), publishes
if it holds the role, and exits. Otherwise it runs until ``stop`` is set,
polling for due work; when ``reload`` is set (SIGHUP) it re-reads its config
file before the next claim, keeping the old config when the new one is
invalid. This module orchestrates; it decides no schedule.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Executor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from feedsvc.config import reloaded_config
from feedsvc.errors import StoreError
from feedsvc.pipeline import Cycle
from feedsvc.store.leases import STALE_AFTER
from feedsvc.timing import StageTimes
from feedsvc.types import PublishResult, SourceResult, SourceState
from feedsvc.waiting import wait_for
from feedsvc.workers import worker_pool

if TYPE_CHECKING:
    from feedsvc.service import Service
    from feedsvc.store import Store
    from feedsvc.store.roles import RoleLock

log = logging.getLogger("feedsvc.worker")

Clock = Callable[[], datetime]
ONCE_WAIT_SECONDS = 0.5  # how often a --once worker looks again while others hold leases


@dataclass(frozen=True, slots=True)
class WorkerOptions:
    """How a worker takes its work."""

    once: bool = False
    batch: int = 25
    lease: timedelta = timedelta(minutes=10)
    poll: timedelta = timedelta(seconds=10)
    publish: bool = True
    publish_every: timedelta = timedelta(seconds=60)
    extract_workers: int | None = None


@dataclass(frozen=True, slots=True)
class ConfigReload:
    """Where a worker re-reads its config from, and the event (set by SIGHUP) that asks it to."""

    path: Path
    requested: threading.Event


@dataclass(frozen=True, slots=True)
class WorkerResult:
    """What one worker did before it stopped."""

    worker: str
    sources: tuple[SourceResult, ...] = ()
    publishes: int = 0
    published: tuple[PublishResult, ...] = field(default=(), repr=False)

    @property
    def failed(self) -> tuple[SourceResult, ...]:
        """The sources whose fetch or ingest failed."""
        return tuple(s for s in self.sources if s.status == "error")


def new_worker_id() -> str:
    """A worker id unique across hosts and restarts: ``host:pid:random``."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


class Worker:
    """One worker process's loop; ``run`` it until it returns."""

    def __init__(
        self,
        service: Service,
        options: WorkerOptions,
        stop: threading.Event,
        *,
        clock: Clock,
        worker_id: str | None = None,
        reload: ConfigReload | None = None,
    ) -> None:
        self._service = service
        self._reload = reload
        self._options = options
        self._stop = stop
        self._clock = clock
        self.id = worker_id or new_worker_id()
        self._results: list[SourceResult] = []
        self._published: list[PublishResult] = []
        self._last_publish: datetime | None = None

    def run(self) -> WorkerResult:
        """Claim, fetch and ingest (and publish, holding the role) until done or stopped."""
        config = self._service.config
        with (
            self._service.open_store() as store,
            worker_pool(self._options.extract_workers) as pool,
        ):
            role = store.publisher_role()
            store.sync_sources(config.sources, self._clock())
            store.register_worker(self.id, socket.gethostname(), os.getpid(), self._clock())
            log.info("worker started worker=%s once=%s", self.id, self._options.once)
            try:
                self._loop(store, pool, role)
            except BaseException:
                self._wind_down(store, role, failing=True)
                raise
            self._wind_down(store, role, failing=False)
        return WorkerResult(
            self.id, tuple(self._results), len(self._published), tuple(self._published)
        )

    def _wind_down(self, store: Store, role: RoleLock, *, failing: bool) -> None:
        """Give back the leases and the role, and mark this worker stopped.

        When the loop is ``failing`` (most often: the database went away), a
        failure here is logged and the loop's own error goes on up, so the
        operator is told what failed first, not that the cleanup failed too.
        """
        released = 0
        try:
            released = store.release_leases(self.id)
            store.report_worker(self.id, self._clock(), stopped=True)
        except StoreError as exc:
            if not failing:
                raise
            log.warning("worker=%s not marked stopped: %s", self.id, exc)
        finally:
            role.release()
        log.info("worker stopped worker=%s released=%d", self.id, released)

    def _loop(self, store: Store, pool: Executor, role: RoleLock) -> None:
        started = self._clock()
        due_by = started if self._options.once else None
        while not self._stop.is_set():
            self._reload_config(store)
            now = self._clock()
            claimed = store.claim_sources(
                self.id, now, lease=self._options.lease, limit=self._options.batch, due_by=due_by
            )
            if claimed:
                self._ingest(store, pool, claimed, now)
                self._publish(store, pool, role, now, eager=False)
                continue
            left = store.workload(started, self._options.poll).due if self._options.once else 1
            self._publish(store, pool, role, now, eager=True)
            if left == 0:
                return
            wait = ONCE_WAIT_SECONDS if self._options.once else self._options.poll.total_seconds()
            store.report_worker(self.id, self._clock(), publisher=role.held)
            wait_for(self._stop, wait)  # in slices: a signal may land on another thread

    def _reload_config(self, store: Store) -> None:
        """Re-read the config file if asked (SIGHUP); keep the old one, saying why, if invalid."""
        if self._reload is None or not self._reload.requested.is_set():
            return
        self._reload.requested.clear()
        old = self._service.config
        new = reloaded_config(self._reload.path)
        if new is None:
            return
        if new.settings.database_url != old.settings.database_url:
            log.error("reload failed; keeping the old config: the database changed (restart)")
            return
        self._service = type(self._service)(new, clock=self._clock)
        store.sync_sources(new.sources, self._clock())
        log.info("worker=%s config reloaded sources=%d", self.id, len(new.sources))

    def _ingest(
        self, store: Store, pool: Executor, claimed: list[SourceState], now: datetime
    ) -> None:
        configured = {s.name: s for s in self._service.config.sources}
        strangers = [s.name for s in claimed if s.name not in configured]
        if strangers:  # configured on another host only: leave them to a worker that knows them
            log.warning("worker=%s not configured here sources=%s", self.id, ",".join(strangers))
            store.release_leases(self.id, strangers)
        sources = [configured[s.name] for s in claimed if s.name in configured]
        states = {s.name: s for s in claimed}
        cycle = Cycle(
            self._service.config, store, now, cpu=pool, stop=self._stop, times=StageTimes(),
            lease_owner=self.id,
        )  # fmt: skip
        with self._keeping_leases(store):
            results = asyncio.run(cycle.run(sources, states)) if sources else ()
        self._results.extend(results)
        articles = sum(r.new + r.updated for r in results)
        store.report_worker(self.id, self._clock(), fetches=len(results), articles=articles)
        log.info("worker=%s batch fetched=%d articles=%d", self.id, len(results), articles)

    @contextmanager
    def _keeping_leases(self, store: Store) -> Iterator[None]:
        """Extend this worker's leases every third of a lease while the block runs.

        A heartbeat: a batch may take longer than a lease (slow servers, a
        large body) and keeps its sources while this process lives, so
        ``--lease`` bounds how long a dead worker's sources wait, not how long
        a batch may take. A stalled process stops beating with the rest of it;
        what it records after its leases passed on is dropped (``LeaseLost``).
        Each beat also reports the worker alive, often enough that ``status``
        never calls a worker busy with a long batch silent.
        """
        lease = self._options.lease
        every = min(lease, STALE_AFTER).total_seconds() / 3
        done = threading.Event()

        def beat() -> None:
            while not done.wait(every):
                try:
                    store.extend_leases(self.id, self._clock() + lease)
                    store.report_worker(self.id, self._clock())  # alive, for ``status``
                except StoreError as exc:  # the next beat tries again; the lease may lapse
                    log.warning("worker=%s leases not extended: %s", self.id, exc)

        keeper = threading.Thread(target=beat, name="feedsvc-lease-keeper", daemon=True)
        keeper.start()
        try:
            yield
        finally:
            done.set()
            keeper.join()

    def _publish(
        self, store: Store, pool: Executor, role: RoleLock, now: datetime, *, eager: bool
    ) -> None:
        """Group and publish if this worker holds (or can take) the publisher role.

        While ingesting, at most once per ``publish_every``; when idle (``eager``), always.
        """
        if not self._options.publish or self._stop.is_set():
            return
        recent = (
            self._last_publish is not None
            and now - self._last_publish < self._options.publish_every
        )
        if recent and not eager:
            return
        was_held = role.held
        if not role.try_take():
            return
        if not was_held:
            log.info("worker=%s took the publisher role", self.id)
            store.report_worker(self.id, self._clock(), publisher=True)
        self._last_publish = now
        published = self._service.publish_pending(store, pool, role)
        if published.written:
            self._published.append(published)

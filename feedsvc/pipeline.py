"""One ingest cycle: due sources → fetch → extract and normalise → store.

Orchestration only. Fetching is concurrent (asyncio, in ``fetch``); extraction
and normalisation (``processing``) are CPU-bound and run in a pool of worker processes (the
fetcher reads a body only while few wait for them, ``BODIES_PER_CONNECTION``,
so a fast network does not fill memory with bodies); all
writes go through one writer thread (``writer.GroupWriter``), which saves the
sources waiting for it together, one transaction per group. A source that
fails becomes a ``SourceResult`` with an error and a record in the store; it
never stops the other sources. Publishing is not done here (see ``service``).

Politeness lives here as orchestration of the pure rules in ``schedule``: the
next fetch time comes from the server's hints and the failure count, a
permanent redirect is adopted once stable, 410 Gone disables the source, and a
body identical to the last one is recorded as not modified without extraction.
A cycle can be stopped (``stop`` event): no source starts after it, fetches in
flight are cancelled, a write already under way finishes, then the cycle returns.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
import threading
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from concurrent.futures import Executor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, replace
from datetime import datetime
from functools import partial
from http import HTTPStatus
from typing import TYPE_CHECKING

from feedsvc.config_types import Config, SourceConfig
from feedsvc.errors import StoreError
from feedsvc.processing import process_fetched
from feedsvc.schedule import follow_redirects, hints_from_headers, plan_next_fetch
from feedsvc.timing import StageTimes
from feedsvc.types import (
    Article,
    EntryMemo,
    Fetched,
    FetchFailed,
    FetchIntent,
    FetchOutcome,
    FetchRequest,
    FetchStatus,
    LeaseLost,
    NotModified,
    RedirectState,
    RunResult,
    SourceResult,
    SourceState,
    UpsertResult,
)
from feedsvc.workers import worker_pool
from feedsvc.writer import GroupWriter

if TYPE_CHECKING:
    from feedsvc.store import Store

log = logging.getLogger("feedsvc.pipeline")

# Bodies read and waiting for extraction, at most, per fetch connection: fetching
# on loopback outruns extraction, and without a bound every body of a
# 10,000-feed run waited in memory for the pool (hundreds of MB).
BODIES_PER_CONNECTION = 4

ProgressCallback = Callable[[SourceResult, int, int], None]
RETRY_AFTER_STATUSES = frozenset({HTTPStatus.TOO_MANY_REQUESTS, HTTPStatus.SERVICE_UNAVAILABLE})
STOP_POLL_SECONDS = 0.1


def fetch_request(source: SourceConfig, state: SourceState | None) -> FetchRequest:
    """The request for one source (at its adopted URL), conditional on the stored validators."""
    adopted = state.redirect.adopted_url if state else None
    return FetchRequest(
        source=source.name,
        url=adopted if adopted and source.url else source.url,
        path=source.path,
        etag=state.etag if state else None,
        last_modified=state.last_modified if state else None,
    )


def select_sources(
    config: Config, store: Store, now: datetime, *, force: bool = False
) -> list[SourceConfig]:
    """The enabled sources to fetch in this cycle: the due ones, or all with ``force``.

    A source a ``feedsvc worker`` holds (its lease not lapsed) is left to it,
    even with ``force``: it is being fetched, and this cycle's answer would
    only race the worker's.
    """
    enabled = [s for s in config.sources if s.enabled]
    if force:
        states = store.source_states(counts=False)
        left = {state.name for state in states if state.disabled_at is not None}
    else:
        states = store.due_sources(now)
        due = {state.name for state in states}
        left = {s.name for s in enabled if s.name not in due}
    held = sorted(state.name for state in states if state.leased_at(now))
    if held:
        log.info("%d sources left to the workers holding them: %s", len(held), ",".join(held[:10]))
    left.update(held)
    return [s for s in enabled if s.name not in left]


def body_hash(fetched: Fetched) -> str:
    """A hash of every document's URL and bytes: equal hashes mean an identical answer."""
    digest = hashlib.sha256()
    for document in fetched.documents:
        digest.update(f"{len(document.url)}:{document.url}{len(document.body)}:".encode())
        digest.update(document.body)
    return digest.hexdigest()


@dataclass(frozen=True, slots=True)
class _Decision:
    """What to record for one source, and the articles to save with it (None: no batch)."""

    result: SourceResult
    intent: FetchIntent
    articles: tuple[Article, ...] | None = None


@dataclass(frozen=True, slots=True)
class _Job:
    """One source in a cycle: its config, its stored state, and the outcome of its fetch."""

    source: SourceConfig
    state: SourceState | None
    outcome: FetchOutcome

    @property
    def failures(self) -> int:
        """Consecutive failures before this fetch."""
        return self.state.failures if self.state else 0


class Cycle:
    """One ingest cycle over a set of sources; build it, then ``await cycle.run()``."""

    def __init__(
        self,
        config: Config,
        store: Store,
        now: datetime,
        *,
        cpu: Executor,
        progress: ProgressCallback | None = None,
        stop: threading.Event | None = None,
        rng: random.Random | None = None,
        times: StageTimes | None = None,
        lease_owner: str | None = None,
    ) -> None:
        """``lease_owner`` is the worker whose leases the sources are fetched under, if any."""
        self._config = config
        self._store = store
        self._now = now
        self._cpu = cpu
        self._progress = progress
        self._stop = stop
        self._rng = rng or random.Random()
        self._times = times or StageTimes()
        self._lease_owner = lease_owner
        self._done = 0
        self._total = 0
        self._tasks: list[asyncio.Task[SourceResult]] = []
        self._done_with: Callable[[str], None] = lambda source: None  # the run's fetcher's

    async def run(
        self, sources: Sequence[SourceConfig], states: Mapping[str, SourceState] | None = None
    ) -> tuple[SourceResult, ...]:
        """Fetch, process and store every source; return one result per source finished.

        ``states`` are the sources' stored states when the caller has them (a
        worker's claim); otherwise every source's state is read.
        """
        from feedsvc.fetch import Fetcher, user_agent  # httpx loads only when something is due

        if states is None:
            states = {s.name: s for s in self._store.source_states(counts=False)}
        by_name = {s.name: s for s in sources}
        requests = [fetch_request(s, states.get(s.name)) for s in sources]
        self._total = len(requests)
        settings = self._config.settings
        bodies = BODIES_PER_CONNECTION * settings.fetch.concurrency
        fetcher = Fetcher(settings.fetch, user_agent(settings.contact), bodies=bodies)
        self._done_with = fetcher.done_with
        async with GroupWriter(self._write_group, self._write) as writer, fetcher:
            outcomes = fetcher.fetch_each(requests)
            work = asyncio.create_task(self._all(outcomes, by_name, states, self._cpu, writer))
            results = await self._until_stopped(work)
        return tuple(sorted(results, key=lambda r: r.source))

    async def _all(
        self,
        outcomes: AsyncIterator[FetchOutcome],
        by_name: dict[str, SourceConfig],
        states: Mapping[str, SourceState],
        cpu: Executor,
        writer: GroupWriter[_Decision, SourceResult],
    ) -> list[SourceResult]:
        with self._times.measure("fetch"):
            async for outcome in outcomes:
                job = _Job(by_name[outcome.source], states.get(outcome.source), outcome)
                self._tasks.append(asyncio.create_task(self._handle(job, cpu, writer)))
        return list(await asyncio.gather(*self._tasks))

    async def _until_stopped(self, work: asyncio.Task[list[SourceResult]]) -> list[SourceResult]:
        """Wait for ``work``; if the stop event fires first, cancel it and what it started."""
        if self._stop is None:
            return await work
        watcher = asyncio.create_task(_wait_for(self._stop))
        await asyncio.wait({work, watcher}, return_when=asyncio.FIRST_COMPLETED)
        watcher.cancel()
        if work.done():
            return work.result()
        log.warning("cycle stopping: abandoning the sources still in flight")
        for task in (work, *self._tasks):
            task.cancel()
        await asyncio.gather(work, *self._tasks, return_exceptions=True)
        return [t.result() for t in self._tasks if not t.cancelled() and t.exception() is None]

    async def _handle(
        self, job: _Job, cpu: Executor, writer: GroupWriter[_Decision, SourceResult]
    ) -> SourceResult:
        loop = asyncio.get_running_loop()
        name = job.source.name
        try:
            decision = await self._dispatch(job, loop, cpu)
            self._done_with(name)  # extracted: the body is gone, the next may be read
            result = await writer.save(decision)
        except StoreError as exc:  # locked past the busy timeout: the next run tries again
            result = SourceResult(name, "error", error=f"not stored: {exc}")
        except Exception as exc:  # a bug: say so loudly, keep the other sources going
            log.exception("internal error source=%s", name)
            error = f"internal error: {exc!r}"
            decision = _Decision(
                SourceResult(name, "error", error=error), self._failure(job, error)
            )
            result = await writer.save(decision)
        finally:
            self._done_with(name)  # also when cancelled
        if result.status == "error":
            log.warning("source=%s failed error=%r", name, result.error)
        self._report(result)
        return result

    def _write(self, decision: _Decision) -> SourceResult:
        """Record one decision in its own transaction (runs in the writer thread)."""
        with self._times.measure("store"):
            return self._save(decision)

    def _write_group(self, decisions: Sequence[_Decision]) -> list[SourceResult]:
        """Record several decisions in one transaction (runs in the writer thread)."""
        with self._times.measure("store"):
            saved = self._store.save_fetches([(d.intent, d.articles) for d in decisions])
        return [_saved(d.result, s) for d, s in zip(decisions, saved, strict=True)]

    def _save(self, decision: _Decision) -> SourceResult:
        if decision.articles is None:
            return _saved(decision.result, self._store.record_fetch(decision.intent))
        name = decision.result.source
        return _saved(
            decision.result, self._store.save_batch(name, decision.articles, decision.intent)
        )

    async def _dispatch(
        self, job: _Job, loop: asyncio.AbstractEventLoop, cpu: Executor
    ) -> _Decision:
        outcome, name = job.outcome, job.source.name
        if isinstance(outcome, FetchFailed):
            intent = self._failure(job, outcome.error, outcome.status)
            return _Decision(SourceResult(name, "error", error=outcome.error), intent)
        if isinstance(outcome, NotModified):
            return _Decision(SourceResult(name, "not-modified"), self._unchanged(job, 304))
        digest = body_hash(outcome)
        if job.state is not None and digest == job.state.body_hash:
            log.info("source=%s body unchanged; not processed", name)
            intent = replace(self._unchanged(job, outcome.status), body_hash=digest)
            return _Decision(SourceResult(name, "not-modified"), intent)
        return await self._process(job, outcome, digest, loop, cpu)

    async def _process(
        self,
        job: _Job,
        outcome: Fetched,
        digest: str,
        loop: asyncio.AbstractEventLoop,
        cpu: Executor,
    ) -> _Decision:
        name = job.source.name
        known = await self._known_entries(job, loop)
        process = partial(process_fetched, outcome, job.source, self._now, self._config.tags, known)
        try:
            processed = await loop.run_in_executor(cpu, process)
        except BrokenProcessPool:  # a worker died: once more, on new workers
            log.warning("source=%s worker died; processing it again", name)
            processed = await loop.run_in_executor(cpu, process)
        self._times.add("extract", processed.extract_seconds)
        self._times.add("normalise", processed.normalise_seconds)
        self._times.count("articles", len(processed.articles))
        self._times.count("articles_seen", len(processed.seen))
        if processed.error is not None:
            intent = self._failure(job, processed.error, outcome.status)
            return _Decision(SourceResult(name, "error", error=processed.error), intent)
        for warning in processed.warnings:
            log.warning("source=%s warning=%r", name, warning)
        intent = replace(
            self._intent(job, "ok", outcome.status),
            etag=outcome.etag,
            last_modified=outcome.last_modified,
            body_hash=digest,
            entries=processed.entries,
        )
        result = SourceResult(name, "ok", warnings=processed.warnings)
        return _Decision(result, intent, processed.articles)

    async def _known_entries(
        self, job: _Job, loop: asyncio.AbstractEventLoop
    ) -> Mapping[str, EntryMemo]:
        """What the source's last stored body held (id → ``EntryMemo``), read beside the writer.

        Nothing for a source whose body was never stored; nothing, and a
        warning, when the store cannot say (every article is then analysed).
        """
        if job.state is None or job.state.body_hash is None:
            return {}
        try:
            return await loop.run_in_executor(None, self._store.body_entries, job.source.name)
        except StoreError as exc:
            log.warning("source=%s stored entries unreadable: %s", job.source.name, exc)
            return {}

    def _unchanged(self, job: _Job, http_status: int) -> FetchIntent:
        return self._intent(job, "not-modified", http_status)

    def _failure(self, job: _Job, error: str, http_status: int | None = None) -> FetchIntent:
        intent = self._intent(job, "error", http_status)
        if http_status == HTTPStatus.GONE:
            log.warning("source=%s is gone (410): disabled until its url changes", job.source.name)
            intent = replace(intent, disable=error)
        return replace(intent, error=error)

    def _intent(self, job: _Job, status: FetchStatus, http_status: int | None) -> FetchIntent:
        if job.source.path is not None:
            http_status = None  # read from a local file: no HTTP answered it (200 is made up)
        failures = job.failures + 1 if status == "error" else 0
        return FetchIntent(
            source=job.source.name,
            fetched_at=self._now,
            status=status,
            next_fetch_after=self._next(job, failures, http_status),
            http_status=http_status,
            redirect=self._redirect(job) if http_status is not None else None,
            lease_owner=self._lease_owner,
        )

    def _next(self, job: _Job, failures: int, http_status: int | None) -> datetime:
        hints = hints_from_headers(job.outcome.headers, self._now)
        if http_status not in RETRY_AFTER_STATUSES:  # Retry-After counts on 429 and 503 only
            hints = replace(hints, retry_after=None)
        draw = self._rng.random()
        plan = plan_next_fetch(
            self._now, job.source.interval, failures=failures, hints=hints, random=draw
        )
        log.debug("source=%s next=%s reason=%s", job.source.name, plan.at.isoformat(), plan.reason)
        return plan.at

    def _redirect(self, job: _Job) -> RedirectState | None:
        if job.source.url is None:
            return None
        stored = job.state.redirect if job.state else RedirectState()
        adopt_after = self._config.settings.redirect_adopt_after
        after = follow_redirects(stored, job.outcome.redirects, self._now, adopt_after)
        _log_redirect_change(job.source.name, stored, after)
        return after

    def _report(self, result: SourceResult) -> None:
        self._done += 1
        if self._progress is not None:
            self._progress(result, self._done, self._total)


def _saved(result: SourceResult, saved: UpsertResult | LeaseLost | None) -> SourceResult:
    """The result of a source once its fetch was saved (or was not: its lease was lost)."""
    if isinstance(saved, LeaseLost):
        holder = f"worker {saved.holder}" if saved.holder else "no one"
        error = f"not stored: the lease lapsed before the fetch was recorded (now held by {holder})"
        if result.error:
            error = f"{error}; the fetch itself: {result.error}"
        return replace(result, status="error", error=error, new=0, updated=0)
    if saved is None:
        return result
    return replace(result, new=saved.new, updated=saved.updated)


def _log_redirect_change(name: str, before: RedirectState, after: RedirectState) -> None:
    if after.adopted_url != before.adopted_url and after.adopted_url is not None:
        log.warning("source=%s adopted permanent redirect url=%s", name, after.adopted_url)
    elif after.pending_url is not None and after.pending_url != before.pending_url:
        log.info("source=%s permanent redirect seen target=%s", name, after.pending_url)


async def _wait_for(event: threading.Event) -> None:
    while not event.is_set():
        await asyncio.sleep(STOP_POLL_SECONDS)


def run_cycle(
    config: Config,
    store: Store,
    now: datetime,
    *,
    force: bool = False,
    workers: int | None = None,
    pool: Executor | None = None,
    progress: ProgressCallback | None = None,
    stop: threading.Event | None = None,
    rng: random.Random | None = None,
    times: StageTimes | None = None,
) -> RunResult:
    """Run one ingest cycle over the due sources (all enabled ones with ``force``).

    Extraction runs in ``pool``, or in a pool of ``workers`` processes made for
    the cycle. When ``stop`` is set meanwhile, the cycle ends early with the
    sources finished so far.
    """
    store.sync_sources(config.sources, now)
    sources = select_sources(config, store, now, force=force)
    if stop is not None and stop.is_set():
        sources = []
    if not sources:
        results: tuple[SourceResult, ...] = ()
    elif pool is None:
        with worker_pool(workers) as own:
            results = _run(config, store, now, own, progress, stop, rng, times, sources)
    else:
        results = _run(config, store, now, pool, progress, stop, rng, times, sources)
    finished = datetime.now(now.tzinfo)
    return RunResult(started=now, finished=max(finished, now), sources=results)


def _run(
    config: Config,
    store: Store,
    now: datetime,
    cpu: Executor,
    progress: ProgressCallback | None,
    stop: threading.Event | None,
    rng: random.Random | None,
    times: StageTimes | None,
    sources: Sequence[SourceConfig],
) -> tuple[SourceResult, ...]:
    cycle = Cycle(config, store, now, cpu=cpu, progress=progress, stop=stop, rng=rng, times=times)
    return asyncio.run(cycle.run(sources))

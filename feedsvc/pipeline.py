"""One ingest cycle: due sources → fetch → extract and normalise → store.

Orchestration only. Fetching is concurrent (asyncio, in ``fetch``); extraction
and normalisation are CPU-bound and run in a pool of worker processes; all
writes go through one writer thread, one transaction per source. A source that
fails becomes a ``SourceResult`` with an error and a record in the store; it
never stops the other sources. Publishing is not done here (see ``service``).
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime

from feedsvc.errors import ExtractError
from feedsvc.extract import extract
from feedsvc.fetch import Fetcher, user_agent
from feedsvc.normalise import normalise
from feedsvc.schedule import next_fetch_after
from feedsvc.store import Store
from feedsvc.types import (
    Article,
    Config,
    Fetched,
    FetchFailed,
    FetchIntent,
    FetchOutcome,
    FetchRequest,
    FetchStatus,
    NotModified,
    RunResult,
    SourceConfig,
    SourceResult,
    SourceState,
)

log = logging.getLogger("feedsvc.pipeline")

ProgressCallback = Callable[[SourceResult, int, int], None]


@dataclass(frozen=True, slots=True)
class Processed:
    """What extraction and normalisation made of one fetch."""

    articles: tuple[Article, ...]
    warnings: tuple[str, ...]
    error: str | None = None


def process_fetched(fetched: Fetched, source: SourceConfig, now: datetime) -> Processed:
    """Extract and normalise every document of one fetch (pure; runs in a worker)."""
    articles: list[Article] = []
    warnings: list[str] = []
    failures: list[str] = []
    for document in fetched.documents:
        try:
            extracted = extract(document, source.kind)
        except ExtractError as exc:
            failures.append(f"{document.url}: {exc}")
            continue
        warnings.extend(extracted.warnings)
        articles.extend(normalise(raw, source, now) for raw in extracted.entries)
    if failures and len(failures) == len(fetched.documents):
        return Processed((), tuple(warnings), "; ".join(failures))
    return Processed(tuple(articles), tuple(warnings + failures))


def fetch_request(source: SourceConfig, state: SourceState | None) -> FetchRequest:
    """The request for one source, conditional on the validators stored last time."""
    return FetchRequest(
        source=source.name,
        url=source.url,
        path=source.path,
        etag=state.etag if state else None,
        last_modified=state.last_modified if state else None,
    )


def select_sources(
    config: Config, store: Store, now: datetime, *, force: bool = False
) -> list[SourceConfig]:
    """The enabled sources to fetch in this cycle: the due ones, or all with ``force``."""
    enabled = [s for s in config.sources if s.enabled]
    if force:
        return enabled
    due = {state.name for state in store.due_sources(now)}
    return [s for s in enabled if s.name in due]


def default_workers() -> int:
    """How many extraction processes to use: one per core."""
    return max(1, os.cpu_count() or 1)


class Cycle:
    """One ingest cycle over a set of sources; build it, then ``await cycle.run()``."""

    def __init__(
        self,
        config: Config,
        store: Store,
        now: datetime,
        *,
        workers: int,
        progress: ProgressCallback | None = None,
    ) -> None:
        self._config = config
        self._store = store
        self._now = now
        self._workers = workers
        self._progress = progress
        self._done = 0
        self._total = 0

    async def run(self, sources: Sequence[SourceConfig]) -> tuple[SourceResult, ...]:
        """Fetch, process and store every source; return one result per source."""
        states = {s.name: s for s in self._store.source_states()}
        by_name = {s.name: s for s in sources}
        requests = [fetch_request(s, states.get(s.name)) for s in sources]
        self._total = len(requests)
        settings = self._config.settings
        with _pool(self._workers) as cpu, ThreadPoolExecutor(1, "feedsvc-writer") as writer:
            async with Fetcher(settings.fetch, user_agent(settings.contact)) as fetcher:
                tasks = [
                    asyncio.create_task(self._handle(outcome, by_name, states, cpu, writer))
                    async for outcome in fetcher.fetch_each(requests)
                ]
                results = await asyncio.gather(*tasks)
        return tuple(sorted(results, key=lambda r: r.source))

    async def _handle(
        self,
        outcome: FetchOutcome,
        by_name: dict[str, SourceConfig],
        states: dict[str, SourceState],
        cpu: Executor,
        writer: Executor,
    ) -> SourceResult:
        source = by_name[outcome.source]
        failures = states[source.name].failures if source.name in states else 0
        loop = asyncio.get_running_loop()
        try:
            result = await self._dispatch(outcome, source, failures, loop, cpu, writer)
        except Exception as exc:  # a bug: say so loudly, keep the other sources going
            log.exception("internal error source=%s", source.name)
            result = SourceResult(source.name, "error", error=f"internal error: {exc!r}")
            intent = self._intent(source, failures, "error", error=result.error)
            await loop.run_in_executor(writer, self._store.record_fetch, intent)
        self._report(result)
        return result

    async def _dispatch(
        self,
        outcome: FetchOutcome,
        source: SourceConfig,
        failures: int,
        loop: asyncio.AbstractEventLoop,
        cpu: Executor,
        writer: Executor,
    ) -> SourceResult:
        if isinstance(outcome, FetchFailed):
            return await self._failed(source, failures, outcome.error, outcome.status, loop, writer)
        if isinstance(outcome, NotModified):
            intent = self._intent(source, 0, "not-modified", http_status=304)
            await loop.run_in_executor(writer, self._store.record_fetch, intent)
            return SourceResult(source.name, "not-modified")
        processed = await loop.run_in_executor(cpu, process_fetched, outcome, source, self._now)
        if processed.error is not None:
            return await self._failed(
                source, failures, processed.error, outcome.status, loop, writer
            )
        intent = self._intent(
            source,
            0,
            "ok",
            http_status=outcome.status,
            etag=outcome.etag,
            last_modified=outcome.last_modified,
        )
        saved = await loop.run_in_executor(
            writer, self._store.save_batch, source.name, processed.articles, intent
        )
        for warning in processed.warnings:
            log.warning("source=%s warning=%r", source.name, warning)
        return SourceResult(
            source.name, "ok", new=saved.new, updated=saved.updated, warnings=processed.warnings
        )

    async def _failed(
        self,
        source: SourceConfig,
        failures: int,
        error: str,
        status: int | None,
        loop: asyncio.AbstractEventLoop,
        writer: Executor,
    ) -> SourceResult:
        intent = self._intent(source, failures + 1, "error", http_status=status, error=error)
        await loop.run_in_executor(writer, self._store.record_fetch, intent)
        log.warning("source=%s failed error=%r", source.name, error)
        return SourceResult(source.name, "error", error=error)

    def _intent(
        self,
        source: SourceConfig,
        failures: int,
        status: FetchStatus,
        *,
        http_status: int | None = None,
        etag: str | None = None,
        last_modified: str | None = None,
        error: str | None = None,
    ) -> FetchIntent:
        return FetchIntent(
            source=source.name,
            fetched_at=self._now,
            status=status,
            next_fetch_after=next_fetch_after(self._now, source.interval, failures),
            http_status=http_status,
            etag=etag,
            last_modified=last_modified,
            error=error,
        )

    def _report(self, result: SourceResult) -> None:
        self._done += 1
        if self._progress is not None:
            self._progress(result, self._done, self._total)


def _pool(workers: int) -> Executor:
    """Worker processes for CPU-bound extraction (a thread when only one is asked for)."""
    if workers <= 1:
        return ThreadPoolExecutor(1, "feedsvc-extract")
    context = multiprocessing.get_context("forkserver")
    return ProcessPoolExecutor(workers, mp_context=context)


def run_cycle(
    config: Config,
    store: Store,
    now: datetime,
    *,
    force: bool = False,
    workers: int | None = None,
    progress: ProgressCallback | None = None,
) -> RunResult:
    """Run one ingest cycle over the due sources (all enabled ones with ``force``)."""
    store.sync_sources(config.sources, now)
    sources = select_sources(config, store, now, force=force)
    cycle = Cycle(config, store, now, workers=workers or default_workers(), progress=progress)
    results = asyncio.run(cycle.run(sources))
    finished = datetime.now(now.tzinfo)
    return RunResult(started=now, finished=max(finished, now), sources=results)

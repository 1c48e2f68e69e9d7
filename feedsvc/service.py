"""The facade that wires config, store, pipeline and publisher together.

``Service`` is what the CLI (and later the daemon) calls: ``run_once`` for one
cron cycle, ``publish`` to rewrite the output, ``sources`` for the state of
every source. It holds no state of its own beyond the config and a clock; it
does not parse, fetch or write files itself.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from feedsvc.config import load_config
from feedsvc.config_types import Config, TagConfig
from feedsvc.errors import LockedError, NotFoundError
from feedsvc.lock import run_lock
from feedsvc.pipeline import ProgressCallback, run_cycle
from feedsvc.publishing import publish_changes
from feedsvc.quickrun import lock_path, nothing_to_do
from feedsvc.story_snapshot import SNAPSHOT_FILE, remove_snapshot_leftovers
from feedsvc.tagging import (
    RuleCount,
    TagExplanation,
    explain_tags,
    retag_stored,
    rule_counts,
)
from feedsvc.timing import StageTimes
from feedsvc.types import (
    Article,
    PublishResult,
    RunResult,
    SourceState,
    StoredDecision,
    StoryView,
    WorkerState,
    WorkLoad,
)
from feedsvc.workers import worker_pool

if TYPE_CHECKING:
    from feedsvc.assign import AssignResult
    from feedsvc.store import Store
    from feedsvc.store.roles import RoleLock
    from feedsvc.stories import Explanation, StoryParams
    from feedsvc.subscriptions import ImportPlan
    from feedsvc.worker import ConfigReload, WorkerOptions, WorkerResult

log = logging.getLogger("feedsvc.service")

Clock = Callable[[], datetime]
STATUS_WINDOW = timedelta(minutes=5)  # throughput in `feedsvc status` is over this window
# How long `feedsvc publish` waits for the publisher role while another process
# (a run's or the daemon's publish, a worker) holds it, and how often it tries.
PUBLISH_WAIT = 60.0
PUBLISH_RETRY = 0.2


def utc_now() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


class Service:
    """One feedsvc installation, described by its config."""

    def __init__(self, config: Config, *, clock: Clock = utc_now) -> None:
        self.config = config
        self._clock = clock

    @classmethod
    def from_path(cls, path: Path, *, clock: Clock = utc_now) -> Service:
        """Load and validate ``path`` (raises ConfigError) and build the service."""
        return cls(load_config(path), clock=clock)

    @property
    def lock_path(self) -> Path:
        """The file whose lock keeps two runs from overlapping."""
        return lock_path(self.config)

    def open_store(self) -> Store:
        """Open (and migrate) the configured database."""
        from feedsvc.store import Store  # SQLAlchemy loads only when the database is opened

        return Store.open(self.config.settings.database_url)

    def run_once(
        self,
        *,
        force: bool = False,
        workers: int | None = None,
        progress: ProgressCallback | None = None,
    ) -> RunResult:
        """One cron cycle under the run lock: fetch what is due, store it, publish.

        Unless ``force``d, a cheap look at the database first: when nothing is
        due and nothing waits to be published, the run ends there, without
        loading the rest of feedsvc (see ``store.idle``).
        """
        times = StageTimes()
        with times.measure("total"):
            with run_lock(self.lock_path):
                if not force and self.idle():
                    log.info("nothing due and nothing to publish")
                    result, published = RunResult(self._clock(), self._clock(), ()), None
                else:
                    result, published = self._cycle(force, workers, progress, times)
            if published is not None:
                self.notify_hub(published)
        finished = max(self._clock(), result.started)
        published = published or PublishResult()
        return replace(result, published=published, finished=finished, timings=times.snapshot())

    def _cycle(
        self,
        force: bool,
        workers: int | None,
        progress: ProgressCallback | None,
        times: StageTimes,
    ) -> tuple[RunResult, PublishResult]:
        """Fetch, store, group and publish, with the store and the worker pool open."""
        with self.open_store() as store, worker_pool(workers) as pool:
            self._retag_before_fetch(store, times)
            result = run_cycle(
                self.config,
                store,
                self._clock(),
                force=force,
                pool=pool,
                progress=progress,
                times=times,
            )
            return result, self._assign_and_publish(store, pool, times)

    def idle(self) -> bool:
        """Whether a run now would find nothing due and nothing to publish (sure answers only)."""
        return nothing_to_do(self.config, self._clock())

    def daemon_cycle(
        self,
        stop: threading.Event,
        *,
        publish: bool = False,
        workers: int | None = None,
        rng: random.Random | None = None,
    ) -> RunResult:
        """One daemon cycle under the run lock: fetch what is due, publish once if anything arrived.

        ``publish`` publishes even when nothing arrived (at start, after a reload).
        A cycle stopped by ``stop`` publishes nothing; the next start will.
        """
        times = StageTimes()
        with run_lock(self.lock_path), self.open_store() as store, worker_pool(workers) as pool:
            if not stop.is_set():
                self._retag_before_fetch(store, times)
            now = self._clock()
            result = run_cycle(self.config, store, now, pool=pool, stop=stop, rng=rng, times=times)
            arrived = any(s.new or s.updated for s in result.sources)
            if stop.is_set() or not (arrived or publish):
                return replace(result, timings=times.snapshot())
            published = self._assign_and_publish(store, pool, times)
        self.notify_hub(published)
        finished = max(self._clock(), result.started)
        return replace(result, published=published, finished=finished, timings=times.snapshot())

    def _retag_before_fetch(self, store: Store, times: StageTimes) -> None:
        """Re-tag what is stored if the tagging rules changed, before a fetch stores more.

        What the fetch then stores is tagged by the rules as they are now (in
        the workers), so the re-tagging reads only the articles stored before
        the change: re-tagged after the fetch, a first run re-read every
        article it had just stored. Done as the publisher, like the re-tagging
        after the fetch, which then finds nothing to do.
        """
        role = store.publisher_role()
        if not role.try_take():
            return
        try:
            with times.measure("tags"):
                retag_stored(self.config, store)
        finally:
            role.release()

    def _assign_and_publish(
        self,
        store: Store,
        pool: Executor,
        times: StageTimes,
        *,
        full: bool = False,
        role: RoleLock | None = None,
    ) -> PublishResult:
        """Re-tag, group new articles into stories and publish what changed, as the publisher.

        Only the holder of the publisher role does this (``role``, when the caller
        holds it; otherwise it is taken for the call). When another process holds
        it (a ``feedsvc worker``), that process groups and publishes, and this
        call does nothing.
        """
        own = role is None
        role = role or store.publisher_role()
        if not role.try_take():
            log.info("another process is the publisher; not grouping or publishing here")
            return PublishResult()
        try:
            return self._assign_and_publish_held(store, pool, times, full=full)
        finally:
            if own:
                role.release()

    def _assign_and_publish_held(
        self, store: Store, pool: Executor, times: StageTimes, *, full: bool
    ) -> PublishResult:
        with times.measure("tags"):
            retag_stored(self.config, store)
        with times.measure("stories"):
            assigned = self._assign_stories(store, pool)
        if assigned is None:
            log.debug("stories: no article waits for one")
        else:
            log.info(
                "stories assigned=%d new=%d joined=%d merges=%d rebuilt=%s replayed=%d late=%d",
                assigned.assigned, assigned.new_stories, assigned.joined, assigned.merges,
                assigned.rebuilt, assigned.replayed, assigned.late,
            )  # fmt: skip
        times.count("stories_items", assigned.assigned if assigned else 0)
        times.count("stories_late", assigned.late if assigned else 0)
        with times.measure("publish"):
            published = publish_changes(self.config, store, full=full, pool=pool)
        times.count("files_rendered", len(published.written) + len(published.unchanged))
        times.count("files_written", len(published.written))
        times.count("files_unchanged", len(published.unchanged))
        return published

    def _assign_stories(self, store: Store, pool: Executor) -> AssignResult | None:
        """Put every article that waits into a story (None when none waits).

        With worker processes, the engine works in a process of its own, so its
        memory ends with the round. When no article waits, nothing of the
        engine is loaded and no process is started.
        """
        snapshot = self.config.settings.data_dir / SNAPSHOT_FILE
        if not store.any_unassigned():
            remove_snapshot_leftovers(snapshot)  # as a round would: a killed one's temporary file
            return None
        from feedsvc.assign import assign_stories

        return assign_stories(
            store,
            self.story_params,
            self._clock(),
            sources=[s.name for s in self.config.sources],
            snapshot=snapshot,
            pool=pool,
        )

    def publish_pending(self, store: Store, pool: Executor, role: RoleLock) -> PublishResult:
        """As the holder of ``role``: group what is new, publish what changed, ping the hub."""
        published = self._assign_and_publish(store, pool, StageTimes(), role=role)
        self.notify_hub(published)
        return published

    def worker(
        self, options: WorkerOptions, stop: threading.Event, reload: ConfigReload | None = None
    ) -> WorkerResult:
        """Run one ``feedsvc worker`` until ``stop`` (or, with ``options.once``, until done)."""
        from feedsvc.worker import Worker

        return Worker(self, options, stop, clock=self._clock, reload=reload).run()

    def status(self, window: timedelta = STATUS_WINDOW) -> tuple[list[WorkerState], WorkLoad]:
        """The workers (with what each holds) and the work waiting, at the service's now."""
        now = self._clock()
        with self.open_store() as store:
            return store.worker_states(now), store.workload(now, window)

    def notify_hub(self, published: PublishResult) -> None:
        """Ping the configured WebSub hub with the public URLs of the feeds just rewritten."""
        hub, settings = self.config.settings.websub_hub, self.config.settings
        if hub is None or not published.written:
            return
        from feedsvc.fetch import address_policy, user_agent
        from feedsvc.publish.output import changed_feed_urls
        from feedsvc.websub import notify_hub

        topics = changed_feed_urls(published.written, settings)
        if not topics:
            return
        policy = address_policy(settings.fetch)
        for error in notify_hub(hub, topics, user_agent(settings.contact), policy=policy):
            log.warning("hub notification failed hub=%s error=%s", hub, error)

    @property
    def story_params(self) -> StoryParams:
        """The story engine's parameters: the engine's defaults plus the ``stories`` settings."""
        from feedsvc.stories import StoryParams

        stories = self.config.settings.stories
        return replace(
            StoryParams(),
            window=stories.window,
            representative=stories.representative,
            source_priority=stories.source_priority,
        )

    def publish(self, wait: float | None = None) -> PublishResult:
        """Rewrite every published feed from what the store holds.

        Publishing is the publisher's: while another process holds the role,
        this waits up to ``wait`` seconds (``PUBLISH_WAIT``) for it, then raises
        LockedError rather than report a publish that did not happen.
        """
        wait = PUBLISH_WAIT if wait is None else wait
        with self.open_store() as store:
            role = store.publisher_role()
            if not _take_within(role, wait):
                raise LockedError(
                    "another process holds the publisher role (a run or daemon publishing,"
                    f" or a worker) after {wait:g}s of waiting; nothing was published"
                )
            try:
                # the feeds follow sources.yaml: a source taken out of it is recorded as removed
                store.sync_sources(self.config.sources, self._clock())
                with worker_pool() as pool:
                    return self._assign_and_publish(store, pool, StageTimes(), full=True, role=role)
            finally:
                role.release()

    def stories(self, limit: int) -> list[StoryView]:
        """The newest stories with their members."""
        with self.open_store() as store:
            return store.recent_stories(limit)

    def explain(self, a_ref: str, b_ref: str) -> Explanation:
        """Why the articles ``a_ref`` and ``b_ref`` (``source:id``) are or are not one story."""
        from feedsvc.assign import explain_pair

        with self.open_store() as store:
            a, b = (_find_article(store, ref) for ref in (a_ref, b_ref))
            return explain_pair(store, self.story_params, a, b)

    def story_decision(self, ref: str) -> StoredDecision | None:
        """How the article ``ref`` (``source:id``) was placed in its story, as stored."""
        with self.open_store() as store:
            article = _find_article(store, ref)
            return store.story_decision(article.source, article.id)

    def tags(self) -> tuple[list[TagConfig], dict[str, int]]:
        """The vocabulary and how many stored articles carry each tag."""
        with self.open_store() as store:
            return list(self.config.tags.tags), store.tag_counts()

    def explain_tags(self, ref: str) -> TagExplanation:
        """Where each tag of the article ``ref`` (``source:id``) came from."""
        with self.open_store() as store:
            return explain_tags(self.config, store, _find_article(store, ref))

    def rule_counts(self) -> tuple[list[RuleCount], int]:
        """How many stored articles each tag rule would match now (a dry run)."""
        with self.open_store() as store:
            return rule_counts(self.config, store)

    def import_opml(self, data: bytes, *, dry_run: bool = False) -> ImportPlan:
        """Add the feeds of an OPML export to the config file (unless ``dry_run``); say what."""
        from feedsvc.config import parse_config
        from feedsvc.publish.atomic import write_if_changed
        from feedsvc.subscriptions import insert_sources, plan_import, read_opml

        path = self.config.path
        plan = plan_import(self.config, read_opml(data))
        text = insert_sources(path.read_text(encoding="utf-8-sig"), plan)
        parse_config(text, path)  # the new file must be valid before it replaces the old one
        if not dry_run and (plan.sources or plan.new_tags):
            write_if_changed(path, text.encode("utf-8"))
        return plan

    def sources(self) -> list[SourceState]:
        """The stored state of every configured source."""
        with self.open_store() as store:
            store.sync_sources(self.config.sources, self._clock())
            return store.source_states()


def _find_article(store: Store, ref: str) -> Article:
    from feedsvc.placing import split_key

    source, article_id = split_key(ref)
    article = store.article(source, article_id) if article_id else None
    if article is None:
        raise NotFoundError(f"no article {ref!r}; name one as SOURCE:ID (see 'feedsvc stories')")
    return article


def _take_within(role: RoleLock, wait: float) -> bool:
    """Take ``role``, trying again until ``wait`` seconds have passed; whether it was taken."""
    deadline = time.monotonic() + wait
    if role.try_take():
        return True
    log.info("waiting for the publisher role: another process holds it wait=%gs", wait)
    while time.monotonic() < deadline:
        time.sleep(min(PUBLISH_RETRY, max(0.0, deadline - time.monotonic())))
        if role.try_take():
            return True
    return False

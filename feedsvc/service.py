"""The facade that wires config, store, pipeline and publisher together.

``Service`` is what the CLI (and later the daemon) calls: ``run_once`` for one
cron cycle, ``publish`` to rewrite the output, ``sources`` for the state of
every source. It holds no state of its own beyond the config and a clock; it
does not parse, fetch or write files itself.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from feedsvc.config import load_config
from feedsvc.lock import run_lock
from feedsvc.pipeline import ProgressCallback, run_cycle
from feedsvc.publish import entry_from_article, plan_feeds, write_output
from feedsvc.store import Store
from feedsvc.types import (
    Article,
    Config,
    FeedEntry,
    PublishResult,
    RunResult,
    SourceState,
)

log = logging.getLogger("feedsvc.service")

Clock = Callable[[], datetime]


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
        return self.config.settings.data_dir / "feedsvc.lock"

    def open_store(self) -> Store:
        """Open (and migrate) the configured database."""
        return Store.open(self.config.settings.database_url)

    def run_once(
        self,
        *,
        force: bool = False,
        workers: int | None = None,
        progress: ProgressCallback | None = None,
    ) -> RunResult:
        """One cron cycle under the run lock: fetch what is due, store it, publish."""
        with run_lock(self.lock_path), self.open_store() as store:
            result = run_cycle(
                self.config, store, self._clock(), force=force, workers=workers, progress=progress
            )
            published = publish_from_store(self.config, store)
        return replace(result, published=published, finished=max(self._clock(), result.started))

    def publish(self) -> PublishResult:
        """Rewrite the published feeds from what the store holds."""
        with self.open_store() as store:
            return publish_from_store(self.config, store)

    def sources(self) -> list[SourceState]:
        """The stored state of every configured source."""
        with self.open_store() as store:
            store.sync_sources(self.config.sources, self._clock())
            return store.source_states()


def publish_from_store(config: Config, store: Store) -> PublishResult:
    """Build every feed from the newest stored articles and write the output."""
    size = config.settings.feed_size
    sources = {s.name: s for s in config.sources}

    def entries(articles: Iterable[Article]) -> list[FeedEntry]:
        return [entry_from_article(a, sources[a.source]) for a in articles if a.source in sources]

    tags = sorted({tag for s in config.sources for tag in s.tags})
    specs = plan_feeds(
        entries(store.recent_articles(size)),
        {name: entries(store.recent_articles(size, source=name)) for name in sources},
        {tag: entries(store.recent_articles(size, tag=tag)) for tag in tags},
        list(config.sources),
        config.settings,
    )
    result = write_output(specs, config.settings)
    log.info("published written=%d unchanged=%d", len(result.written), len(result.unchanged))
    return result

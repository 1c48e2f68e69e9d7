"""Prometheus metrics of a feedsvc process, in the text exposition format.

A :class:`Metrics` owns its own ``CollectorRegistry`` (there is no global
registry), so two instances in one process (two tests, a daemon and a test
server) never see each other's numbers. It counts what cycles did
(``observe_cycle``: fetches by outcome, ingested articles, cycle duration, when
the last cycle ended) and mirrors what the store holds (``observe_store``:
articles and consecutive failures per source, number of sources and stories).
The store gauges come from one immutable snapshot, replaced whole, so a scrape
never mixes two snapshots.

It does not read the store, run cycles or serve HTTP: callers hand it
``RunResult`` and ``SourceState`` values, and :mod:`feedsvc.serve` exposes
``render()`` at ``/metrics``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, generate_latest
from prometheus_client.process_collector import ProcessCollector

from feedsvc.errors import FeedsvcError
from feedsvc.types import FetchStatus, RunResult, SourceState

__all__ = ["CYCLE_BUCKETS", "FETCH_OUTCOMES", "Metrics", "MetricsProvider", "store_metrics"]

log = logging.getLogger("feedsvc.metrics")

FETCH_OUTCOMES: tuple[FetchStatus, ...] = ("ok", "not-modified", "error")
ARTICLE_KINDS = ("new", "updated")
MetricsProvider = Callable[[], tuple[bytes, str]]
"""What ``/metrics`` calls per scrape: the exposition bytes and their content type."""

CYCLE_BUCKETS = (0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)


@dataclass(frozen=True, slots=True)
class _StoreSnapshot:
    """What the store held when it was last observed."""

    states: tuple[SourceState, ...] = ()
    stories: int | None = None


class _StoreCollector:
    """Yields the store gauges from the latest snapshot, all from the same one."""

    def __init__(self) -> None:
        self.snapshot = _StoreSnapshot()

    def collect(self) -> Iterator[Metric]:
        """The store gauges of the current snapshot."""
        snapshot = self.snapshot
        yield _per_source("feedsvc_articles", "Articles stored per source.", snapshot, _articles)
        yield _per_source(
            "feedsvc_source_failures",
            "Consecutive failed fetches per source (0 after a success).",
            snapshot,
            _failures,
        )
        yield GaugeMetricFamily(
            "feedsvc_sources", "Configured sources in the store.", value=len(snapshot.states)
        )
        if snapshot.stories is not None:
            yield GaugeMetricFamily(
                "feedsvc_stories", "Stories in the store.", value=snapshot.stories
            )


def _per_source(
    name: str, doc: str, snapshot: _StoreSnapshot, value: Callable[[SourceState], int]
) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, doc, labels=["source"])
    for state in snapshot.states:
        family.add_metric([state.name], value(state))
    return family


def _articles(state: SourceState) -> int:
    return state.article_count


def _failures(state: SourceState) -> int:
    return state.failures


class Metrics:
    """The metrics of one feedsvc process, with a registry of its own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._fetches = Counter(
            "feedsvc_fetches",
            "Source fetches by outcome.",
            ["outcome"],
            registry=self.registry,
        )
        self._articles = Counter(
            "feedsvc_articles_ingested",
            "Articles stored by cycles, new or updated.",
            ["kind"],
            registry=self.registry,
        )
        self._duration = Histogram(
            "feedsvc_cycle_duration_seconds",
            "Wall-clock duration of a cycle.",
            buckets=CYCLE_BUCKETS,
            registry=self.registry,
        )
        self._last_end = Gauge(
            "feedsvc_last_cycle_end_timestamp_seconds",
            "Unix time at which the last cycle ended.",
            registry=self.registry,
        )
        self._last_failed = Gauge(
            "feedsvc_last_cycle_failed_sources",
            "Sources whose fetch failed in the last cycle.",
            registry=self.registry,
        )
        self._store = _StoreCollector()
        self.registry.register(self._store)
        ProcessCollector(registry=self.registry)
        self._zero_labels()

    def _zero_labels(self) -> None:
        for outcome in FETCH_OUTCOMES:
            self._fetches.labels(outcome=outcome)
        for kind in ARTICLE_KINDS:
            self._articles.labels(kind=kind)

    def observe_cycle(self, result: RunResult) -> None:
        """Count what one cycle did: fetches by outcome, articles, duration, end time."""
        for source in result.sources:
            self._fetches.labels(outcome=source.status).inc()
        self._articles.labels(kind="new").inc(sum(s.new for s in result.sources))
        self._articles.labels(kind="updated").inc(sum(s.updated for s in result.sources))
        seconds = max(0.0, (result.finished - result.started).total_seconds())
        self._duration.observe(seconds)
        self._last_end.set(result.finished.timestamp())
        self._last_failed.set(len(result.failed))
        log.debug("cycle observed sources=%d seconds=%.3f", len(result.sources), seconds)

    def observe_store(self, states: Sequence[SourceState], *, stories: int | None = None) -> None:
        """Replace the store gauges (articles and failures per source, sources, stories)."""
        self._store.snapshot = _StoreSnapshot(tuple(states), stories)

    def render(self) -> tuple[bytes, str]:
        """The metrics in the Prometheus text format, and that format's content type."""
        return generate_latest(self.registry), CONTENT_TYPE_PLAIN_0_0_4


def store_metrics(
    metrics: Metrics, read_states: Callable[[], Sequence[SourceState]]
) -> MetricsProvider:
    """A /metrics provider that refreshes the store gauges from ``read_states`` per scrape."""

    def provide() -> tuple[bytes, str]:
        try:
            metrics.observe_store(read_states())
        except FeedsvcError as exc:
            log.warning("metrics kept stale store gauges error=%s", exc)
        return metrics.render()

    return provide

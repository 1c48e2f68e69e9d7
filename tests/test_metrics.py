"""Prometheus metrics: what cycles and the store report, parsed back from the text format."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from feedsvc.errors import StoreError
from feedsvc.metrics import Metrics, store_metrics
from feedsvc.serve import Server, create_app
from feedsvc.types import RunResult, SourceResult, SourceState

START = datetime(2031, 5, 6, 7, 0, tzinfo=UTC)

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def _samples(text: str) -> Samples:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _rendered(metrics: Metrics) -> Samples:
    body, content_type = metrics.render()
    assert content_type.startswith("text/plain; version=0.0.4")
    return _samples(body.decode("utf-8"))


def _cycle(offset_minutes: int, seconds: float, *sources: SourceResult) -> RunResult:
    started = START + timedelta(minutes=offset_minutes)
    return RunResult(started, started + timedelta(seconds=seconds), sources)


def _state(name: str, failures: int, articles: int) -> SourceState:
    return SourceState(
        name=name,
        location=f"http://{name}.test/feed.xml",
        etag=None,
        last_modified=None,
        last_fetch=START,
        last_status="error" if failures else "ok",
        http_status=500 if failures else 200,
        last_error="HTTP 500" if failures else None,
        failures=failures,
        next_fetch_after=START + timedelta(minutes=30),
        article_count=articles,
    )


QUAY = SourceResult("quay", "ok", new=3, updated=1)
LANTERN = SourceResult("lantern", "not-modified")
GULL = SourceResult("gull", "error", error="HTTP 500")


def test_cycles_count_fetches_articles_and_duration() -> None:
    metrics = Metrics()
    metrics.observe_cycle(_cycle(0, 12.5, QUAY, LANTERN, GULL))
    metrics.observe_cycle(_cycle(30, 2.0, SourceResult("quay", "ok", new=2), LANTERN))
    samples = _rendered(metrics)
    assert samples[("feedsvc_fetches_total", (("outcome", "ok"),))] == 2
    assert samples[("feedsvc_fetches_total", (("outcome", "not-modified"),))] == 2
    assert samples[("feedsvc_fetches_total", (("outcome", "error"),))] == 1
    assert samples[("feedsvc_articles_ingested_total", (("kind", "new"),))] == 5
    assert samples[("feedsvc_articles_ingested_total", (("kind", "updated"),))] == 1
    assert samples[("feedsvc_cycle_duration_seconds_count", ())] == 2
    assert samples[("feedsvc_cycle_duration_seconds_sum", ())] == 14.5
    assert samples[("feedsvc_cycle_duration_seconds_bucket", (("le", "5.0"),))] == 1
    last_end = (START + timedelta(minutes=30, seconds=2)).timestamp()
    assert samples[("feedsvc_last_cycle_end_timestamp_seconds", ())] == last_end
    assert samples[("feedsvc_last_cycle_failed_sources", ())] == 0


def test_outcomes_are_reported_before_any_cycle() -> None:
    samples = _rendered(Metrics())
    for outcome in ("ok", "not-modified", "error"):
        assert samples[("feedsvc_fetches_total", (("outcome", outcome),))] == 0
    assert samples[("feedsvc_last_cycle_end_timestamp_seconds", ())] == 0


def test_store_gauges_follow_the_latest_snapshot() -> None:
    metrics = Metrics()
    metrics.observe_store([_state("quay", 0, 41), _state("gull", 3, 7)], stories=30)
    samples = _rendered(metrics)
    assert samples[("feedsvc_articles", (("source", "quay"),))] == 41
    assert samples[("feedsvc_articles", (("source", "gull"),))] == 7
    assert samples[("feedsvc_source_failures", (("source", "gull"),))] == 3
    assert samples[("feedsvc_source_failures", (("source", "quay"),))] == 0
    assert samples[("feedsvc_sources", ())] == 2
    assert samples[("feedsvc_stories", ())] == 30

    metrics.observe_store([_state("quay", 1, 42)])
    samples = _rendered(metrics)
    assert ("feedsvc_articles", (("source", "gull"),)) not in samples
    assert samples[("feedsvc_source_failures", (("source", "quay"),))] == 1
    assert samples[("feedsvc_sources", ())] == 1
    assert ("feedsvc_stories", ()) not in samples


def test_each_metrics_has_its_own_registry() -> None:
    first, second = Metrics(), Metrics()
    first.observe_cycle(_cycle(0, 1.0, GULL))
    assert _rendered(first)[("feedsvc_fetches_total", (("outcome", "error"),))] == 1
    assert _rendered(second)[("feedsvc_fetches_total", (("outcome", "error"),))] == 0


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[httpx.Client, Metrics]]:
    metrics = Metrics()
    server = Server(create_app(tmp_path, cache_seconds=60, metrics=metrics.render), "127.0.0.1", 0)
    server.start()
    try:
        with httpx.Client(base_url=server.url) as client:
            yield client, metrics
    finally:
        server.stop()


def test_metrics_endpoint_serves_what_was_observed(
    served: tuple[httpx.Client, Metrics],
) -> None:
    client, metrics = served
    metrics.observe_cycle(_cycle(0, 40.0, QUAY, GULL))
    metrics.observe_store([_state("quay", 0, 12), _state("gull", 2, 0)], stories=9)
    response = client.get("/metrics", headers={"Accept-Encoding": "identity"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    assert response.headers["cache-control"] == "no-store"
    samples = _samples(response.text)
    assert samples[("feedsvc_fetches_total", (("outcome", "error"),))] == 1
    assert samples[("feedsvc_source_failures", (("source", "gull"),))] == 2
    assert samples[("feedsvc_stories", ())] == 9
    assert samples[("feedsvc_cycle_duration_seconds_sum", ())] == 40.0


def test_metrics_endpoint_is_gzipped_when_asked(served: tuple[httpx.Client, Metrics]) -> None:
    client, _ = served
    response = client.get("/metrics", headers={"Accept-Encoding": "gzip"})
    assert response.headers["content-encoding"] == "gzip"
    assert ("feedsvc_sources", ()) in _samples(response.text)
    assert client.post("/metrics").status_code == 405


def test_store_metrics_refresh_per_scrape_and_survive_store_errors() -> None:
    metrics = Metrics()
    answers: list[list[SourceState] | StoreError] = [
        [_state("quay", 0, 5)],
        StoreError("reading sources failed: database is locked"),
    ]

    def read_states() -> list[SourceState]:
        answer = answers.pop(0)
        if isinstance(answer, StoreError):
            raise answer
        return answer

    provide = store_metrics(metrics, read_states)
    assert _samples(provide()[0].decode())[("feedsvc_articles", (("source", "quay"),))] == 5
    kept = _samples(provide()[0].decode())  # the store failed: the last snapshot stays
    assert kept[("feedsvc_articles", (("source", "quay"),))] == 5
    assert answers == []

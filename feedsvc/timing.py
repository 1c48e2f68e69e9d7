"""Per-stage costs of one run, for ``feedsvc run --timings`` and the benchmarks.

A ``StageTimes`` is a small accumulator that one run owns (no global state):
the pipeline adds the seconds each stage spent and a few counts, and the run's
result carries a frozen copy. Stages overlap in a cycle (fetching, extraction
in worker processes and writing run concurrently), so each figure says how long
that stage worked, not a slice of the wall time:

==========  ==============================================================
fetch       wall time from the first request to the last answer
extract     seconds spent parsing documents, summed over worker processes
normalise   seconds spent turning entries into articles, summed likewise
store       seconds the writer spent saving batches and fetch records
stories     wall time of the story stage
publish     wall time of publishing
total       wall time of the whole run
==========  ==============================================================

It measures; it decides nothing and writes nothing.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

STAGES = ("fetch", "extract", "normalise", "store", "stories", "publish", "total")


class StageTimes:
    """Seconds per stage and counts of things done, accumulated during one run."""

    __slots__ = ("_counts", "_seconds")

    def __init__(self) -> None:
        self._seconds: dict[str, float] = {}
        self._counts: dict[str, int] = {}

    def add(self, stage: str, seconds: float) -> None:
        """Add ``seconds`` to ``stage``."""
        self._seconds[stage] = self._seconds.get(stage, 0.0) + seconds

    def count(self, key: str, n: int) -> None:
        """Add ``n`` to the counter ``key``."""
        self._counts[key] = self._counts.get(key, 0) + n

    @contextmanager
    def measure(self, stage: str) -> Iterator[None]:
        """Add the wall time of the ``with`` block to ``stage``."""
        started = time.perf_counter()
        try:
            yield
        finally:
            self.add(stage, time.perf_counter() - started)

    def snapshot(self) -> dict[str, float]:
        """Every stage (in ``STAGES`` order, then others) and count measured so far."""
        ordered = [s for s in STAGES if s in self._seconds]
        ordered += sorted(s for s in self._seconds if s not in STAGES)
        figures: dict[str, float] = {s: self._seconds[s] for s in ordered}
        figures.update({k: float(self._counts[k]) for k in sorted(self._counts)})
        return figures


def format_timings(figures: Mapping[str, float]) -> str:
    """One ``timings:`` line of ``key=value`` pairs: seconds with 3 decimals, counts whole."""
    cells = [
        f"{key}={value:.3f}" if key in STAGES or not value.is_integer() else f"{key}={value:.0f}"
        for key, value in figures.items()
    ]
    return "timings: " + " ".join(cells)

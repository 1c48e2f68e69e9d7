"""How a cycle reports its progress: a live line on a terminal, log lines elsewhere.

Only presentation: it receives ``SourceResult`` values from the pipeline and
writes them out; it decides nothing.
"""

from __future__ import annotations

import logging
from typing import TextIO

from feedsvc.types import RunResult, SourceResult

log = logging.getLogger("feedsvc.progress")


def describe(result: SourceResult) -> str:
    """One short phrase for what happened to a source."""
    if result.status == "error":
        return f"failed: {result.error}"
    if result.status == "not-modified":
        return "not modified"
    return f"ok, {result.new} new, {result.updated} updated"


class TerminalProgress:
    """Rewrites one status line on an interactive terminal."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def __call__(self, result: SourceResult, done: int, total: int) -> None:
        """Show that ``result`` is in, as item ``done`` of ``total``."""
        line = f"[{done}/{total}] {result.source}: {describe(result)}"
        self._stream.write("\r\x1b[K" + line[:200])
        if done == total:
            self._stream.write("\n")
        self._stream.flush()


def log_progress(result: SourceResult, done: int, total: int) -> None:
    """Log one line per finished source (for cron and pipes)."""
    level = logging.WARNING if result.status == "error" else logging.INFO
    log.log(level, "[%d/%d] source=%s %s", done, total, result.source, describe(result))


def summary(result: RunResult) -> str:
    """The one-line summary printed at the end of a run."""
    counts = {s: sum(1 for r in result.sources if r.status == s) for s in ("ok", "not-modified")}
    new = sum(r.new for r in result.sources)
    updated = sum(r.updated for r in result.sources)
    seconds = (result.finished - result.started).total_seconds()
    text = (
        f"{len(result.sources)} sources fetched: {counts['ok']} ok, "
        f"{counts['not-modified']} not modified, {len(result.failed)} failed; "
        f"{new} new and {updated} updated articles"
    )
    if not result.sources:
        text = "nothing due: " + text
    if result.published is not None:
        text += (
            f"; {len(result.published.written)} files written, "
            f"{len(result.published.unchanged)} unchanged"
        )
    return f"{text} ({seconds:.1f}s)"

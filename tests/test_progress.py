"""Progress display and the end-of-run summary."""

from __future__ import annotations

import io
import logging
from datetime import UTC, datetime, timedelta

import pytest

from feedsvc.progress import TerminalProgress, log_progress, summary
from feedsvc.types import PublishResult, RunResult, SourceResult

OK = SourceResult("gazette", "ok", new=3, updated=1)
FAILED = SourceResult("wire", "error", error="HTTP 500 Internal Server Error")


def test_terminal_progress_rewrites_one_line() -> None:
    stream = io.StringIO()
    progress = TerminalProgress(stream)
    progress(OK, 1, 2)
    progress(FAILED, 2, 2)
    text = stream.getvalue()
    assert text.count("\r\x1b[K") == 2
    assert "[1/2] gazette: ok, 3 new, 1 updated" in text
    assert text.endswith("[2/2] wire: failed: HTTP 500 Internal Server Error\n")


def test_log_progress_warns_on_failure(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="feedsvc.progress"):
        log_progress(OK, 1, 2)
        log_progress(FAILED, 2, 2)
    assert [r.levelno for r in caplog.records] == [logging.INFO, logging.WARNING]
    assert "source=wire failed: HTTP 500" in caplog.records[1].getMessage()


def test_summary_counts_everything() -> None:
    start = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    result = RunResult(
        started=start,
        finished=start + timedelta(seconds=2.5),
        sources=(OK, FAILED, SourceResult("metro", "not-modified")),
        published=PublishResult(written=("all.rss",), unchanged=("all.atom", "all.json")),
    )
    assert summary(result) == (
        "3 sources fetched: 1 ok, 1 not modified, 1 failed; 3 new and 1 updated articles; "
        "1 files written, 2 unchanged (2.5s)"
    )


def test_summary_says_when_nothing_was_due() -> None:
    now = datetime(2031, 1, 1, tzinfo=UTC)
    result = RunResult(now, now, (), PublishResult())
    assert summary(result).startswith("nothing due: 0 sources fetched")
    assert "0 files written, 0 unchanged" in summary(result)

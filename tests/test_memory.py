"""Memory on hostile input: whole ``feedsvc run``s measured in a fresh interpreter.

Each case is one real run (fetch over loopback, extract, normalise, store,
stories, publish) with ``--workers 1``, so all of its work happens in the one
process whose peak RSS (VmHWM) is read at the end. The budget is 300 MB; the
figures measured are printed (``pytest -s``) and quoted in docs/security.md.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.configs import feed_source, write_config
from tests.support.httpserver import LoopbackServer
from tests.support.memory import run_measured

BUDGET_MB = 300
RUN = """
import sys
from feedsvc.cli import main
code = main(["-q", "--config", sys.argv[1], "run", "--workers", "1"])
report(exit=code)
"""


def feed(items: list[str]) -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Big</title>'
        + "".join(items)
        + "</channel></rss>"
    ).encode()


def measured_run(tmp_path: Path, server: LoopbackServer, kind: str, body: bytes | None) -> dict:  # type: ignore[type-arg]
    if body is not None:
        server.route("/doc", body=body, headers={"Content-Type": "application/rss+xml"})
    source = feed_source("big", server.url("/doc"), kind=kind)
    config = write_config(tmp_path, [source])
    return run_measured(RUN, str(config), timeout=600)


@pytest.mark.slow
def test_a_10000_entry_feed_stays_under_budget(
    tmp_path: Path, loopback_server: LoopbackServer
) -> None:
    text = "The quayside ferry timetable changes again this week. " * 8
    items = [
        f"<item><title>Report {n}: harbour works at berth {n % 40}</title>"
        f"<guid>r{n}</guid><link>https://big.example/{n}</link>"
        f"<description>{text} Case {n}.</description></item>"
        for n in range(10_000)
    ]
    result = measured_run(tmp_path, loopback_server, "feed", feed(items))
    assert result["exit"] == 0
    assert result["peak_rss_mb"] < BUDGET_MB, result


@pytest.mark.slow
def test_100kb_titles_stay_under_budget(tmp_path: Path, loopback_server: LoopbackServer) -> None:
    items = [
        f"<item><title>{'Harbour ' * 12_800}{n}</title><guid>t{n}</guid>"
        f"<description>Body {n} about the ferry.</description></item>"
        for n in range(60)
    ]
    body = feed(items)
    assert len(body) > 6_000_000
    result = measured_run(tmp_path, loopback_server, "feed", body)
    assert result["exit"] == 0
    assert result["peak_rss_mb"] < BUDGET_MB, result


@pytest.mark.slow
def test_a_50mb_page_is_refused_at_the_size_limit_under_budget(
    tmp_path: Path, loopback_server: LoopbackServer
) -> None:
    def page() -> list[bytes]:
        para = b"<p>Paragraph about the quayside works and the ferry schedule.</p>" * 1000
        return [b"<html><body><article>", *([para] * 790), b"</article></body></html>"]

    loopback_server.route("/doc", chunks=page, headers={"Content-Type": "text/html"})
    result = measured_run(tmp_path, loopback_server, "page", None)
    assert result["exit"] == 1  # the source failed: body over max_body_size (10 MiB)
    assert result["peak_rss_mb"] < BUDGET_MB, result
    assert loopback_server.body_bytes_sent < 30 * 1024 * 1024


@pytest.mark.slow
def test_the_largest_page_extracted_stays_under_budget(
    tmp_path: Path, loopback_server: LoopbackServer
) -> None:
    """Just under the 2 MiB page limit: the most extraction will ever chew on."""
    para = "<p>Paragraph {n} about the quayside works and the ferry schedule, in detail.</p>"
    body = "".join(para.format(n=n) for n in range(50_000))
    page = f"<html><body><article><h1>Works</h1>{body}</article></body></html>".encode()
    page = page[: 2 * 1024 * 1024 - 100] + b"</article></body></html>"
    loopback_server.route("/doc", body=page, headers={"Content-Type": "text/html"})
    result = measured_run(tmp_path, loopback_server, "page", None)
    assert result["exit"] == 0
    assert result["peak_rss_mb"] < BUDGET_MB, result

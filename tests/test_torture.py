"""Every document of feedparser's own torture corpus, served over HTTP, through a full run.

The run must finish without an unhandled exception or an internal error on any
source, and nothing it publishes may carry script, event handlers or
``javascript:`` URLs.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from feedsvc.service import Service
from tests.support.configs import feed_source, write_config
from tests.support.httpserver import LoopbackServer

HEADER = re.compile(rb"^Header:\s*([A-Za-z-]+):\s*(.+?)\s*$", re.MULTILINE)
UNSAFE = re.compile(r"<script|javascript:|\bon(error|load|click|mouseover)\s*=", re.IGNORECASE)


def corpus(shared_dir: Path) -> list[Path]:
    root = shared_dir / "torture" / "feedparser"
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix in {".xml", ".json"})


def declared_headers(body: bytes) -> dict[str, str]:
    """The response headers a torture case says it assumes (its ``Header:`` lines)."""
    head = body[:2000]
    return {name.decode(): value.decode("latin-1") for name, value in HEADER.findall(head)}


def unsafe_published(output: Path) -> list[str]:
    found = []
    for path in output.rglob("*"):
        if path.suffix in {".rss", ".atom"}:
            text = path.read_text(encoding="utf-8")
            # content is escaped inside XML: unescape the markup characters before looking
            text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
        elif path.suffix == ".json":
            text = json.dumps(json.loads(path.read_text(encoding="utf-8")), ensure_ascii=False)
        else:
            continue
        found += [f"{path.name}: {m.group(0)}" for m in UNSAFE.finditer(text)]
    return found


@pytest.mark.slow
@pytest.mark.shared
def test_torture_corpus_runs_clean(tmp_path: Path, shared_dir: Path) -> None:
    files = corpus(shared_dir)
    assert len(files) > 2000
    with LoopbackServer() as server:
        sources = []
        for i, path in enumerate(files):
            body = path.read_bytes()
            server.route(f"/t{i}", body=body, headers=declared_headers(body))
            sources.append(feed_source(f"t{i:04d}", server.url(f"/t{i}"), title=path.stem))
        config = write_config(
            tmp_path, sources, feed_size=1000, fetch={"concurrency": 32, "per_host": 32}
        )
        result = Service.from_path(config).run_once(force=True)

    assert len(result.sources) == len(files)
    internal = [r for r in result.sources if "internal error" in (r.error or "")]
    assert internal == []
    ok = [r for r in result.sources if r.status == "ok"]
    assert len(ok) > 0.9 * len(files)  # the corpus is mostly usable, if odd
    assert result.published is not None and result.published.written
    assert unsafe_published(tmp_path / "output") == []

"""Every document of feedparser's own torture corpus, served over HTTP, through a full run.

The run must finish without an unhandled exception or an internal error on any
source, and nothing it publishes may carry script, event handlers, styles,
frames, forms or ``javascript:``/``data:`` URLs: every published feed and page
is parsed, and every HTML payload in it parsed again (``support.unsafe``).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from feedsvc.service import Service
from tests.support.configs import feed_source, write_config
from tests.support.httpserver import LoopbackServer
from tests.support.unsafe import published_unsafe, unsafe_in_html

HEADER = re.compile(rb"^Header:\s*([A-Za-z-]+):\s*(.+?)\s*$", re.MULTILINE)


def corpus(shared_dir: Path) -> list[Path]:
    root = shared_dir / "torture" / "feedparser"
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix in {".xml", ".json"})


def declared_headers(body: bytes) -> dict[str, str]:
    """The response headers a torture case says it assumes (its ``Header:`` lines)."""
    head = body[:2000]
    return {name.decode(): value.decode("latin-1") for name, value in HEADER.findall(head)}


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
    assert published_unsafe(tmp_path / "output") == []


def run_corpus(tmp_path: Path, files: list[Path]) -> Service:
    with LoopbackServer() as server:
        sources = []
        for i, path in enumerate(files):
            body = path.read_bytes()
            server.route(f"/t{i}", body=body, headers=declared_headers(body))
            sources.append(feed_source(f"t{i:04d}", server.url(f"/t{i}"), title=path.stem))
        config = write_config(
            tmp_path, sources, feed_size=1000, fetch={"concurrency": 32, "per_host": 32}
        )
        service = Service.from_path(config)
        service.run_once(force=True)
    return service


@pytest.mark.slow
@pytest.mark.shared
def test_nothing_from_the_sanitize_cases_reaches_a_published_feed_or_page(
    tmp_path: Path, shared_dir: Path
) -> None:
    files = sorted((shared_dir / "torture" / "feedparser" / "wellformed" / "sanitize").glob("*"))
    assert len(files) > 700
    run_corpus(tmp_path, files)
    output = tmp_path / "output"
    published = list(output.rglob("*.rss"))
    assert len(published) > 700  # one feed per case, and the stories and tag feeds
    assert published_unsafe(output) == []


@pytest.mark.parametrize(
    ("markup", "found"),
    [
        ("<p onclick='x()'>a</p>", "onclick"),
        ("<a href=' jav&#x09;ascript:alert(1)'>a</a>", "href"),
        ("<a href='DATA:text/html,x'>a</a>", "href"),
        ("<img src='vbscript:x'>", "src"),
        ("<img srcset='a.png 1x, javascript:x 2x'>", "srcset"),
        ("<div style='background:url(x)'>a</div>", "style"),
        ("<svg><circle/></svg>", "<svg>"),
        ("<form action='/x'><input></form>", "<form>"),
        ("<iframe src='https://x.example/'></iframe>", "<iframe>"),
        ("<SCRIPT>alert(1)</SCRIPT>", "<script>"),
    ],
)
def test_the_checker_itself_finds_unsafe_markup(markup: str, found: str) -> None:
    problems = unsafe_in_html(markup, "case")
    assert problems and found in problems[0]


def test_the_checker_passes_safe_markup() -> None:
    safe = (
        "<p>Ferry <a href='https://x.example/a?b=c'>times</a> <img src='/i.png'> <em>now</em></p>"
    )
    assert unsafe_in_html(safe, "case") == []


def test_the_checker_reads_every_format(tmp_path: Path) -> None:
    (tmp_path / "a.rss").write_text(
        '<rss xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel><item>'
        "<description>&lt;p onload=x&gt;a&lt;/p&gt;</description>"
        "<content:encoded><![CDATA[<script>x</script>]]></content:encoded>"
        "<link>javascript:alert(1)</link></item></channel></rss>"
    )
    (tmp_path / "a.atom").write_text(
        '<feed xmlns="http://www.w3.org/2005/Atom"><entry><content type="html">'
        "&lt;iframe src=x&gt;&lt;/iframe&gt;</content>"
        '<link href="data:text/html,x"/></entry></feed>'
    )
    (tmp_path / "a.json").write_text(
        '{"items": [{"content_html": "<a href=\\"javascript:x\\">a</a>", "url": "data:x"}]}'
    )
    (tmp_path / "index.html").write_text("<html><body><p onmouseover=x>a</p></body></html>")
    found = published_unsafe(tmp_path)
    assert len(found) == 8, found

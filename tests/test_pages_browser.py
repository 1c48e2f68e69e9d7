"""The pages in a real browser: headless Chromium loads them from ``feedsvc serve``'s app.

The samples are published (five outlets, one of them a story told by all), the
output is served by the same app ``feedsvc serve`` runs, and Chromium
(``make test`` installs Debian's package, ``tests/support/install-chromium.sh``)
loads the front page, the ferry story's page and the source directory, on a
desktop screen and a phone's, in light and dark mode. It checks what a reader gets: no console
errors, no blocked or failed loads (the Content-Security-Policy allows only
the inlined style sheet and the local icon), no request beyond the server,
the comparison visible in the rendered text, the style sheet applied (dark
background in dark mode), nothing wider than a phone's screen, and a
screenshot of each that is a real image. Without Chromium it skips with the
reason, and fails in CI.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from feedsvc.serve import Server, create_app
from feedsvc.service import Service
from tests.support.browser import Chromium, Tab, chromium, find_chromium
from tests.support.configs import write_config
from tests.test_pages import sample_sources

pytestmark = pytest.mark.slow

NOW = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
PHONE = (375, 740)
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chromium]:
    executable = find_chromium()
    if executable is None:
        reason = "no chromium on PATH (make test installs it: tests/support/install-chromium.sh)"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    with chromium(executable, tmp_path_factory.mktemp("chromium") / "profile") as running:
        yield running


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, repo_dir: Path) -> Iterator[tuple[str, Path]]:
    """The samples published and served as ``feedsvc serve`` serves them: (base URL, output)."""
    directory = tmp_path_factory.mktemp("site")
    config = write_config(directory, sample_sources(repo_dir / "samples"))
    Service.from_path(config, clock=lambda: NOW).run_once(force=True, workers=1)
    output = directory / "output"
    server = Server(create_app(output, cache_seconds=60), "127.0.0.1", 0)
    server.start()
    try:
        yield server.url.rstrip("/"), output
    finally:
        server.stop()


def ferry_page(output: Path) -> str:
    """The path of the story page of the ferry story (the one five outlets reported)."""
    (page,) = [
        p for p in (output / "stories").glob("*.html") if "5 outlets" in p.read_text("utf-8")
    ]
    return page.relative_to(output).as_posix()


def visit(tab: Tab, url: str) -> str:
    """Load ``url`` and return the text the browser renders, checking nothing went wrong."""
    tab.load(url)
    assert tab.problems == [], (tab.problems, tab.requests)
    origin = url.split("/", 3)[:3]
    assert all(r.split("/", 3)[:3] == origin for r in tab.requests), tab.requests
    text: str = tab.evaluate("document.body.innerText")
    return text


def fits(tab: Tab) -> bool:
    """Whether nothing on the page is wider than the screen (no sideways scrolling)."""
    return bool(
        tab.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")
    )


def test_the_story_page_shows_the_comparison(
    browser: Chromium, site: tuple[str, Path], tmp_path: Path
) -> None:
    base, output = site
    tab = browser.new_tab()
    text = visit(tab, f"{base}/{ferry_page(output)}")
    assert "What differs" in text and "How each outlet reported it" in text
    for outlet in ("The Harbour Gazette", "Valley Wire", "Metro Daily", "Riverside Chronicle"):
        assert outlet in text
    assert "Figures that differ" in text or "Only one outlet mentions" in text
    assert f"{base}/favicon.svg" in tab.requests  # the icon loads (the policy allows it)
    shown = tab.evaluate(
        "getComputedStyle(document.querySelector('#differences')).display !== 'none'"
    )
    assert shown
    assert tab.screenshot(tmp_path / "story.png").startswith(PNG)

    tab.viewport(*PHONE, mobile=True)
    text = visit(tab, f"{base}/{ferry_page(output)}")
    assert "What differs" in text and fits(tab)
    assert tab.screenshot(tmp_path / "story-phone.png").startswith(PNG)


def test_the_front_page_on_a_phone_in_dark_mode(
    browser: Chromium, site: tuple[str, Path], tmp_path: Path
) -> None:
    base, _ = site
    tab = browser.new_tab()
    tab.viewport(*PHONE, mobile=True)
    tab.colour_scheme("dark")
    text = visit(tab, f"{base}/")
    assert "Latest stories" in text and "Storm tears ramp from Kilbrannan Pier" in text
    assert "5 outlets" in text and "Compare coverage" in text
    assert "5 sources: none failing" in text and "Every source, its health" in text
    assert fits(tab)
    background = tab.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(23, 25, 27)"  # the dark palette of style.css
    assert tab.screenshot(tmp_path / "index-dark.png").startswith(PNG)

    tab.colour_scheme("light")
    visit(tab, f"{base}/")
    assert tab.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(253, 253, 251)"


def test_the_source_directory_on_a_phone(
    browser: Chromium, site: tuple[str, Path], tmp_path: Path
) -> None:
    base, _ = site
    tab = browser.new_tab()
    tab.viewport(*PHONE, mobile=True)
    text = visit(tab, f"{base}/sources.html")
    assert "Valley Wire" in text and "Lowmere Drops" in text and "\nok\n" in text, text
    hidden = tab.evaluate("getComputedStyle(document.querySelector('.health thead')).display")
    assert hidden == "none"  # on a phone each source is a block, its fields labelled
    assert fits(tab)
    assert tab.screenshot(tmp_path / "sources-phone.png").startswith(PNG)

"""The HTML pages publish writes: valid HTML5, escaped, and the story page's comparison.

Every page of a publish over the samples is parsed with html5lib (the HTML5
parsing algorithm; any parse error fails) and checked for what a parser does
not check (``tests/support/pages.py``: a language, one title and one h1,
unique ids, nothing loaded or run, links that lead to files that exist). The
Nara seeds, ingested as two ``file`` sources, must give one story page that
shows both outlets, 136 and 183 as differing figures and Josei / Chosei as one
name spelled two ways, with none of the scraped page's teasers.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import feedparser
import pytest
import yaml
from lxml import html as lxml_html

from feedsvc.config_types import Settings, SourceConfig
from feedsvc.publish.pageplan import index_page, moved_page
from feedsvc.publish.pages import render_page
from feedsvc.publish.pagespec import SourcesSummary
from feedsvc.publish.plan import entry_from_story, newest_first, story_page_path
from feedsvc.service import Service
from feedsvc.store import Store
from feedsvc.types import FeedListing, FetchIntent, StoryUpdate, StoryView, TagOrigin
from tests.support.configs import write_config
from tests.support.pages import all_page_problems, html_errors
from tests.support.samples import sample_sources as samples_as_sources
from tests.test_stories_service import article, assignment, seed_articles

NOW = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
# The day after the Nara summit: the seeds are news then.
NARA_NOW = datetime(2026, 1, 14, 9, 0, tzinfo=UTC)
KOREAN_PAGE = "000_a2bfeec671205e6e.txt"
JAPANESE_REPORT = "004_91ba093df1420094.txt"
# The scraped page's three unrelated teasers, in words only they use.
REPORTS = '//*[@id="reports"]'
DIFFERENCES = '//*[@id="differences"]'
META = "//h1/following-sibling::p[1]"
TEASERS = ("Supreme Court", "Tax Threat", "Saebyul", "Kim Jong Un", "Sim Eun Kyeong", "Lee Joo Sil")


def sample_sources(samples: Path) -> list[dict[str, Any]]:
    """The repository's sample outlets (one story told by four of them), Riverside tagged."""
    return samples_as_sources(samples, riverside_tags=("coast",))


def seed_sources(seeds: Path, *which: str) -> list[dict[str, Any]]:
    """The Nara seeds as file sources, one outlet each."""
    outlets = {
        KOREAN_PAGE: {"name": "korea-web", "title": "Korea Web Daily"},
        JAPANESE_REPORT: {"name": "nara-wire", "title": "Nara Wire"},
    }
    return [
        {**outlets[name], "kind": "file", "path": str(seeds / name), "tags": ["korea-japan"]}
        for name in which
    ]


def run(tmp_path: Path, sources: list[dict[str, Any]], now: datetime = NOW) -> Path:
    """One run over ``sources`` at ``now``; the output directory."""
    config = write_config(tmp_path, sources)
    Service.from_path(config, clock=lambda: now).run_once(force=True, workers=1)
    return tmp_path / "output"


def text_of(path: Path, where: str = "//body") -> str:
    """The text a reader sees in the one part of a page that the XPath ``where`` picks."""
    root = lxml_html.fromstring(path.read_bytes())
    (part,) = root.xpath(where)
    return " ".join(part.text_content().split())


def story_pages(output: Path) -> list[Path]:
    return sorted((output / "stories").glob("*.html"))


def test_every_page_of_the_samples_is_valid_html5_with_working_links(
    tmp_path: Path, repo_dir: Path
) -> None:
    output = run(tmp_path, sample_sources(repo_dir / "samples"))
    pages = sorted(p.relative_to(output).as_posix() for p in output.rglob("*.html"))
    assert "index.html" in pages and "tags/coast.html" in pages
    assert "sources/valley-wire.html" in pages
    with Service.from_path(tmp_path / "sources.yaml").open_store() as store:
        views = store.stories_by_id(store.story_ids())
    shared = {story_page_path(v.id) for v in views if v.outlets >= 2}
    assert len(shared) >= 1 and len(views) >= 10
    # a page for each story of two outlets or more, none for a story of one
    assert {p for p in pages if p.startswith("stories/")} == shared
    assert all_page_problems(output) == []


def test_the_front_page_lists_stories_tags_with_subscribe_links_and_sums_up_the_sources(
    tmp_path: Path, repo_dir: Path
) -> None:
    output = run(tmp_path, sample_sources(repo_dir / "samples"))
    index = (output / "index.html").read_text(encoding="utf-8")
    root = lxml_html.fromstring(index.encode())
    alternates = {e.get("href") for e in root.xpath('//link[@rel="alternate"]')}
    assert {"http://feeds.test/tags/coast.atom", "http://feeds.test/tags/coast.rss"} <= alternates
    assert 'href="feeds.opml"' in index
    # the ferry story: told by five outlets, linked to its page
    ferry = [a for a in root.xpath("//a[@href]") if "Kilbrannan" in a.text_content()]
    assert any(a.get("href").startswith("stories/") for a in ferry)
    assert "5 outlets" in text_of(output / "index.html")
    for href in ("tags/coast.atom", "tags/coast.rss", "tags/coast.json"):
        assert f'href="{href}"' in index
    summary = text_of(output / "index.html", '//*[@id="sources"]')
    assert "5 sources: none failing, as of 20 Nov 2026" in summary  # from the run's clock
    assert "08:00 UTC. Every source, its health and its feeds." in summary
    assert root.xpath('//*[@id="sources"]//a/@href') == ["sources.html"]
    # every source's health and feeds are in the source directory, one page of five
    directory = (output / "sources.html").read_text(encoding="utf-8")
    rows = lxml_html.fromstring(directory.encode()).xpath("//table//tbody/tr")
    assert [row.get("id") for row in rows] == [  # by title
        "source-lowmere-drops",
        "source-metro-daily",
        "source-riverside",
        "source-harbour-gazette",
        "source-valley-wire",
    ]
    health = text_of(output / "sources.html", "//table")
    assert "Valley Wire" in health and "ok" in health and "20 Nov 2026" in health
    assert 'href="sources/valley-wire.rss"' in directory
    assert not list(output.glob("sources-*.html"))
    # a source's own page advertises its feed and links its row in the directory
    own = lxml_html.fromstring((output / "sources/valley-wire.html").read_bytes())
    assert set(own.xpath('//head/link[@rel="alternate"]/@href')) == {
        f"http://feeds.test/sources/valley-wire.{ext}" for ext in ("rss", "atom", "json")
    }
    assert "../sources.html#source-valley-wire" in own.xpath("//a/@href")


def test_every_feed_links_a_page_that_was_published(tmp_path: Path, repo_dir: Path) -> None:
    """A feed's web page (its HTML link, JSON Feed's home page) is its source's or tag's page."""
    output = run(tmp_path, sample_sources(repo_dir / "samples"))
    feeds = sorted(p for p in output.rglob("*") if p.suffix in (".rss", ".atom", ".json"))
    assert len(feeds) >= 3 * 7
    for feed in feeds:
        if feed.suffix == ".json":
            home = json.loads(feed.read_bytes())["home_page_url"]
        else:
            parsed = feedparser.parse(feed.read_bytes())
            (home,) = [ln.href for ln in parsed.feed.links if ln.rel == "alternate"]
        page = home.removeprefix("http://feeds.test/")
        own = feed.relative_to(output).with_suffix(".html").as_posix()
        expected = "index.html" if feed.stem == "all" else own
        assert page == expected and (output / page).is_file(), (feed, home)


@pytest.mark.shared
def test_the_nara_seeds_make_one_story_page_comparing_both_outlets(
    tmp_path: Path, shared_dir: Path
) -> None:
    sources = seed_sources(shared_dir / "seeds", KOREAN_PAGE, JAPANESE_REPORT)
    output = run(tmp_path, sources, NARA_NOW)
    (page,) = story_pages(output)
    assert html_errors(page.read_bytes()) == []
    reports = text_of(page, REPORTS)
    assert "Korea Web Daily" in reports and "Nara Wire" in reports
    differences = text_of(page, DIFFERENCES)
    figures = differences.split("Figures that differ", 1)[1].split("One name", 1)[0]
    assert re.search(r"\b136, says Korea Web Daily\b", figures)
    assert re.search(r"\b183, says Nara Wire\b", figures)
    spellings = differences.split("One name, spelled differently", 1)[1]
    assert re.search(r"\bJosei / Chosei\b|\bChosei / Josei\b", spellings)
    assert "88-minute" in differences.split("Only one outlet mentions", 1)[1]
    whole = text_of(page)
    for teaser in TEASERS:
        assert teaser not in whole, teaser
    assert all_page_problems(output) == []


def test_a_story_keeps_its_page_as_an_outlet_joins(tmp_path: Path, repo_dir: Path) -> None:
    sources = sample_sources(repo_dir / "samples")
    output = run(tmp_path, [s for s in sources if s["name"] != "riverside"])
    ferry = [p for p in story_pages(output) if "4 outlets" in text_of(p, META)]
    assert len(ferry) == 1
    before = text_of(ferry[0], REPORTS)
    assert "Riverside Chronicle" not in before

    run(tmp_path, sources)  # one more outlet joins the ferry story
    assert "5 outlets" in text_of(ferry[0], META)
    assert "Riverside Chronicle" in text_of(ferry[0], REPORTS)
    assert "joined the story 20 Nov 2026" in text_of(ferry[0], REPORTS)


HOSTILE = """<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<title>Quay &lt;script&gt;alert(1)&lt;/script&gt; reopens</title>
<meta name="author" content="A &quot;Quote&quot; &lt;b&gt;Writer&lt;/b&gt;">
<meta name="date" content="2026-11-18"></head>
<body><article><h1>Quay &lt;script&gt;alert(1)&lt;/script&gt; reopens</h1>
<p>The quay reopened on Tuesday. <img src=x onerror=alert(2)> Forty boats came back.</p>
<p>Harbour master \u0001Ida Lund said the <b>repairs</b> cost 40,000 crowns.</p>
</article></body></html>
"""


def test_what_outlets_wrote_is_escaped_on_every_page(tmp_path: Path) -> None:
    outlets = []
    for name in ("drops", "quay-post"):  # two outlets with one story: it has a page
        (tmp_path / name).mkdir()
        (tmp_path / name / "quay.html").write_text(HOSTILE, encoding="utf-8")
        outlets.append(
            {"name": name, "kind": "file", "path": str(tmp_path / name), "tags": ["quay"]}
        )
    output = run(tmp_path, outlets)
    assert len(story_pages(output)) == 1
    pages = [
        output / "index.html",
        output / "tags/quay.html",
        output / "sources/drops.html",
        *story_pages(output),
    ]
    for page in pages:
        data = page.read_bytes()
        assert b"<script" not in data and b"<img" not in data and b"onerror" not in data
        assert b"\x01" not in data
        assert html_errors(data) == []
    assert text_of(story_pages(output)[0], "//h1").startswith("Quay")
    assert all_page_problems(output) == []


# Bidirectional embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069).
BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")


def test_bidi_overrides_in_outlet_tag_and_report_text_do_not_reverse_what_follows(
    tmp_path: Path,
) -> None:
    # An unclosed RIGHT-TO-LEFT OVERRIDE in an outlet's title (from an imported
    # OPML file, say) displayed the rest of its line backwards: "183, says
    # Outlet \u202e: ... 183 people" read "381" in the browser.
    outlets = []
    for name in ("drops", "quay-post"):
        (tmp_path / name).mkdir()
        body = HOSTILE.replace("Forty boats", "Forty \u202eboats \u2067came")
        (tmp_path / name / "quay.html").write_text(body, encoding="utf-8")
        outlets.append(
            {
                "name": name,
                "title": f"Outlet \u202e{name}",
                "kind": "file",
                "path": str(tmp_path / name),
                "tags": ["quay"],
            }
        )
    config = write_config(tmp_path, outlets)
    document = yaml.safe_load(config.read_text())
    document["tags"] = {"quay": {"title": "Quay \u202eside \u2066news"}}
    config.write_text(yaml.safe_dump(document, sort_keys=False))
    Service.from_path(config, clock=lambda: NOW).run_once(force=True, workers=1)
    output = tmp_path / "output"
    (story,) = story_pages(output)
    for page in (
        output / "index.html",
        output / "tags/quay.html",
        output / "sources/drops.html",
        story,
    ):
        text = page.read_text(encoding="utf-8")
        assert BIDI_CONTROLS.findall(text) == [], page.name
    assert "Outlet drops" in text_of(story, REPORTS)
    assert "Quay side news" in text_of(output / "tags/quay.html", "//h1")


def test_without_tags_every_page_links_only_what_exists(tmp_path: Path) -> None:
    # Every page's "Tags" link led to index.html#tags, a section the front page
    # left out when there were no tags.
    outlets = []
    for name in ("drops", "quay-post"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "quay.html").write_text(HOSTILE, encoding="utf-8")
        outlets.append({"name": name, "kind": "file", "path": str(tmp_path / name)})
    output = run(tmp_path, outlets)
    assert len(story_pages(output)) == 1 and not (output / "tags").exists()
    assert all_page_problems(output) == []
    assert "No tags" in text_of(output / "index.html", '//*[@id="tags"]')


def test_the_store_reads_what_story_pages_need_on_each_engine(store_url: str) -> None:
    with Store.open(store_url) as store:
        seed_articles(store)
        first = [StoryUpdate("story-a", "s", "a", 1), StoryUpdate("story-b", "s", "b", 1)]
        store.save_stories([assignment("a", "story-a"), assignment("b", "story-b")], first, {}, NOW)
        merged = [StoryUpdate("story-a", "s", "a", 3)]
        store.save_stories([assignment("c", "story-a")], merged, {"story-b": "story-a"}, NOW)

        assert store.story_ids() == ["story-a"]
        (view,) = store.stories_by_id(["story-b", "story-a", "story-unknown"])
        assert [a.id for a in (view.representative, *view.others)] == ["a", "b", "c"]
        assert store.story_joins(["story-a"]) == {("s", k): NOW for k in "abc"}
        assert store.aliases_into(["story-a"]) == {"story-b": "story-a"}
        found = store.stories_of_articles([("s", "a"), ("s", "c"), ("s", "unknown")])
        assert found == {("s", "a"): ("story-a", 1), ("s", "c"): ("story-a", 1)}
        # a count the caller read moments ago (an earlier chunk of one publish) is taken as given
        again = store.stories_of_articles([("s", "b")], known={"story-a": 7})
        assert again == {("s", "b"): ("story-a", 7)}
        assert store.stories_of_articles([("s", "b")], known={"other": 7}) == {
            ("s", "b"): ("story-a", 1)
        }


def test_story_pages_read_their_members_without_the_members_tags(store_url: str) -> None:
    with Store.open(store_url) as store:
        seed_articles(store)
        origin = TagOrigin("politics", "rule", "election")
        tagged = replace(article("d", 4), tags=("politics",), tag_origins=(origin,))
        intent = FetchIntent(source="s", fetched_at=NOW, status="ok", next_fetch_after=NOW)
        store.save_batch("s", [tagged], intent)
        updates = [StoryUpdate("story-a", "s", "a", 2)]
        placed = [assignment("a", "story-a"), assignment("d", "story-a")]
        store.save_stories(placed, updates, {}, NOW)

        (full,) = store.stories_by_id(["story-a"])
        (light,) = store.stories_by_id(["story-a"], tags=False)
        members = {a.id: a for a in (full.representative, *full.others)}
        assert members["d"].tags == ("politics",)
        untagged = {a.id: a for a in (light.representative, *light.others)}
        assert untagged == {k: replace(a, tags=(), tag_origins=()) for k, a in members.items()}
        assert (light.members, light.outlets, light.updated) == (
            full.members,
            full.outlets,
            full.updated,
        )


def test_stories_of_one_time_are_listed_on_the_front_page_as_in_the_feeds() -> None:
    """Six stories published at the same hour: the front page lists them as all.atom does."""
    sources = {"s": SourceConfig(name="s", title="S", kind="feed", url="http://s.test/")}
    views = [StoryView(f"story-{i}", article(i, 5), (), 1, 1, NOW) for i in "abcdef"]
    feed = newest_first([entry_from_story(v, sources) for v in views], len(views))
    by_id = [v.representative.title for v in views]  # the order the store reads them in
    assert [e.title for e in feed] != by_id  # ties go by guid in a feed, not by story id
    tag = FeedListing("tags/t", "T", "", "tag", "t")
    page = index_page(
        [tag], SourcesSummary(), stories=views, tag_stories={"t": views}, sources=sources
    )
    assert [c.title for c in page.stories] == [e.title for e in feed]
    assert [c.title for c in page.tags[0].stories] == [e.title for e in feed]


def test_a_merged_away_id_keeps_a_page_pointing_to_the_survivor(tmp_path: Path) -> None:
    settings = Settings(
        database_url="sqlite://", data_dir=tmp_path, output_dir=tmp_path, base_url="http://f.test/"
    )
    ((path, data),) = render_page(moved_page("story-b", "story-a"), settings)
    assert path == "stories/story-b.html"
    assert html_errors(data) == []
    assert b'href="story-a.html"' in data


@pytest.mark.slow  # a worker pool starts
def test_a_full_publish_rewrites_every_page_in_worker_processes_and_prunes_stale_ones(
    tmp_path: Path, repo_dir: Path
) -> None:
    output = run(tmp_path, sample_sources(repo_dir / "samples"))
    before = {p: p.read_bytes() for p in output.rglob("*.html")}
    stale = output / "stories" / "story-0000000000000000.html"
    stale.write_bytes(b"<!doctype html><title>gone</title>")

    result = Service.from_path(tmp_path / "sources.yaml", clock=lambda: NOW).publish()
    assert result.removed == ("stories/story-0000000000000000.html",)
    assert result.written == ()  # pages rendered in the pool are byte-identical
    assert {p: p.read_bytes() for p in output.rglob("*.html")} == before

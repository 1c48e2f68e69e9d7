"""Stories through the whole service: grouping the sample outlets, stable ids, feeds, CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import feedparser
import pytest

from feedsvc.cli import EXIT_OK, EXIT_USAGE, main
from feedsvc.service import Service
from feedsvc.store import Store
from feedsvc.types import Article, FetchIntent, StoryAssignment, StoryUpdate
from tests.support.configs import write_config
from tests.support.samples import sample_sources

FERRY = {
    "harbour-gazette": "harbourgazette:article:48213",
    "valley-wire": "tag:valleywire.example,2026-11-18:story/VW-20261118-0017",
    "metro-daily": "md-2026-11-18-0034",
}
NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def sample_config(directory: Path, samples: Path, *, drop_riverside: bool = False) -> Path:
    return write_config(directory, sample_sources(samples, drop_riverside=drop_riverside))


def service_for(config: Path) -> Service:
    return Service.from_path(config, clock=lambda: NOW)


def ferry_story(service: Service) -> str:
    with service.open_store() as store:
        ids = {store.story_of(source, article_id) for source, article_id in FERRY.items()}
    assert len(ids) == 1 and None not in ids, ids
    (story,) = ids
    assert story is not None
    return story


def read_feed(path: Path) -> feedparser.FeedParserDict:
    parsed = feedparser.parse(path.read_bytes())
    assert parsed.bozo == 0
    return parsed


def test_sample_ferry_reports_form_one_story_and_decoys_stay_apart(
    tmp_path: Path, repo_dir: Path
) -> None:
    service = service_for(sample_config(tmp_path, repo_dir / "samples"))
    service.run_once(force=True, workers=1)
    story = ferry_story(service)

    with service.open_store() as store:
        members = store.story_members(story)
        views = store.recent_stories(100)
    assert {a.source for a in members} == {
        "harbour-gazette", "valley-wire", "metro-daily", "lowmere-drops", "riverside",
    }  # fmt: skip
    assert len(members) == 5  # one drop, one page, and three feed items
    decoys = [v for v in views if v.id != story]
    assert all(len(v.others) == 0 for v in decoys), [v.representative.title for v in decoys]
    assert len(views) == 15  # 19 articles, 5 of them one story


def test_all_stories_feed_carries_each_story_once_with_also_reported_by(
    tmp_path: Path, repo_dir: Path
) -> None:
    service = service_for(sample_config(tmp_path, repo_dir / "samples"))
    service.run_once(force=True, workers=1)
    output = tmp_path / "output"

    everything = read_feed(output / "all.atom")
    assert len(everything.entries) == 15
    (ferry,) = [e for e in everything.entries if "Also reported by" in e.content[0].value]
    # the earliest member with a public link stands for the story (the local drop has none)
    assert (
        ferry.link == "https://harbourgazette.example/news/2026/11/18/storm-kilbrannan-pier-ferries"
    )
    links = [link for link in ferry.get("links", []) if link.rel == "related"]
    related = {link.href for link in links if link.get("title") != "Compare coverage"}
    with service.open_store() as store:
        members = store.story_members(ferry_story(service))
    linked = {a.url for a in members if a.url and a.url != ferry.get("link")}
    assert related == linked and len(related) >= 3  # the drop has no public URL
    # one more related link, to the story's page comparing its outlets
    page = f"http://feeds.test/stories/{ferry_story(service)}.html"
    assert [link.href for link in links if link.get("title") == "Compare coverage"] == [page]
    assert f'<a href="{page}">Compare coverage</a>' in ferry.content[0].value
    assert (output / "stories" / f"{ferry_story(service)}.html").is_file()
    rss = read_feed(output / "all.rss")
    assert len(rss.entries) == 15
    coast = read_feed(output / "tags" / "coast.atom")
    assert sum("Also reported by" in e.content[0].value for e in coast.entries) == 1
    assert len(read_feed(output / "sources" / "harbour-gazette.atom").entries) == 6


def test_story_ids_and_guids_are_stable_when_members_join(tmp_path: Path, repo_dir: Path) -> None:
    samples = repo_dir / "samples"
    first = service_for(sample_config(tmp_path, samples, drop_riverside=True))
    first.run_once(force=True, workers=1)
    story = ferry_story(first)
    guid_before = ferry_guid(tmp_path / "output" / "all.atom")

    later = service_for(sample_config(tmp_path, samples))  # a new process, one more outlet
    later.run_once(force=True, workers=1)

    assert ferry_story(later) == story
    with later.open_store() as store:
        assert store.story_of("riverside", riverside_id(store)) == story
    assert ferry_guid(tmp_path / "output" / "all.atom") == guid_before


def ferry_guid(path: Path) -> str:
    parsed = read_feed(path)
    (entry,) = [e for e in parsed.entries if "Also reported by" in e.content[0].value]
    return str(entry.id)


def riverside_id(store: Store) -> str:
    (article,) = store.recent_articles(5, source="riverside")
    return article.id


def test_rerun_assigns_nothing_twice(tmp_path: Path, repo_dir: Path) -> None:
    service = service_for(sample_config(tmp_path, repo_dir / "samples"))
    service.run_once(force=True, workers=1)
    with service.open_store() as store:
        before = {v.id: len(v.others) for v in store.recent_stories(100)}
    service.run_once(force=True, workers=1)
    service.publish()
    with service.open_store() as store:
        after = {v.id: len(v.others) for v in store.recent_stories(100)}
        assert store.unassigned_texts() == []
    assert after == before


def test_merges_keep_one_id_and_record_the_alias(store_url: str) -> None:
    with Store.open(store_url) as store:
        seed_articles(store)
        store.save_stories(
            [assignment("a", "story-a"), assignment("b", "story-b")],
            [StoryUpdate("story-a", "s", "a", 1), StoryUpdate("story-b", "s", "b", 1)],
            {},
            NOW,
        )
        store.save_stories(
            [assignment("c", "story-a")],
            [StoryUpdate("story-a", "s", "a", 3)],
            {"story-b": "story-a"},
            NOW,
        )
        (view,) = store.recent_stories(10)
        assert view.id == "story-a"
        assert [a.id for a in (view.representative, *view.others)] == ["a", "b", "c"]
        assert store.story_aliases() == {"story-b": "story-a"}
        assert store.story_of("s", "b") == "story-a"
        assert store.story_count() == 1


def test_any_unassigned_says_whether_a_story_round_has_work(store_url: str) -> None:
    with Store.open(store_url) as store:
        assert not store.any_unassigned()
        seed_articles(store)
        assert store.any_unassigned()
        stories = [StoryUpdate(f"story-{i}", "s", i, 1) for i in "abc"]
        store.save_stories([assignment(i, f"story-{i}") for i in "ab"], stories[:2], {}, NOW)
        assert store.any_unassigned()  # c is not in a story yet
        store.save_stories([assignment("c", "story-c")], stories[2:], {}, NOW)
        assert not store.any_unassigned()
        assert store.unassigned_texts() == []


def seed_articles(store: Store) -> None:
    from feedsvc.config_types import SourceConfig

    store.sync_sources([SourceConfig(name="s", title="S", kind="feed", url="http://s.test/")], NOW)
    intent = FetchIntent(source="s", fetched_at=NOW, status="ok", next_fetch_after=NOW)
    store.save_batch("s", [article(i, n) for n, i in enumerate("abc")], intent)


def article(article_id: str, hours: int) -> Article:
    published = NOW - timedelta(hours=10 - hours)
    return Article(
        source="s", id=article_id, url=f"http://s.test/{article_id}", title=f"Title {article_id}",
        summary="", content_html="<p>x</p>", text="x", published=published, updated=None,
        date_estimated=False, content_hash=article_id,
    )  # fmt: skip


def assignment(article_id: str, story: str) -> StoryAssignment:
    return StoryAssignment("s", article_id, story, "new", 0.0)


def test_cli_lists_and_explains_stories(
    tmp_path: Path, repo_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = sample_config(tmp_path, repo_dir / "samples")
    assert main(["-q", "--config", str(config), "run", "--all", "--workers", "1"]) == EXIT_OK
    capsys.readouterr()

    assert main(["-q", "--config", str(config), "stories", "--limit", "50"]) == EXIT_OK
    listing = capsys.readouterr().out
    with service_for(config).open_store() as store:
        assert listing.count("story-") == len(store.recent_stories(50))
    assert "[metro-daily:md-2026-11-18-0034]" in listing

    same = ["harbour-gazette:" + FERRY["harbour-gazette"], "metro-daily:" + FERRY["metro-daily"]]
    assert main(["-q", "--config", str(config), "stories", "explain", *same]) == EXIT_OK
    shown = capsys.readouterr().out
    assert "verdict: same story" in shown
    # and as the rounds stored it: both joined the story (a third report founded it)
    placed = shown.split("placed by the story rounds:\n", 1)[1].splitlines()[:2]
    with service_for(config).open_store() as store:
        story = store.story_of("metro-daily", FERRY["metro-daily"])
        decisions = [store.story_decision(*ref.split(":", 1)) for ref in same]
    assert story is not None
    for name, line, d in zip("AB", placed, decisions, strict=True):
        assert d is not None and d.story_id == story and d.layer in ("near-duplicate", "same-event")
        via = f" via {d.matched}" if d.matched else ""
        assert line.startswith(f"  {name}: {d.layer} {d.score:.3f}{via}, "), line
        assert line.endswith(f"; now in {story}"), line
    # the model's view: each feature's contribution to the log-odds, and their sum
    contributions = shown.split("model (contributions to the log-odds", 1)[1]
    for feature in ("bias", "centroid", "best", "names", "outlet", "= log-odds"):
        assert f"\n  {feature} " in contributions

    museum = ["harbour-gazette:" + FERRY["harbour-gazette"], "metro-daily:md-2026-10-14-0071"]
    assert main(["-q", "--config", str(config), "stories", "explain", *museum]) == EXIT_OK
    shown = capsys.readouterr().out
    assert "verdict: different stories" in shown
    assert "a new story (best candidate " in shown  # the museum report founded its own

    assert (
        main(["-q", "--config", str(config), "stories", "explain", "nope:1", "nope:2"])
        == EXIT_USAGE
    )
    assert "no article 'nope:1'" in capsys.readouterr().err


def test_cluster_command_writes_one_line_per_item(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    items = tmp_path / "items.jsonl"
    rows = [
        {"id": "1", "title": "Flood closes the coast road at Dunmarsh", "text": "", "outlet": "a",
         "published": "2026-11-18T08:00:00Z"},
        {"id": "2", "title": "Coast road at Dunmarsh closed by flooding", "text": "", "outlet": "b",
         "published": "2026-11-18T09:00:00Z"},
        {"id": "3", "title": "Chess prodigy, 11, wins the national title", "text": "",
         "outlet": "c", "published": "2026-11-18T10:00:00Z"},
    ]  # fmt: skip
    items.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert main(["cluster", "--input", str(items)]) == EXIT_OK
    out = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [o["id"] for o in out] == ["1", "2", "3"]
    assert out[0]["story"] != out[2]["story"]


@pytest.mark.shared
def test_seed_reports_are_one_story(tmp_path: Path, shared_dir: Path) -> None:
    config = write_config(
        tmp_path, [{"name": "seeds", "kind": "file", "path": str(shared_dir / "seeds")}]
    )
    service = service_for(config)
    service.run_once(force=True, workers=1)
    with service.open_store() as store:
        (view,) = store.recent_stories(10)
    assert len(view.others) == 1


@pytest.mark.shared
@pytest.mark.parametrize("first", ["000_a2bfeec671205e6e.txt", "004_91ba093df1420094.txt"])
def test_seed_reports_are_one_story_whichever_arrives_first(
    tmp_path: Path, shared_dir: Path, first: str
) -> None:
    """Two runs, one report each, in either order: the second joins the first's story."""
    seeds = shared_dir / "seeds"
    later = next(p.name for p in sorted(seeds.iterdir()) if p.name != first)
    the_day_after = datetime(2026, 1, 14, 9, tzinfo=UTC)
    for names in ([first], [first, later]):
        sources = [
            {"name": f"outlet-{name[:3]}", "kind": "file", "path": str(seeds / name)}
            for name in names
        ]
        service = Service.from_path(write_config(tmp_path, sources), clock=lambda: the_day_after)
        service.run_once(force=True, workers=1)
    with service.open_store() as store:
        views = store.recent_stories(10)
    assert [sorted([v.representative.source, *(o.source for o in v.others)]) for v in views] == [
        ["outlet-000", "outlet-004"]
    ]


@pytest.mark.shared
@pytest.mark.parametrize("workers", [1, 2])
def test_seed_reports_added_after_newer_news_are_one_story(
    tmp_path: Path, shared_dir: Path, repo_dir: Path, workers: int
) -> None:
    """The Nara reports of January come to an instance that holds November's news already.

    They are ten months older than the window: placed among the stories of
    their own days, they are one story, and November's ferry story keeps its
    five outlets.
    """
    samples = sample_sources(repo_dir / "samples")
    seeds = {"name": "seeds", "kind": "file", "path": str(shared_dir / "seeds")}
    late = []
    for sources in (samples, [*samples, seeds]):
        service = service_for(write_config(tmp_path, sources))
        late.append(service.run_once(force=True, workers=workers).timings["stories_late"])
    assert late == [0, 2]  # the sample outlets' news came first; then the two seeds, late
    ferry_story(service)
    with service.open_store() as store:
        views = store.recent_stories(100)
    summit = [v for v in views if v.representative.source == "seeds"]
    assert len(summit) == 1 and len(summit[0].others) == 1
    assert max(len(v.others) for v in views) == 4  # the ferry story: five outlets


@pytest.mark.parametrize("engine_in", ["this process", "a process of its own"])
def test_a_round_in_small_batches_decides_as_one_whole_round(
    tmp_path: Path, repo_dir: Path, store_url: str, engine_in: str
) -> None:
    from feedsvc.assign import assign_stories
    from feedsvc.workers import worker_pool

    service, stored = sample_run(tmp_path, repo_dir)
    with service.open_store() as store:
        whole = {frozenset((a.source, a.id) for a in store.story_members(v.id))
                 for v in store.recent_stories(1000)}  # fmt: skip
    assert sum(len(group) for group in stored.values()) > 12 and len(whole) > 3

    with Store.open(store_url) as store:
        save_unassigned(store, service, stored)
        pending = store.unassigned_texts()
        pages = [store.unassigned_texts(limit=5)]
        while len(pages[-1]) == 5:
            last = pages[-1][-1]
            pages.append(
                store.unassigned_texts(limit=5, after=(last.published, last.source, last.id))
            )
        assert [a for page in pages for a in page] == pending  # keyset paging: each once, in order

        with worker_pool(2 if engine_in == "a process of its own" else 1) as pool:
            # batches of 3: the next one is read, and the last one saved, while one is placed
            result = assign_stories(store, service.story_params, NOW, batch=3, pool=pool)
        assert result.assigned == len(pending) and store.unassigned_texts() == []
        batched = {frozenset((a.source, a.id) for a in store.story_members(v.id))
                   for v in store.recent_stories(1000)}  # fmt: skip
    assert batched == whole


def test_a_round_leaves_the_garbage_collector_as_it_found_it(
    tmp_path: Path, repo_dir: Path, store_url: str
) -> None:
    import gc

    from feedsvc.assign import assign_stories, young_collections_only

    service, stored = sample_run(tmp_path, repo_dir)
    assert gc.isenabled()
    with Store.open(store_url) as store:
        save_unassigned(store, service, stored)
        assert assign_stories(store, service.story_params, NOW, batch=5).assigned > 12
    assert gc.isenabled()  # a round in the main process must not leave it off

    with pytest.raises(RuntimeError), young_collections_only():
        assert not gc.isenabled()
        raise RuntimeError("a round that fails")
    assert gc.isenabled()
    gc.disable()
    try:
        with young_collections_only():
            pass
        assert not gc.isenabled()  # off before, off after
    finally:
        gc.enable()


def sample_run(tmp_path: Path, repo_dir: Path) -> tuple[Service, dict[str, list[Article]]]:
    """The bundled samples fetched, stored and grouped once: the service and its articles."""
    service = service_for(sample_config(tmp_path, repo_dir / "samples"))
    service.run_once(force=True, workers=1)
    with service.open_store() as store:
        names = [s.name for s in service.config.sources]
        return service, store.recent_articles_by_source(names, 1000)


def save_unassigned(store: Store, service: Service, stored: dict[str, list[Article]]) -> None:
    """Save ``stored`` into another store as fetched articles that no story holds yet."""
    store.sync_sources(service.config.sources, NOW)
    for source, group in stored.items():
        intent = FetchIntent(source=source, fetched_at=NOW, status="ok", next_fetch_after=NOW)
        store.save_batch(source, group, intent)


LOADED_PROBE = """
import sys
from datetime import UTC, datetime
from pathlib import Path
from feedsvc.service import Service

HEAVY = ("feedsvc.stories.engine", "feedsvc.assign", "sqlalchemy.dialects.postgresql")
if __name__ == "__main__":
    now = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
    service = Service.from_path(Path(sys.argv[1]), clock=lambda: now)
    for workers in (2, 1):  # two processes, then a thread
        result = service.run_once(force=True, workers=workers)
        placed = int(result.timings["stories_items"])
        print(placed, sorted(m for m in HEAVY if m in sys.modules))
"""


def test_the_main_process_never_loads_the_story_engine(tmp_path: Path, repo_dir: Path) -> None:
    """With workers, the round runs in one; with nothing to place, nothing of it loads at all.

    The engine and its modules would stay in a daemon's (and every cron
    run's) main process for nothing; SQLite needs no PostgreSQL dialect either.
    """
    config = sample_config(tmp_path, repo_dir / "samples")
    with Service.from_path(config).open_store():
        pass  # a new database's migrations load every dialect Alembic knows: done here
    ran = subprocess.run(
        [sys.executable, "-c", LOADED_PROBE, str(config)],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    first, second = ran.stdout.splitlines()[:2]
    assert first == "19 ['feedsvc.assign']", ran.stderr  # placed in a worker
    assert second == "0 ['feedsvc.assign']", ran.stderr  # none waits: no engine loaded here
    # and the stories were placed all the same
    with Service.from_path(config).open_store() as store:
        assert len(store.recent_stories(100)) == 15


EMPTY_ITEM_FEED = """<?xml version="1.0"?>
<rss version="2.0"><channel><title>{name}</title><link>https://{name}.test/</link>
<item><guid isPermaLink="false">{name}-empty</guid>
<pubDate>Sat, 21 Nov 2026 09:00:00 GMT</pubDate></item>
<item><title>{title}</title><link>https://{name}.test/1</link><description>{text}</description>
<pubDate>Sat, 21 Nov 2026 09:05:00 GMT</pubDate></item>
</channel></rss>"""


def test_empty_entries_of_two_outlets_are_not_one_story(tmp_path: Path) -> None:
    """An entry with no title and no text is "(untitled)" to readers, but no words to the engine.

    Read as a word, the placeholder made every empty entry of every outlet one
    story (with "also reported by" links between them).
    """
    texts = {
        "north": ("Harbour crane topples in storm", "A crane fell onto the quay at dawn."),
        "south": ("Orchard festival opens", "Growers show forty kinds of apple this week."),
    }
    sources = []
    for name, (title, text) in texts.items():
        path = tmp_path / f"{name}.xml"
        path.write_text(EMPTY_ITEM_FEED.format(name=name, title=title, text=text))
        sources.append({"name": name, "kind": "file", "path": str(path)})
    service = service_for(write_config(tmp_path, sources))
    service.run_once(force=True, workers=1)
    with service.open_store() as store:
        empty = {name: store.recent_articles(10, source=name) for name in texts}
        stories = {
            name: {a.title: store.story_of(name, a.id) for a in articles}
            for name, articles in empty.items()
        }
    assert stories["north"]["(untitled)"] is not None
    assert stories["north"]["(untitled)"] != stories["south"]["(untitled)"]
    assert len({*stories["north"].values(), *stories["south"].values()}) == 4

"""Incremental publishing: only what changed is rendered; nothing changed renders nothing."""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import feedparser
import pytest
import yaml

from feedsvc import publishing
from feedsvc.config_types import SourceConfig
from feedsvc.errors import PublishError
from feedsvc.publish import directory, entry_from_story
from feedsvc.publish.atomic import StagedWrites
from feedsvc.publish.text import entry_content
from feedsvc.publishing import publish_changes
from feedsvc.service import Service
from feedsvc.store import Store
from feedsvc.types import Article, FetchIntent, PublishResult, StoryAssignment, StoryUpdate
from feedsvc.workers import RenewingPool, worker_pool
from tests.support.configs import feed_source, write_config
from tests.support.httpserver import LoopbackServer
from tests.support.pages import all_page_problems
from tests.test_pages import text_of

NOW = datetime(2031, 3, 4, 12, 0, tzinfo=UTC)
FORMATS = ("rss", "atom", "json")


def rss(*items: tuple[str, str, str]) -> bytes:
    """An RSS feed with one item per (guid, title, text)."""
    body = "".join(
        f"<item><guid>{guid}</guid><title>{title}</title><description>{text}</description>"
        f"<link>https://news.example/{guid}</link>"
        f"<pubDate>Mon, 03 Mar 2031 {10 + n}:00:00 +0000</pubDate></item>"
        for n, (guid, title, text) in enumerate(items)
    )
    channel = f"<channel><title>t</title>{body}</channel>"
    return f'<?xml version="1.0"?><rss version="2.0">{channel}</rss>'.encode()


GULLS = ("g1", "Gulls nest on the lighthouse roof", "Keepers found forty nests on the roof.")
TRAMS = ("t1", "Tram line to the airport opens in May", "The new line has nine stops.")
BAKERY = ("b1", "Bakery wins regional bread prize", "Its rye loaf took first place.")


def publish(service: Service) -> PublishResult:
    """An incremental publish, as the end of a run does it."""
    with service.open_store() as store:
        return publish_changes(service.config, store)


def first_run(service: Service) -> Path:
    """Run once (fetch, group, publish everything); return the output directory."""
    service.run_once(force=True, workers=1)
    return service.config.settings.output_dir


def files(output: Path) -> set[str]:
    return {p.relative_to(output).as_posix() for p in output.rglob("*") if p.is_file()}


def feed_files(*paths: str) -> set[str]:
    return {f"{path}.{ext}" for path in paths for ext in FORMATS}


@pytest.fixture
def setup(tmp_path: Path, loopback_server: LoopbackServer) -> tuple[Service, LoopbackServer]:
    loopback_server.route("/coast.xml", body=rss(GULLS))
    loopback_server.route("/city.xml", body=rss(TRAMS))
    config = write_config(
        tmp_path,
        [
            feed_source("coast", loopback_server.url("/coast.xml"), tags=["nature"]),
            feed_source("city", loopback_server.url("/city.xml"), tags=["transport"]),
        ],
    )
    return Service.from_path(config, clock=lambda: NOW), loopback_server


def test_a_run_with_nothing_new_renders_nothing(setup: tuple[Service, LoopbackServer]) -> None:
    service, _ = setup
    first = service.run_once(force=True, workers=1)
    assert first.published is not None
    output = service.config.settings.output_dir
    assert set(first.published.written) == files(output)
    before = {p: (output / p).stat().st_mtime_ns for p in files(output)}

    again = service.run_once(force=True, workers=1)  # same bytes: no article changes
    assert again.published is not None
    assert again.published.written == again.published.unchanged == ()
    assert again.timings["files_written"] == again.timings["files_unchanged"] == 0
    assert {p: (output / p).stat().st_mtime_ns for p in files(output)} == before


def test_render_workers_end_before_the_commit(
    setup: tuple[Service, LoopbackServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    service, _ = setup
    output = first_run(service)
    (output / "index.html").unlink()  # the next publish renders everything again
    seen: dict[str, list[int]] = {}
    with worker_pool(2) as pool:
        assert isinstance(pool, RenewingPool)
        commit = StagedWrites.commit

        def watched(batch: StagedWrites) -> list[Path]:
            seen["workers"] = pool.processes()
            return commit(batch)

        monkeypatch.setattr(StagedWrites, "commit", watched)
        with service.open_store() as store:
            result = publish_changes(service.config, store, pool=pool)
        rendered = {*result.written, *result.unchanged}
        assert {"index.html", "feeds.opml", *feed_files("all", "sources/coast")} <= rendered
        assert seen == {"workers": []}  # everything was rendered in workers, now ended
        assert pool.submit(abs, -3).result() == 3  # and the pool works on afterwards
    assert files(output) == rendered


def test_a_publisher_with_workers_never_loads_the_rendering_stack(
    setup: tuple[Service, LoopbackServer],
) -> None:
    service, _ = setup
    output = first_run(service)
    before = {p: (output / p).read_bytes() for p in files(output)}
    (output / "index.html").unlink()
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from feedsvc.publishing import publish_changes\n"
        "from feedsvc.service import Service\n"
        "from feedsvc.workers import worker_pool\n"
        "if __name__ == '__main__':\n"
        "    service = Service.from_path(Path(sys.argv[1]))\n"
        "    with service.open_store() as store, worker_pool(2) as pool:\n"
        "        result = publish_changes(service.config, store, full=True, pool=pool)\n"
        "    print(len(result.written) + len(result.unchanged))\n"
        "    print(sorted(m for m in ('feedgen', 'jinja2', 'lxml') if m in sys.modules))\n"
    )
    ran = subprocess.run(
        [sys.executable, "-c", script, str(service.config.path)],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    count, loaded = ran.stdout.split("\n")[:2]
    assert int(count) == len(before)
    assert loaded == "[]", ran.stderr
    assert {p: (output / p).read_bytes() for p in files(output)} == before


def test_a_changed_source_rerenders_its_feeds_only(setup: tuple[Service, LoopbackServer]) -> None:
    service, server = setup
    service.run_once(force=True, workers=1)
    before = {p for p in files(service.config.settings.output_dir) if p.startswith("stories/")}
    server.route("/city.xml", body=rss(TRAMS, BAKERY))

    result = service.run_once(force=True, workers=1)
    assert result.published is not None
    rendered = {*result.published.written, *result.published.unchanged}
    new_stories = {p for p in files(service.config.settings.output_dir) if p.startswith("stories/")}
    assert new_stories == before  # the bakery's story has one outlet: no page of its own
    pages = {"sources/city.html", "tags/transport.html"}
    feeds = feed_files("all", "sources/city", "tags/transport")
    assert rendered == feeds | pages | {"index.html", "feeds.opml", "favicon.svg"}
    assert set(result.published.written) == feeds | pages | {"index.html"}
    output = service.config.settings.output_dir
    titles = [
        e.title for e in feedparser.parse((output / "sources/city.atom").read_bytes()).entries
    ]
    assert titles == [BAKERY[1], TRAMS[1]]
    assert len(feedparser.parse((output / "all.rss").read_bytes()).entries) == 3


def test_an_article_that_loses_a_tag_leaves_that_tags_feed(
    tmp_path: Path, loopback_server: LoopbackServer
) -> None:
    # An updated article that no longer matched a rule kept its story in the
    # tag's feed and page: the publish rendered the tags the story has now,
    # not the ones it lost.
    loopback_server.route("/coast.xml", body=rss(GULLS))
    config = write_config(tmp_path, [feed_source("coast", loopback_server.url("/coast.xml"))])
    document = yaml.safe_load(config.read_text())
    document["tags"] = {
        "birds": {"title": "Birds", "match": ["gull", "gulls"]},
        "roofs": {"title": "Roofs", "match": ["roof", "roofs"]},
        "boats": {"title": "Boats", "match": ["boat", "boats"]},
    }
    config.write_text(yaml.safe_dump(document, sort_keys=False))
    service = Service.from_path(config, clock=lambda: NOW)
    output = first_run(service)

    def titles(path: str) -> list[str]:
        return [e.title for e in feedparser.parse((output / path).read_bytes()).entries]

    assert titles("tags/birds.atom") == titles("tags/roofs.atom") == [GULLS[1]]
    assert titles("tags/boats.atom") == []
    boats = (GULLS[0], "Boats return to the lighthouse roof", "Keepers counted forty boats.")
    loopback_server.route("/coast.xml", body=rss(boats))

    result = service.run_once(force=True, workers=1)
    assert result.published is not None
    assert titles("tags/birds.atom") == []
    assert titles("tags/roofs.atom") == titles("tags/boats.atom") == [boats[1]]
    assert "lighthouse" not in text_of(output / "tags/birds.html", "//main")
    assert set(feed_files("tags/birds", "tags/boats", "tags/roofs")) <= set(
        result.published.written
    )


def test_a_story_gets_its_page_when_a_second_outlet_reports_it(
    setup: tuple[Service, LoopbackServer],
) -> None:
    service, server = setup
    output = first_run(service)
    assert not (output / "stories").exists() or files(output / "stories") == set()
    (tram,) = [e for e in atom_entries(output / "all.atom") if e.title == TRAMS[1]]
    assert compare_links(tram) == []
    assert "Compare coverage" not in tram.content[0].value

    server.route("/coast.xml", body=rss(GULLS, ("t2", TRAMS[1], TRAMS[2])))  # the trams, again
    result = service.run_once(force=True, workers=1)
    assert result.published is not None
    (page,) = files(output / "stories")
    assert f"stories/{page}" in result.published.written
    (tram,) = [e for e in atom_entries(output / "all.atom") if e.title == TRAMS[1]]
    assert compare_links(tram) == [f"http://feeds.test/stories/{page}"]
    city = (output / "sources/city.html").read_text(encoding="utf-8")
    assert f'href="../stories/{page}"' in city and "Compare coverage (2 outlets)" in city


def test_publish_after_an_outlet_leaves_the_configuration_keeps_its_stories(
    setup: tuple[Service, LoopbackServer], tmp_path: Path
) -> None:
    # 'feedsvc publish' right after a source is taken out of sources.yaml: the
    # story it led, told by another outlet too, keeps its entry and id (publish
    # did not record the removal, so the story feeds dropped the story, and the
    # next run, finding the configuration already published, left them so)
    service, server = setup
    server.route("/coast.xml", body=rss(GULLS, ("t2", TRAMS[1], TRAMS[2])))
    output = first_run(service)
    (before,) = [e for e in atom_entries(output / "all.atom") if e.title == TRAMS[1]]
    assert before.link == "https://news.example/t1"  # the city's report leads the story
    write_config(tmp_path, [feed_source("coast", server.url("/coast.xml"), tags=["nature"])])
    Service.from_path(tmp_path / "sources.yaml", clock=lambda: NOW).publish()
    (after,) = [e for e in atom_entries(output / "all.atom") if e.title == TRAMS[1]]
    assert (after.id, after.link) == (before.id, "https://news.example/t2")
    assert "sources/city.atom" not in files(output)


def test_the_stories_of_a_removed_outlet_leave_room_in_the_feeds(
    tmp_path: Path, loopback_server: LoopbackServer
) -> None:
    # The newest feed_size stories were read before those left with no configured
    # outlet were dropped: with the city taken out, its stories took the places
    # and all.* and the front page showed none of the coast's older one.
    loopback_server.route("/coast.xml", body=rss(GULLS).replace(b"10:00:00", b"08:00:00"))
    loopback_server.route("/city.xml", body=rss(TRAMS, BAKERY))
    coast = feed_source("coast", loopback_server.url("/coast.xml"), tags=["nature"])
    city = feed_source("city", loopback_server.url("/city.xml"), tags=["nature"])
    write_config(tmp_path, [coast, city], feed_size=2)
    output = first_run(Service.from_path(tmp_path / "sources.yaml", clock=lambda: NOW))
    assert [e.title for e in atom_entries(output / "all.atom")] == [BAKERY[1], TRAMS[1]]

    write_config(tmp_path, [coast], feed_size=2)
    Service.from_path(tmp_path / "sources.yaml", clock=lambda: NOW).run_once(workers=1)
    assert [e.title for e in atom_entries(output / "all.atom")] == [GULLS[1]]
    assert [e.title for e in atom_entries(output / "tags/nature.atom")] == [GULLS[1]]
    assert GULLS[1] in text_of(output / "index.html", '//*[@id="stories"]')


def compare_links(entry: feedparser.FeedParserDict) -> list[str]:
    """The entry's links to its story's page."""
    return [ln.href for ln in entry.links if ln.get("title") == "Compare coverage"]


def atom_entries(path: Path) -> list[feedparser.FeedParserDict]:
    """The entries of an Atom file, as a feed reader parses them."""
    return list(feedparser.parse(path.read_bytes()).entries)


def test_a_change_of_source_health_rewrites_the_front_page_and_the_directory_alone(
    setup: tuple[Service, LoopbackServer],
) -> None:
    service, server = setup
    output = first_run(service)
    server.route("/coast.xml", status=503, body=b"down for maintenance")

    failing = service.run_once(force=True, workers=1)
    assert failing.published is not None
    assert set(failing.published.written) == {"index.html", "sources.html"}
    for page in ("index.html", "sources.html"):  # the front page names the failing source
        assert "HTTP 503" in (output / page).read_text(encoding="utf-8")
    assert "2 sources: 1 failing" in text_of(output / "index.html", '//*[@id="sources"]')
    assert all_page_problems(output) == []  # the failing sources' table links its pages

    server.route("/coast.xml", body=rss(GULLS))
    back = service.run_once(force=True, workers=1)
    assert back.published is not None
    assert set(back.published.written) == {"index.html", "sources.html"}
    for page in ("index.html", "sources.html"):
        assert "HTTP 503" not in (output / page).read_text(encoding="utf-8")

    again = service.run_once(force=True, workers=1)  # healthy as before: nothing to render
    assert again.published is not None and again.published.written == ()
    assert again.published.unchanged == ()


def test_a_change_of_source_health_rewrites_only_the_directory_page_showing_that_source(
    setup: tuple[Service, LoopbackServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    service, server = setup
    monkeypatch.setattr(directory, "SOURCES_PER_PAGE", 1)  # city, coast: a page each
    output = first_run(service)
    assert {"sources.html", "sources-2.html"} <= files(output)
    assert 'id="source-city"' in (output / "sources.html").read_text(encoding="utf-8")
    coast = (output / "sources/coast.html").read_text(encoding="utf-8")
    assert 'href="../sources-2.html#source-coast"' in coast
    server.route("/coast.xml", status=503, body=b"down for maintenance")

    failing = service.run_once(force=True, workers=1)
    assert failing.published is not None
    assert set(failing.published.written) == {"index.html", "sources-2.html"}
    assert "sources.html" not in failing.published.unchanged  # the city's: not even rendered
    assert "HTTP 503" in (output / "sources-2.html").read_text(encoding="utf-8")
    pager = text_of(output / "sources-2.html", "(//nav[@class='pager'])[1]")
    assert pager == "1 2"
    assert 'href="sources.html">1</a> <span aria-current="page">2</span>' in (
        output / "sources-2.html"
    ).read_text(encoding="utf-8")
    letters = text_of(output / "sources-2.html", "//nav[@aria-label='Sources by first letter']")
    assert letters == "C"  # city and coast: both under C, which begins on the first page
    assert 'href="sources.html#source-city">C</a>' in (output / "sources-2.html").read_text("utf-8")
    assert all_page_problems(output) == []  # every page and letter link leads to its row


def test_many_directory_pages_of_health_alone_are_rendered_in_the_workers(
    setup: tuple[Service, LoopbackServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    service, server = setup
    monkeypatch.setattr(directory, "SOURCES_PER_PAGE", 1)
    output = first_run(service)
    server.route("/coast.xml", status=503, body=b"down")
    server.route("/city.xml", status=503, body=b"down")
    renderers: list[object] = []
    pool_renderer = publishing._pool_renderer

    def watched(pool: object) -> object:
        renderers.append(pool)
        return pool_renderer(pool)  # type: ignore[arg-type]

    monkeypatch.setattr(publishing, "_pool_renderer", watched)
    monkeypatch.setattr(publishing, "HEALTH_PAGES_HERE", 1)
    failing = service.run_once(force=True, workers=2)  # two pages changed: more than one
    assert failing.published is not None
    assert set(failing.published.written) == {"index.html", "sources.html", "sources-2.html"}
    assert len(renderers) == 1 and "HTTP 503" in (output / "sources.html").read_text("utf-8")

    monkeypatch.setattr(publishing, "HEALTH_PAGES_HERE", 2)
    server.route("/coast.xml", body=rss(GULLS))
    server.route("/city.xml", body=rss(TRAMS))
    back = service.run_once(force=True, workers=2)  # two pages: rendered here
    assert back.published is not None and "sources-2.html" in back.published.written
    assert len(renderers) == 1


def test_a_smaller_directory_leaves_no_stale_page(
    setup: tuple[Service, LoopbackServer], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    service, server = setup
    monkeypatch.setattr(directory, "SOURCES_PER_PAGE", 1)
    output = first_run(service)
    assert {"sources.html", "sources-2.html"} <= files(output)
    config = write_config(tmp_path, [feed_source("coast", server.url("/coast.xml"))])
    Service.from_path(config, clock=lambda: NOW).run_once(force=True, workers=1)
    assert "sources-2.html" not in files(output) and "sources.html" in files(output)
    assert 'id="source-coast"' in (output / "sources.html").read_text(encoding="utf-8")


def test_a_config_change_or_a_missing_front_page_publishes_everything(
    setup: tuple[Service, LoopbackServer],
) -> None:
    service, _ = setup
    output = first_run(service)

    (output / "index.html").unlink()
    again = publish(service)
    assert set(again.written) == {"index.html"}
    assert len(again.unchanged) == len(files(output)) - 1

    (output / "sources.html").unlink()  # the directory's first page: every page links it
    restored = publish(service)
    assert set(restored.written) == {"sources.html"}

    config = service.config.path
    config.write_text(config.read_text().replace("name: city", "name: city\n  title: City News"))
    retitled = Service.from_path(config, clock=lambda: NOW)
    result = publish(retitled)
    assert feed_files("sources/city") <= set(result.written)
    assert "index.html" in result.written and "feeds.opml" in result.written
    assert feedparser.parse((output / "sources/city.rss").read_bytes()).feed.title == "City News"


def test_marks_survive_a_failed_publish(setup: tuple[Service, LoopbackServer]) -> None:
    service, server = setup
    output = first_run(service)
    server.route("/coast.xml", body=rss(GULLS, BAKERY))
    (output / "sources/coast.atom").unlink()
    (output / "sources/coast.atom").mkdir()  # the publish of this run fails on it
    with pytest.raises(PublishError, match=r"coast\.atom"):
        service.run_once(force=True, workers=1)
    with service.open_store() as store:
        marks = store.publish_marks()
    assert marks.sources == {"coast"} and len(marks.stories) == 1  # kept for the next publish
    assert not [p for p in files(output) if p.rsplit("/", 1)[-1].startswith(".")]

    (output / "sources/coast.atom").rmdir()
    result = publish(service)
    assert "sources/coast.atom" in result.written
    rendered = {*result.written, *result.unchanged}
    assert feed_files("all", "sources/coast", "tags/nature") <= rendered
    assert len(feedparser.parse((output / "sources/coast.atom").read_bytes()).entries) == 2
    assert publish(service).written == ()


def test_batches_and_story_rounds_leave_marks_in_their_own_transaction(
    setup: tuple[Service, LoopbackServer],
) -> None:
    service, _ = setup
    service.run_once(force=True, workers=1)
    with service.open_store() as store:
        assert store.publish_marks().empty
        intent = FetchIntent("coast", NOW, "not-modified", NOW + timedelta(hours=1))
        store.record_fetch(intent)  # a 304 changes no feed
        assert store.publish_marks().empty
        (article,) = store.recent_articles(1, source="coast")
        changed = dataclasses.replace(article, title="Gulls leave the roof")
        store.save_batch("coast", [changed], intent)
        marks = store.publish_marks()
        story = store.story_of("coast", article.id)
    assert marks.sources == {"coast"}
    assert marks.stories == {story}  # the changed article's story must be re-rendered
    with service.open_store() as store:
        publish_changes(service.config, store)
        assert store.publish_marks().empty


def test_a_story_entry_links_each_other_outlet_once_and_counts_the_rest(store_url: str) -> None:
    outlets = [f"o{n:02d}" for n in range(14)]
    configs = outlet_configs(outlets)
    with Store.open(store_url) as store:
        store.sync_sources(configs, NOW)
        keys = []
        for n, outlet in enumerate(outlets):
            # two reports from each outlet; o05 reported first of all
            for k in range(2):
                hours = 0 if outlet == "o05" and k == 0 else 1 + n + 20 * k
                report = story_article(outlet, f"{outlet}-{k}", NOW + timedelta(hours=hours))
                intent = FetchIntent(outlet, NOW, "ok", NOW)
                store.save_batch(outlet, [report], intent)
                keys.append((outlet, report.id))
        members = [StoryAssignment(s, i, "story-x", "same-event", 0.5) for s, i in keys]
        store.save_stories(members, [StoryUpdate("story-x", "o05", "o05-0", len(keys))], {}, NOW)
        (bounded,) = store.recent_stories(5, others=3)
        (whole,) = store.recent_stories(5)

    assert (bounded.members, bounded.outlets) == (28, 14) == (whole.members, whole.outlets)
    assert bounded.updated == whole.updated == NOW + timedelta(hours=1 + 13 + 20)
    assert bounded.representative.id == whole.representative.id == "o05-0"
    assert [a.id for a in bounded.others] == ["o00-0", "o01-0", "o02-0"]  # first per outlet
    assert len(whole.others) == 27

    sources = {c.name: c for c in configs}
    entry = entry_from_story(whole, sources, related_limit=4)
    assert [link.outlet for link in entry.related] == ["O00", "O01", "O02", "O03"]
    assert entry.more_outlets == 14 - 1 - 4
    assert "and 9 more outlets" in entry_content(entry)


def test_a_story_whose_representatives_outlet_is_removed_keeps_its_entry(store_url: str) -> None:
    # the representative's outlet leaves sources.yaml: the story, still told by
    # the other outlets, stays in the story feeds under its id, led by the first
    # configured report (the story feeds used to drop it, the front page to show
    # the removed outlet's headline)
    outlets = ["gone", "wire", "city"]
    configs = outlet_configs(outlets)
    with Store.open(store_url) as store:
        store.sync_sources(configs, NOW)
        keys = []
        for n, outlet in enumerate(outlets):
            report = story_article(outlet, f"{outlet}-0", NOW + timedelta(hours=n))
            store.save_batch(outlet, [report], FetchIntent(outlet, NOW, "ok", NOW))
            keys.append((outlet, report.id))
        members = [StoryAssignment(s, i, "story-x", "same-event", 0.5) for s, i in keys]
        store.save_stories(members, [StoryUpdate("story-x", "gone", "gone-0", 3)], {}, NOW)
        store.sync_sources(configs[1:], NOW + timedelta(days=1))
        views = [store.recent_stories(5, others=n) for n in (0, 3, None)]

    for (view,) in views:
        assert (view.id, view.representative.id, view.outlets) == ("story-x", "wire-0", 2)
        assert {a.source for a in view.others} <= {"city"}
    entry = entry_from_story(views[1][0], {c.name: c for c in configs[1:]})
    assert entry.link == "http://wire.test/wire-0"
    assert [link.outlet for link in entry.related] == ["CITY"]


def outlet_configs(outlets: list[str]) -> list[SourceConfig]:
    """A feed source per outlet name, titled in capitals."""
    return [
        SourceConfig(name=o, title=o.upper(), kind="feed", url=f"http://{o}.test/") for o in outlets
    ]


def story_article(source: str, article_id: str, published: datetime) -> Article:
    return Article(
        source=source, id=article_id, url=f"http://{source}.test/{article_id}",
        title=f"Report {article_id}", summary="", content_html="<p>x</p>", text="x",
        published=published, updated=None, date_estimated=False, content_hash=article_id,
    )  # fmt: skip


def test_outlet_counts_forgotten_between_chunks_of_sources_publish_the_same_pages(
    setup: tuple[Service, LoopbackServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    # a full publish remembers stories' outlet counts from one chunk of source
    # pages to the next only up to a bound (a 10,000-source publish would hold
    # them all); counted again once forgotten, the pages must not change
    service, server = setup
    server.route("/coast.xml", body=rss(GULLS, ("t2", TRAMS[1], TRAMS[2])))  # a shared story
    output = first_run(service)
    before = {p: (output / p).read_bytes() for p in files(output)}
    assert "Compare coverage (2 outlets)" in (output / "sources/city.html").read_text("utf-8")
    monkeypatch.setattr(publishing, "SOURCES_PER_QUERY", 1)
    monkeypatch.setattr(publishing, "OUTLET_COUNTS_KEPT", 0)
    shutil.rmtree(output)
    service.publish()
    assert {p: (output / p).read_bytes() for p in files(output)} == before

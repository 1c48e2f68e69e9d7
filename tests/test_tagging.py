"""Tags through the service: provenance, story tags, re-tagging after a rule change, commands."""

from __future__ import annotations

import sqlite3
import threading
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import feedparser
import pytest
import yaml
from alembic import command

from feedsvc.cli import EXIT_OK, main
from feedsvc.publish import story_guid
from feedsvc.service import Service
from feedsvc.store import Store
from feedsvc.store.engine import make_engine, writing
from feedsvc.store.migrate import alembic_config, upgrade
from feedsvc.types import TagOrigin
from tests.support.samples import sample_sources

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
METRO_FERRY = ("metro-daily", "md-2026-11-18-0034")


def sample_config(directory: Path, samples: Path, tags: dict[str, Any]) -> Path:
    sources = sample_sources(samples)
    document = {
        "settings": {
            "data_dir": "data",
            "output_dir": "output",
            "base_url": "http://feeds.test/",
            "contact": "mailto:tests@feedsvc.test",
        },
        "tags": {"coast": {"title": "The coast"}, "wire": {"title": "Wire"}, **tags},
        "sources": sources,
    }
    path = directory / "sources.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False, allow_unicode=True))
    return path


METRO_ONLY = {"metro-pick": {"title": "Metro picks", "match": {"source": "metro-daily"}}}


def read_feed(path: Path) -> Any:
    parsed = feedparser.parse(path.read_bytes())
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    return parsed


def ferry_story(service: Service) -> str:
    with service.open_store() as store:
        story = store.story_of(*METRO_FERRY)
    assert story is not None
    return story


def test_a_story_carries_every_tag_of_its_members(tmp_path: Path, repo_dir: Path) -> None:
    config = sample_config(tmp_path, repo_dir / "samples", METRO_ONLY)
    service = Service.from_path(config, clock=lambda: NOW)
    service.run_once(force=True, workers=1)
    story = ferry_story(service)
    output = service.config.settings.output_dir

    picks = read_feed(output / "tags/metro-pick.atom")
    assert picks.feed.title == "Metro picks"
    assert [e.id for e in picks.entries].count(story_guid(story)) == 1
    coast = read_feed(output / "tags/coast.rss")  # two members are coast: the story is there once
    assert [e.id for e in coast.entries].count(story_guid(story)) == 1
    every = read_feed(output / "all.atom")
    (entry,) = [e for e in every.entries if e.id == story_guid(story)]
    terms = {t.term for t in entry.tags}
    assert {"coast", "wire", "metro-pick"} <= terms  # the union, whoever the representative is
    labels = {t.term: t.label for t in entry.tags if t.get("label")}
    assert labels["metro-pick"] == "Metro picks"

    with service.open_store() as store:
        metro = store.article(*METRO_FERRY)
    assert metro is not None
    assert TagOrigin("metro-pick", "rule", "'metro-daily' in source") in metro.tag_origins


def test_a_removed_outlet_takes_its_tags_off_the_stories_it_was_in(
    tmp_path: Path, repo_dir: Path
) -> None:
    # The story's tags, and the tag feeds, counted the members of a source taken
    # out of sources.yaml: the story stayed in tags/metro-pick.* and carried the
    # category though no outlet left in it had the tag.
    config = sample_config(tmp_path, repo_dir / "samples", METRO_ONLY)
    service = Service.from_path(config, clock=lambda: NOW)
    service.run_once(force=True, workers=1)
    story = ferry_story(service)
    output = service.config.settings.output_dir
    assert story_guid(story) in [e.id for e in read_feed(output / "tags/metro-pick.atom").entries]

    document = yaml.safe_load(config.read_text())
    document["sources"] = [s for s in document["sources"] if s["name"] != "metro-daily"]
    config.write_text(yaml.safe_dump(document, sort_keys=False, allow_unicode=True))
    service = Service.from_path(config, clock=lambda: NOW)
    service.run_once(workers=1)

    with service.open_store() as store:
        (view,) = store.stories_by_id([story])
        assert "metro-daily" not in {a.source for a in (view.representative, *view.others)}
        assert "metro-pick" not in store.story_tags([story]).get(story, ())
    assert read_feed(output / "tags/metro-pick.atom").entries == []
    (entry,) = [e for e in read_feed(output / "all.atom").entries if e.id == story_guid(story)]
    assert "metro-pick" not in {t.term for t in entry.tags}
    assert {"coast", "wire"} <= {t.term for t in entry.tags}


def test_changing_a_rule_retags_what_is_stored_on_the_next_run(
    tmp_path: Path, repo_dir: Path
) -> None:
    config = sample_config(tmp_path, repo_dir / "samples", METRO_ONLY)
    service = Service.from_path(config, clock=lambda: NOW)
    service.run_once(force=True, workers=1)
    output = service.config.settings.output_dir
    assert service.idle()
    before = read_feed(output / "tags/metro-pick.rss").entries
    assert before

    ferries = {"ferries": {"title": "Ferries", "match": {"title": ["ferry", "ferries"]}}}
    config = sample_config(tmp_path, repo_dir / "samples", ferries)
    service = Service.from_path(config, clock=lambda: NOW)
    assert not service.idle()  # the rules changed: the output fingerprint changed
    result = service.run_once(workers=1)
    assert result.sources == ()  # nothing fetched, yet stored articles were re-tagged
    assert not (output / "tags/metro-pick.rss").exists()  # pruned by the full publish
    titles = [e.title for e in read_feed(output / "tags/ferries.rss").entries]
    assert titles and all("erry" in t or "erries" in t for t in titles), titles
    with service.open_store() as store:
        metro = store.article(*METRO_FERRY)
        counts = store.tag_counts()
    assert metro is not None and "metro-pick" not in metro.tags
    assert "metro-pick" not in counts and counts["ferries"] >= 3
    assert service.idle()


@pytest.mark.parametrize("cycle", ["run", "daemon"])
def test_a_first_run_re_tags_before_it_fetches_not_what_it_fetched(
    tmp_path: Path, repo_dir: Path, caplog: pytest.LogCaptureFixture, cycle: str
) -> None:
    config = sample_config(tmp_path, repo_dir / "samples", METRO_ONLY)
    service = Service.from_path(config, clock=lambda: NOW)
    with caplog.at_level("INFO", logger="feedsvc.tagging"):
        if cycle == "run":
            result = service.run_once(force=True, workers=1)
        else:
            result = service.daemon_cycle(threading.Event(), workers=1, publish=True)
    stored = sum(s.new for s in result.sources)
    assert stored > 10
    retagged = [r.getMessage() for r in caplog.records if r.name == "feedsvc.tagging"]
    assert retagged == ["re-tagged stored articles checked=0 changed=0"]  # once, before the fetch
    assert "tags" in result.timings
    with service.open_store() as store:
        metro = store.article(*METRO_FERRY)
    assert metro is not None and "metro-pick" in metro.tags  # tagged as it was fetched


def test_publishing_alone_re_tags_what_is_stored_after_a_rule_change(
    tmp_path: Path, repo_dir: Path
) -> None:
    config = sample_config(tmp_path, repo_dir / "samples", METRO_ONLY)
    Service.from_path(config, clock=lambda: NOW).run_once(force=True, workers=1)
    ferries = {"ferries": {"title": "Ferries", "match": {"title": ["ferry", "ferries"]}}}
    service = Service.from_path(sample_config(tmp_path, repo_dir / "samples", ferries))
    service.publish()  # `feedsvc publish`: no fetch, so the re-tag before publishing does it
    with service.open_store() as store:
        metro = store.article(*METRO_FERRY)
        counts = store.tag_counts()
    assert metro is not None and "metro-pick" not in metro.tags
    assert "metro-pick" not in counts and counts["ferries"] >= 3
    output = service.config.settings.output_dir
    assert read_feed(output / "tags/ferries.rss").entries


def test_check_rules_and_tags_commands(
    tmp_path: Path, repo_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = sample_config(tmp_path, repo_dir / "samples", METRO_ONLY)
    Service.from_path(config, clock=lambda: NOW).run_once(force=True, workers=1)
    capsys.readouterr()

    path = config.read_text().replace("source: metro-daily", "source: valley-wire")
    config.write_text(path)
    assert main(["-q", "--config", str(config), "check", "--rules"]) == EXIT_OK
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith("metro-pick"))
    matched, tagged = row.split()[1:3]
    assert int(matched) == 5 and int(tagged) == 4  # valley-wire has 5, metro-daily had 4
    assert "nothing was changed" in out

    assert main(["-q", "--config", str(config), "tags"]) == EXIT_OK
    out = capsys.readouterr().out
    assert out.splitlines()[0].split() == ["TAG", "ARTICLES", "RULE", "TITLE"]
    assert any(line.split()[:3] == ["metro-pick", "4", "yes"] for line in out.splitlines())

    ref = ":".join(METRO_FERRY)
    assert main(["-q", "--config", str(config), "tags", "explain", ref]) == EXIT_OK
    out = capsys.readouterr().out
    assert "metro-pick           rule: 'metro-daily' in source" in out
    assert "the next run re-tags it" in out  # the rule now says otherwise
    assert "story tags (every tag of any member): coast, metro-pick, wire" in out


def test_check_rules_counts_only_the_articles_of_configured_sources(
    tmp_path: Path, repo_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The dry run counted the stored articles of a source taken out of
    # sources.yaml, which no rule tags any more: "would match 4, tagged now 0".
    config = sample_config(tmp_path, repo_dir / "samples", METRO_ONLY)
    Service.from_path(config, clock=lambda: NOW).run_once(force=True, workers=1)
    document = yaml.safe_load(config.read_text())
    document["sources"] = [s for s in document["sources"] if s["name"] != "metro-daily"]
    config.write_text(yaml.safe_dump(document, sort_keys=False, allow_unicode=True))
    Service.from_path(config, clock=lambda: NOW).run_once(workers=1)
    capsys.readouterr()

    assert main(["-q", "--config", str(config), "check", "--rules"]) == EXIT_OK
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith("metro-pick"))
    assert row.split()[1:3] == ["0", "0"]


def test_migration_keeps_stored_tags_as_coming_from_their_source(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    try:
        upgrade(engine)
        with writing(engine) as connection:
            command.downgrade(alembic_config(connection), "r0004")
    finally:
        engine.dispose()
    with closing(sqlite3.connect(path)) as raw, raw:
        raw.execute(
            "INSERT INTO sources (name, title, kind, location, enabled, added_at, failures)"
            " VALUES ('wire', 'Wire', 'feed', 'x', 1, '2026-01-01 00:00:00.000000', 0)"
        )
        raw.execute(
            "INSERT INTO articles (source, id, title, summary, content_html, text, published,"
            " date_estimated, content_hash, authors, categories, first_seen, last_seen)"
            " VALUES ('wire', 'a', 't', '', '', '', '2026-01-01 00:00:00.000000', 0, 'h',"
            " '[]', '[]', '2026-01-01 00:00:00.000000', '2026-01-01 00:00:00.000000')"
        )
        raw.execute("INSERT INTO article_tags (source, article_id, tag) VALUES ('wire', 'a', 'x')")
    with Store.open(url) as store:
        article = store.article("wire", "a")
    assert article is not None
    assert article.tag_origins == (TagOrigin("x", "source", "wire"),)

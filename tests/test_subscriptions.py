"""OPML in and out: exports in the shapes readers write, sources.yaml edits, round trips."""

from __future__ import annotations

import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from feedsvc.cli import EXIT_CONFIG, EXIT_OK, EXIT_USAGE, main
from feedsvc.config import load_config, parse_config
from feedsvc.subscriptions import (
    OpmlError,
    Subscription,
    export_opml,
    insert_sources,
    plan_import,
    read_opml,
)

# Nested folders, type="rss", no type at all, missing titles, text without title,
# upper/lower-case attribute names, a category attribute, a duplicate, a non-http URL.
READER_EXPORT = """<?xml version="1.0" encoding="UTF-8"?>
<opml version="1.0">
  <head><title>My subscriptions</title><dateCreated>Mon, 1 Dec 2025</dateCreated></head>
  <body>
    <outline text="News" title="News">
      <outline text="World" title="World">
        <outline type="rss" text="BBC World" title="BBC World"
                 xmlUrl="https://feeds.example.org/world/rss.xml" htmlUrl="https://example.org/"/>
      </outline>
      <outline type="rss" xmlUrl="https://example.net/feed.xml"/>
    </outline>
    <outline text="Tech">
      <outline text="Hacker Posts" xmlUrl="https://hn.example.com/rss"/>
      <outline type="atom" title="Blog" xmlurl="https://blog.example.com/atom.xml"/>
    </outline>
    <outline type="rss" text="Nara desk" xmlUrl="https://kj.example.net/atom"
             category="/Korea–Japan relations,/Asia/North Korea"/>
    <outline type="rss" text="Again" xmlUrl="https://example.net/feed.xml#top"/>
    <outline type="rss" text="Gopher" xmlUrl="gopher://old.example/feed"/>
  </body>
</opml>
""".encode()

VOCABULARY_CONFIG = """\
# my feeds
tags:
  korea-japan:
    title: Korea and Japan
    aliases: ["Korea–Japan relations"]
  world: {title: World news}

sources:
  - name: bbc
    title: BBC (configured)
    kind: feed
    url: https://feeds.example.org/world/rss.xml
    tags: [world]

# trailing comment stays
"""


def test_read_opml_shapes() -> None:
    subs = read_opml(READER_EXPORT)
    assert subs == [
        Subscription("https://feeds.example.org/world/rss.xml", "BBC World", ("News", "World")),
        Subscription("https://example.net/feed.xml", "", ("News",)),
        Subscription("https://hn.example.com/rss", "Hacker Posts", ("Tech",)),
        Subscription("https://blog.example.com/atom.xml", "Blog", ("Tech",)),
        Subscription(
            "https://kj.example.net/atom", "Nara desk", (), ("Korea–Japan relations", "North Korea")
        ),
        Subscription("https://example.net/feed.xml#top", "Again", ()),
        Subscription("gopher://old.example/feed", "Gopher", ()),
    ]


@pytest.mark.parametrize("data", [b"<html/>", b"not xml", b"<opml version='2.0'/>"])
def test_read_opml_refuses_what_is_not_opml(data: bytes) -> None:
    with pytest.raises(OpmlError):
        read_opml(data)


def test_import_into_a_file_with_a_vocabulary(tmp_path: Path) -> None:
    path = tmp_path / "sources.yaml"
    path.write_text(VOCABULARY_CONFIG, encoding="utf-8")
    config = load_config(path)
    plan = plan_import(config, read_opml(READER_EXPORT))
    assert [(s.name, s.title, s.tags) for s in plan.sources] == [
        ("example-net-feed-xml", "example.net/feed.xml", ("news",)),
        ("hacker-posts", "Hacker Posts", ("tech",)),
        ("blog", "Blog", ("tech",)),
        ("nara-desk", "Nara desk", ("korea-japan", "north-korea")),
    ]
    assert plan.new_tags == (("news", "News"), ("tech", "Tech"), ("north-korea", "North Korea"))
    assert plan.skipped == (
        ("https://feeds.example.org/world/rss.xml", "already a source"),
        ("https://example.net/feed.xml#top", "already a source"),
        ("gopher://old.example/feed", "not an http(s) URL"),
    )
    text = insert_sources(VOCABULARY_CONFIG, plan)
    assert text.startswith(VOCABULARY_CONFIG.split("\nsources:")[0].split("\n\n")[0])
    assert text.endswith("# trailing comment stays\n")
    assert "  - name: bbc\n    title: BBC (configured)\n" in text  # existing names kept
    updated = parse_config(text, path)
    assert [s.name for s in updated.sources] == ["bbc", *(s.name for s in plan.sources)]
    assert {t.slug: t.title for t in updated.tags.tags}["tech"] == "Tech"


@pytest.mark.parametrize(
    "config",
    [
        "sources: []\n",
        "tags:\nsources: []\n",
        "sources: [{name: a, kind: feed, url: 'https://a.example/'}]\n",
        "settings: {feed_size: 10}\nsources:\n- name: a\n  kind: feed\n  url: https://a.example/",
    ],
)
def test_import_keeps_any_shape_of_sources_list_valid(tmp_path: Path, config: str) -> None:
    path = tmp_path / "sources.yaml"
    plan = plan_import(parse_config(config, path), read_opml(READER_EXPORT))
    updated = parse_config(insert_sources(config, plan), path)
    names = [s.name for s in updated.sources]
    assert names[-1] == "nara-desk" and "bbc-world" in names
    nara = updated.sources[-1]
    assert nara.tags == ("korea-japan-relations", "north-korea")  # new tags are slugs


def test_round_trip_export_then_import(tmp_path: Path) -> None:
    path = tmp_path / "sources.yaml"
    path.write_text(VOCABULARY_CONFIG, encoding="utf-8")
    first = parse_config(
        insert_sources(VOCABULARY_CONFIG, plan_import(load_config(path), read_opml(READER_EXPORT))),
        path,
    )
    exported = export_opml(first)
    again = read_opml(exported)
    assert [s.url for s in again] == [s.url for s in first.sources]
    assert [s.title for s in again] == [s.title for s in first.sources]

    fresh = tmp_path / "fresh.yaml"
    fresh.write_text(VOCABULARY_CONFIG.split("sources:")[0] + "sources: []\n", encoding="utf-8")
    plan = plan_import(load_config(fresh), again)
    restored = parse_config(insert_sources(fresh.read_text(), plan), fresh)
    assert [(s.url, s.title, s.tags) for s in restored.sources] == [
        (s.url, s.title, s.tags) for s in first.sources
    ]
    assert export_opml(restored) == exported


def test_import_and_export_commands(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "sources.yaml"
    path.write_text(VOCABULARY_CONFIG, encoding="utf-8")
    opml = tmp_path / "subs.opml"
    opml.write_bytes(READER_EXPORT)
    argv = ["-q", "--config", str(path)]

    assert main([*argv, "import-opml", str(opml), "--dry-run"]) == EXIT_OK
    assert "would add 4 sources" in capsys.readouterr().out
    assert path.read_text(encoding="utf-8") == VOCABULARY_CONFIG

    assert main([*argv, "import-opml", str(opml)]) == EXIT_OK
    out = capsys.readouterr().out
    assert "added 4 sources" in out and "  + nara-desk: Nara desk" in out
    assert "  - gopher://old.example/feed: not an http(s) URL" in out
    assert len(load_config(path).sources) == 5

    assert main([*argv, "import-opml", str(opml)]) == EXIT_OK  # again: all duplicates
    assert "added 0 sources" in capsys.readouterr().out

    assert main([*argv, "export-opml", "-o", str(tmp_path / "out.opml")]) == EXIT_OK
    assert len(read_opml((tmp_path / "out.opml").read_bytes())) == 5

    (tmp_path / "bad.opml").write_bytes(b"<rss/>")
    assert main([*argv, "import-opml", str(tmp_path / "bad.opml")]) == EXIT_USAGE


def test_an_import_that_would_break_the_config_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "sources.yaml"
    broken = "sources: []\nsettings:\n  feed_size: 0\n"
    path.write_text(broken, encoding="utf-8")
    opml = tmp_path / "subs.opml"
    opml.write_bytes(READER_EXPORT)
    assert main(["-q", "--config", str(path), "import-opml", str(opml)]) == EXIT_CONFIG
    assert path.read_text(encoding="utf-8") == broken


def test_export_groups_by_first_tag(tmp_path: Path) -> None:
    text = textwrap.dedent(
        """\
        sources:
          - {name: a, title: A, kind: feed, url: 'https://a.example/', tags: [x, y]}
          - {name: b, kind: feed, url: 'https://b.example/'}
          - {name: c, kind: feed, path: local.xml}
        """
    )
    data = export_opml(parse_config(text, tmp_path / "sources.yaml")).decode()
    assert '<outline text="x">' in data
    assert 'category="/x,/y"' in data
    assert "b.example" in data and "local.xml" not in data


def test_a_page_source_is_exported_as_a_link_not_a_feed(tmp_path: Path) -> None:
    """A reader given a web page as a feed URL would fail on every fetch of it."""
    text = textwrap.dedent(
        """\
        sources:
          - {name: f, title: F, kind: feed, url: 'https://f.example/rss'}
          - {name: p, title: P, kind: page, url: 'https://p.example/story.html'}
        """
    )
    data = export_opml(parse_config(text, tmp_path / "sources.yaml"))
    outlines = {o.get("text"): o.attrib for o in ET.fromstring(data).iter("outline")}
    assert outlines["F"]["type"] == "rss" and outlines["F"]["xmlUrl"] == "https://f.example/rss"
    assert (
        outlines["P"]["type"] == "link" and outlines["P"]["url"] == "https://p.example/story.html"
    )
    assert "xmlUrl" not in outlines["P"]
    assert [s.url for s in read_opml(data)] == ["https://f.example/rss"]

"""Every published file is valid: the W3C validator's rules, feedparser, JSON Feed, golden files.

The bundled sample outlets are published through the service with the
bundled sources.yaml (its vocabulary and rules included); every RSS and Atom
file is read back with feedparser (no bozo) and checked against the rules of
the W3C feed validator that feedsvc's output touches (Atom: an author for every
entry, ``<source>`` with id, title, updated and a link, a self link; RSS: the
channel's required elements, ``<source url>``), every JSON Feed against the
spec's required fields, feeds.opml against the validator's OPML rules. Where a
checkout of the validator itself is at hand (``FEEDVALIDATOR_SRC``), it runs
too (see tests/support/w3c_validate.py).
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path

import feedparser
import pytest

from feedsvc.config_types import FeedsConfig, Settings
from feedsvc.publish.plan import entry_guid
from feedsvc.publish.rendering import render_files
from feedsvc.service import Service
from feedsvc.types import FeedEntry, FeedSpec, RelatedLink
from tests.support.pages import all_page_problems

ATOM = "{http://www.w3.org/2005/Atom}"
BASE = "http://localhost:8080/"
GOLDEN = Path(__file__).parent / "fixtures" / "publish"
NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def output(repo_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled sources.yaml and samples, run once and published."""
    root = tmp_path_factory.mktemp("demo")
    shutil.copy(repo_dir / "sources.yaml", root / "sources.yaml")
    shutil.copytree(repo_dir / "samples", root / "samples")
    service = Service.from_path(root / "sources.yaml", clock=lambda: NOW)
    service.run_once(force=True, workers=1)
    return service.config.settings.output_dir


def published(output: Path, suffix: str) -> list[Path]:
    return sorted(p for p in output.rglob(f"*{suffix}") if p.is_file())


def test_the_demo_publishes_every_set(output: Path) -> None:
    names = {p.relative_to(output).as_posix() for p in output.rglob("*") if p.is_file()}
    for path in ("all", "sources/lowmere-drops", "tags/coast", "tags/local", "tags/ferries"):
        assert {f"{path}.rss", f"{path}.atom", f"{path}.json"} <= names


def test_every_rss_and_atom_file_parses_back_clean(output: Path) -> None:
    files = published(output, ".rss") + published(output, ".atom")
    assert len(files) > 30
    for path in files:
        parsed = feedparser.parse(path.read_bytes())
        assert parsed.bozo == 0, (path, parsed.get("bozo_exception"))
        assert parsed.version in ("rss20", "atom10"), path


def test_every_page_of_the_demo_is_valid_html5(output: Path) -> None:
    pages = [p.relative_to(output).as_posix() for p in published(output, ".html")]
    assert "index.html" in pages
    assert any(p.startswith("tags/") for p in pages) and any(
        p.startswith("sources/") for p in pages
    )
    assert any(p.startswith("stories/") for p in pages)  # the stories of two outlets or more
    assert all_page_problems(output) == []


def test_story_entries_link_their_page_in_content_and_as_related(output: Path) -> None:
    for path in (output / "all.atom", output / "tags" / "coast.atom"):
        entries = ET.fromstring(path.read_bytes()).findall(f"{ATOM}entry")
        assert any("Also reported by" in _text(e, "content") for e in entries), path
        for entry in entries:
            pages = [
                ln.get("href")
                for ln in entry.findall(f"{ATOM}link")
                if ln.get("rel") == "related" and ln.get("title") == "Compare coverage"
            ]
            if "Also reported by" not in _text(entry, "content"):  # one outlet: no page
                assert pages == [] and "Compare coverage" not in _text(entry, "content")
                continue
            assert len(pages) == 1 and pages[0].startswith(f"{BASE}stories/"), path
            assert (output / pages[0].removeprefix(BASE)).is_file()
            assert f'<a href="{pages[0]}">Compare coverage</a>' in _text(entry, "content")
            alternate = [ln for ln in entry.findall(f"{ATOM}link") if ln.get("rel") == "alternate"]
            assert all("/stories/" not in (ln.get("href") or "") for ln in alternate)


def _text(element: ET.Element, name: str) -> str:
    found = element.find(f"{ATOM}{name}")
    return (found.text or "").strip() if found is not None else ""


def atom_problems(data: bytes, url: str) -> list[str]:
    """What the W3C validator would flag in the parts of an Atom feed feedsvc writes."""
    feed = ET.fromstring(data)
    problems = [f"feed: missing {n}" for n in ("id", "title", "updated") if not _text(feed, n)]
    links = feed.findall(f"{ATOM}link")
    if not any(ln.get("rel") == "self" and ln.get("href") == url for ln in links):
        problems.append("feed: no self link to where it is served")
    problems += _alternate_problems("feed", links)
    feed_author = feed.find(f"{ATOM}author/{ATOM}name") is not None
    ids: set[str] = set()
    for n, entry in enumerate(feed.findall(f"{ATOM}entry")):
        where = f"entry {n}"
        required = ("id", "title", "updated")
        problems += [f"{where}: missing {k}" for k in required if not _text(entry, k)]
        if _text(entry, "id") in ids:
            problems.append(f"{where}: duplicate id")
        ids.add(_text(entry, "id"))
        entry_links = entry.findall(f"{ATOM}link")
        problems += _alternate_problems(where, entry_links)
        alternate = any(ln.get("rel", "alternate") == "alternate" for ln in entry_links)
        if not alternate and not _text(entry, "content"):  # RFC 4287 4.1.1.1
            problems.append(f"{where}: no alternate link and no content")
        authors = entry.findall(f"{ATOM}author")
        if not feed_author and not authors:
            problems.append(f"{where}: Missing entry element: author")
        if any(not _text(author, "name") for author in authors):
            problems.append(f"{where}: author without a name")
        for source in entry.findall(f"{ATOM}source"):
            problems += [
                f"{where}: Missing source element: {k}"
                for k in ("id", "title", "updated")
                if not _text(source, k)
            ]
            if source.find(f"{ATOM}link") is None:
                problems.append(f"{where}: source without a link")
    return problems


def _alternate_problems(where: str, links: list[ET.Element]) -> list[str]:
    """At most one rel="alternate" link per type and hreflang (RFC 4287 4.1.1)."""
    seen = [
        (ln.get("type"), ln.get("hreflang"))
        for ln in links
        if ln.get("rel", "alternate") == "alternate"
    ]
    return [f"{where}: two alternate links of one type" for k in set(seen) if seen.count(k) > 1]


def test_atom_files_follow_the_validators_rules(output: Path) -> None:
    for path in published(output, ".atom"):
        url = BASE + path.relative_to(output).as_posix()
        assert atom_problems(path.read_bytes(), url) == [], path


def test_the_atom_author_rule_is_enforced_by_the_check() -> None:
    bad = (
        b'<feed xmlns="http://www.w3.org/2005/Atom"><id>x</id><title>t</title>'
        b"<updated>2026-01-01T00:00:00Z</updated><link rel='self' href='u'/>"
        b"<entry><id>e</id><title>t</title><updated>2026-01-01T00:00:00Z</updated>"
        b"<source><title>s</title></source></entry></feed>"
    )
    assert atom_problems(bad, "u") == [
        "entry 0: no alternate link and no content",
        "entry 0: Missing entry element: author",
        "entry 0: Missing source element: id",
        "entry 0: Missing source element: updated",
        "entry 0: source without a link",
    ]


def test_rss_files_follow_the_validators_rules(output: Path) -> None:
    for path in published(output, ".rss"):
        channel = ET.fromstring(path.read_bytes()).find("channel")
        assert channel is not None
        for name in ("title", "link", "description"):
            assert (channel.findtext(name) or "").strip(), (path, name)
        parsedate_to_datetime(channel.findtext("lastBuildDate") or "")  # RFC 822
        for item in channel.findall("item"):
            assert item.findtext("title") or item.findtext("description"), path
            guid = item.find("guid")
            assert guid is not None, path
            # a urn:uuid guid is no URL: it must not claim to be a permalink
            assert guid.get("isPermaLink") == "false" or guid.text.startswith("http"), path
            pub_date = parsedate_to_datetime(item.findtext("pubDate") or "")
            assert pub_date.tzinfo is not None, path
            source = item.find("source")
            assert source is not None and source.get("url", "").startswith("http"), path


def test_json_feeds_have_the_required_fields(output: Path) -> None:
    files = published(output, ".json")
    assert files
    for path in files:
        feed = json.loads(path.read_bytes())
        assert feed["version"] == "https://jsonfeed.org/version/1.1"
        assert isinstance(feed["title"], str) and feed["title"]
        assert feed["feed_url"] == BASE + path.relative_to(output).as_posix()
        assert isinstance(feed["items"], list)
        ids = [item["id"] for item in feed["items"]]
        assert len(ids) == len(set(ids)), path  # ids are unique within a feed
        for item in feed["items"]:
            assert isinstance(item["id"], str) and item["id"]
            assert item.get("content_html") or item.get("content_text")
            assert all(isinstance(tag, str) for tag in item.get("tags", []))
            datetime.fromisoformat(item["date_published"])
            datetime.fromisoformat(item["date_modified"])
            # "one or more authors", each with a name: no empty list
            authors = item.get("authors", [{"name": "-"}])
            assert authors and all(a.get("name") for a in authors), (path, item["id"])


def test_feed_titles_come_from_the_vocabulary(output: Path) -> None:
    ferries = feedparser.parse((output / "tags/ferries.atom").read_bytes())
    assert ferries.feed.title == "Ferries"
    assert ferries.feed.subtitle == "Ferry services, fares and timetables, from any outlet"
    index = (output / "index.html").read_text(encoding="utf-8")
    assert "Korea and Japan" in index and "The coast" in index


def test_opml_follows_the_validators_rules(output: Path) -> None:
    root = ET.fromstring((output / "feeds.opml").read_bytes())
    head = root.find("head")
    assert root.get("version") == "2.0" and head is not None
    assert [child.tag for child in head] == ["title"]  # "docs" is an error to the validator
    body = root.find("body")
    assert body is not None
    for group in body:
        assert set(group.attrib) == {"text"}  # a folder: text only, or the type is missing
        for outline in group:
            assert outline.get("type") == "rss" and outline.get("text")
            assert (outline.get("xmlUrl") or "").startswith(BASE)


# --------------------------------------------------------------------------- the W3C validator


def test_the_w3c_validator_finds_no_errors_or_warnings(output: Path) -> None:
    source = os.environ.get("FEEDVALIDATOR_SRC")
    if not source:
        pytest.skip("FEEDVALIDATOR_SRC is not set (a checkout of the W3C validator's src/)")
    python = os.environ.get("FEEDVALIDATOR_PYTHON", sys.executable)
    script = Path(__file__).parent / "support" / "w3c_validate.py"
    run = subprocess.run(
        [python, str(script), str(output), BASE],
        env={**os.environ, "PYTHONPATH": source},
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    reports = [json.loads(line) for line in run.stdout.splitlines()]
    assert len(reports) > 30, run.stderr
    flagged = [r for r in reports if r["errors"] or r["warnings"]]
    assert flagged == []


# --------------------------------------------------------------------------- golden files

T0 = datetime(2026, 1, 13, 9, 0, tzinfo=UTC)


def golden_spec() -> FeedSpec:
    wire = FeedEntry(
        guid=entry_guid("story", "story-nara"),
        title="Leaders meet in Nara",
        link="https://wire.example.test/nara",
        summary="Japan and South Korea agree to cooperate.",
        content_html="<p>Japan and South Korea agree to cooperate.</p>",
        published=T0,
        updated=T0 + timedelta(hours=2),
        source_name="wire",
        source_title="Valley Wire",
        source_url="https://wire.example.test/rss",
        authors=("Ines Keeper",),
        categories=("korea-japan", "Diplomacy"),
        related=(RelatedLink("Harbour Gazette", "Nara summit", "https://g.example.test/1"),),
        labels=(("korea-japan", "Korea and Japan"),),
    )
    drop = dataclasses.replace(
        wire,
        guid=entry_guid("drops", "d-1"),
        title="NARA — summit drop",
        link=None,
        published=T0 - timedelta(hours=1),
        updated=T0 - timedelta(hours=1),
        source_name="drops",
        source_title="Lowmere Drops",
        source_url=None,
        authors=(),
        categories=("korea-japan",),
        related=(),
    )
    return FeedSpec(
        "tags/korea-japan", "Korea and Japan", "Relations", "tag", (wire, drop), "korea-japan"
    )


@pytest.mark.parametrize("ext", ["rss", "atom", "json"])
def test_golden_output(tmp_path: Path, ext: str) -> None:
    settings = Settings(
        database_url="sqlite://", data_dir=tmp_path, output_dir=tmp_path, base_url=BASE
    )
    data = render_files([golden_spec()], settings)[f"tags/korea-japan.{ext}"]
    golden = GOLDEN / f"korea-japan.{ext}"
    if os.environ.get("UPDATE_GOLDEN"):
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_bytes(data)
    assert data == golden.read_bytes(), f"{golden} differs (UPDATE_GOLDEN=1 rewrites it)"


def test_feed_sets_and_formats_are_configurable(tmp_path: Path) -> None:
    settings = Settings(
        database_url="sqlite://",
        data_dir=tmp_path,
        output_dir=tmp_path,
        base_url=BASE,
        feeds=FeedsConfig(formats=("atom",)),
    )
    files = render_files([golden_spec()], settings)
    assert sorted(files) == [
        "favicon.svg",
        "feeds.opml",
        "index.html",
        "sources.html",
        "tags/korea-japan.atom",
    ]
    assert b"korea-japan.rss" not in files["index.html"]
    assert b'xmlUrl="http://localhost:8080/tags/korea-japan.atom"' in files["feeds.opml"]

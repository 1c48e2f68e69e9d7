"""Tag rules: their meaning (table-driven), their load-time checks, and the two Nara reports."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest

from feedsvc.config import load_config, parse_config
from feedsvc.config_types import SourceConfig
from feedsvc.errors import ConfigError
from feedsvc.service import Service
from feedsvc.store import Store
from feedsvc.tags import Tagger, fold, tagger_for
from feedsvc.types import Article, TagOrigin

VOCABULARY = """\
tags:
  korea-japan:
    title: Korea and Japan
    description: Relations between South Korea and Japan
    aliases: [japan-korea, "Korea–Japan relations"]
    match:
      all:
        - any: [Korea, RoK, Seoul]
        - any: [Japan, Tokyo]
  north-korea:
    title: North Korea
    aliases: ["N. Korea"]
    match:
      any: [North Korea, DPRK, Pyongyang]
  cafes:
    title: Cafés
    match: [café, "coffee shop"]
  ferry-fares:
    title: Ferry fares
    match:
      all:
        - title: [ferry, ferries]
        - text: "re:\\\\bfares? (?:rise|up)\\\\b"
  harbour-wire:
    title: Harbour from the wire
    match:
      outlet: Valley Wire
      any: [harbour, harbor]
  english-only:
    title: English
    match: {language: en}
  from-gazette:
    title: From the gazette
    match: {source: gazette}
  politics:
    title: Politics
    aliases: [government, "Politics & Government"]
  sport:
    title: Sport
    match:
      category: football
  peace:
    title: Peace talks
    match:
      any: [summit, talks]
      none: [tennis, "peace of mind"]
  unspaced:
    title: Words of scripts written without spaces
    match: [東京, 京都, ミャンマー, พม่า, Nara, ferry]
sources:
  - {name: gazette, title: Harbour Gazette, kind: feed, url: 'https://g.test/rss', tags: [N. Korea]}
  - {name: wire, title: Valley Wire, kind: feed, url: 'https://w.test/rss'}
"""

T0 = datetime(2026, 1, 13, tzinfo=UTC)


def article(
    title: str,
    text: str = "",
    *,
    source: str = "wire",
    dateline: str | None = None,
    language: str | None = None,
    categories: tuple[str, ...] = (),
) -> Article:
    return Article(
        source=source,
        id=title,
        url=None,
        title=title,
        summary="",
        content_html="",
        text=text,
        published=T0,
        updated=None,
        date_estimated=False,
        content_hash="h",
        language=language,
        categories=categories,
        dateline=dateline,
    )


@pytest.fixture(scope="module")
def tagger(tmp_path_factory: pytest.TempPathFactory) -> tuple[Tagger, dict[str, SourceConfig]]:
    path = tmp_path_factory.mktemp("tags") / "sources.yaml"
    config = parse_config(VOCABULARY, path)
    return tagger_for(config.tags), {s.name: s for s in config.sources}


def tags_of(tagger: tuple[Tagger, dict[str, SourceConfig]], item: Article) -> set[str]:
    compiled, sources = tagger
    return {o.tag for o in compiled.origins(item, sources.get(item.source)) if o.kind == "rule"}


RULES = [
    # the examples
    ("north-korea", article("Pyongyang fired a missile"), True),
    ("north-korea", article("Missile test", "Officials said the DPRK said it would."), True),
    ("north-korea", article("South Korea's central bank raises rates"), False),
    ("north-korea", article("Launch", "The missile flew east.", dateline="PYONGYANG"), True),
    ("north-korea", article("NORTH  KOREA holds parade"), True),  # case, any white space
    ("north-korea", article("Northkorea is one word here"), False),
    ("north-korea", article("Pyongyangese cuisine"), False),  # word boundaries
    ("korea-japan", article("Seoul and Tokyo agree on visas"), True),
    ("korea-japan", article("Japan–RoK cooperation", "Leaders met."), True),
    ("korea-japan", article("Seoul weather"), False),  # all: both halves needed
    ("korea-japan", article("Summit", "Japan's PM visited the ROK president"), True),
    # accents and case both ways
    ("cafes", article("New cafe opens on the quay"), True),
    ("cafes", article("NEW CAFÉ OPENS"), True),
    ("cafes", article("Coffee   shop closes"), True),
    ("cafes", article("Cafeteria menu"), False),
    # fields
    ("ferry-fares", article("Ferry timetable", "Fares rise in January."), True),
    ("ferry-fares", article("Timetable", "Ferry fares rise in January."), False),  # not title
    ("ferry-fares", article("Ferry timetable", "Fares stay the same."), False),
    ("harbour-wire", article("Harbour closed", source="wire"), True),
    ("harbour-wire", article("Harbour closed", source="gazette"), False),
    ("english-only", article("x", language="en-GB"), True),
    ("english-only", article("x", language="en"), True),
    ("english-only", article("x", language="eng"), False),
    ("english-only", article("x"), False),
    ("from-gazette", article("x", source="gazette"), True),
    ("from-gazette", article("x", source="gazette-two"), False),
    ("sport", article("Match report", categories=("Football", "Local")), True),
    ("sport", article("Football match report"), False),  # category only
    # none
    ("peace", article("Summit in Nara"), True),
    ("peace", article("Summit of the tennis season"), False),
    ("peace", article("Talks", "Yoga for peace of mind."), False),
    # scripts written without spaces between words: a word's edge there is no boundary
    ("unspaced", article("首相は東京で会談した"), True),
    ("unspaced", article("京都市で会議"), True),
    ("unspaced", article("ミャンマーの選挙"), True),
    ("unspaced", article("ข่าวพม่าวันนี้"), True),
    ("unspaced", article("奈良県のNara市で首脳会談"), True),  # a Latin word between kanji
    ("unspaced", article("Naraka and ferryman"), False),  # Latin words keep their boundaries
    ("unspaced", article("東の京"), False),
]


@pytest.mark.parametrize(("tag", "item", "expected"), RULES)
def test_rule_semantics(
    tagger: tuple[Tagger, dict[str, SourceConfig]], tag: str, item: Article, expected: bool
) -> None:
    assert (tag in tags_of(tagger, item)) is expected


def test_provenance_names_what_matched(tagger: tuple[Tagger, dict[str, SourceConfig]]) -> None:
    compiled, sources = tagger
    item = article(
        "Seoul and Tokyo talk",
        source="gazette",
        categories=("Politics & Government", "Weather"),
    )
    origins = compiled.origins(item, sources["gazette"])
    assert TagOrigin("korea-japan", "rule", "'Seoul' in title; 'Tokyo' in title") in origins
    assert TagOrigin("politics", "category", "Politics & Government") in origins
    assert TagOrigin("north-korea", "source", "gazette") in origins  # listed as "N. Korea"
    tagged = compiled.tag(item, sources["gazette"])
    assert tagged.tags == ("from-gazette", "korea-japan", "north-korea", "politics")
    assert compiled.plain_categories(item.categories) == ("Weather",)


def test_source_tags_resolve_through_aliases(tmp_path: Path) -> None:
    config = parse_config(VOCABULARY, tmp_path / "sources.yaml")
    assert config.sources[0].tags == ("north-korea",)
    assert config.tags.declared


def test_fold() -> None:
    assert fold("Café – “Korea’s”") == fold("cafe - “korea's”")
    assert fold("ÅNGSTRÖM") == "angstrom"


# --------------------------------------------------------------------------- load-time checks

BAD_RULES = [
    (
        "tags:\n  x:\n    match: 're:(unclosed'\n",
        3,
        "tags.x.match",
        "bad regular expression '(unclosed'",
    ),
    ("tags:\n  x:\n    match: 're:a*'\n", 3, "tags.x.match", "matches empty text"),
    (
        "tags:\n  x:\n    match:\n      titel: Seoul\n",
        4,
        "tags.x.match.titel",
        "unknown field 'titel'; expected one of: all, any, none, title, text, place, outlet,"
        " category, language, source; did you mean 'title'?",
    ),
    (
        "tags:\n  x:\n    match:\n      all:\n        - any: [a, 7]\n",
        5,
        "tags.x.match.all[0].any[1]",
        "got an integer '7' (put it in quotes",
    ),
    ("tags:\n  x:\n    match:\n      any: []\n", 4, "tags.x.match.any", "got none"),
    ("tags:\n  x:\n    match:\n      title: {text: a}\n", 4, "tags.x.match.title.text", "inside"),
    ("tags:\n  X-Y:\n    title: t\n", 2, "tags.X-Y", "expected a tag slug"),
    # the slug is a file name (tags/<slug>.rss): one too long for the file system
    # passed the check and failed every publish
    (f"tags:\n  {'k' * 65}:\n    title: t\n", 2, f"tags.{'k' * 65}", "of 1-64 lower-case"),
    ("tags:\n  x:\n    colour: red\n", 3, "tags.x.colour", "unknown key 'colour'"),
    (
        "tags:\n  x:\n    aliases: [y]\n  y: {}\n",
        4,
        "tags.y",
        "the name 'y' already names the tag 'x'",
    ),
]


@pytest.mark.parametrize(("text", "line", "key", "fragment"), BAD_RULES)
def test_rule_errors_name_file_line_and_key(
    tmp_path: Path, text: str, line: int, key: str, fragment: str
) -> None:
    path = tmp_path / "sources.yaml"
    path.write_text(text + "sources: []\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    (problem,) = caught.value.problems
    assert (problem.file, problem.line, problem.key) == (str(path), line, key)
    assert fragment in problem.message
    assert str(problem).startswith(f"{path}:{line}: {key}: ")


def test_unknown_source_tag_is_an_error_with_a_vocabulary(tmp_path: Path) -> None:
    path = tmp_path / "sources.yaml"
    path.write_text(
        textwrap.dedent(
            """\
            tags:
              korea-japan: {title: Korea and Japan}
            sources:
              - name: wire
                kind: feed
                url: https://w.test/rss
                tags: [korea-japn]
            """
        )
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    (problem,) = caught.value.problems
    assert (problem.line, problem.key) == (7, "sources[0].tags[0]")
    assert "unknown tag 'korea-japn'" in problem.message
    assert "did you mean 'korea-japan'?" in problem.message


def test_without_a_vocabulary_source_tags_make_it(tmp_path: Path) -> None:
    text = "sources:\n  - {name: w, kind: feed, url: 'https://w.test/', tags: [coast, city]}\n"
    config = parse_config(text, tmp_path / "sources.yaml")
    assert [(t.slug, t.title) for t in config.tags.tags] == [("city", "city"), ("coast", "coast")]
    assert not config.tags.declared


def test_a_source_tag_too_long_for_a_file_name_is_an_error(tmp_path: Path) -> None:
    long = "k" * 65
    text = f"sources:\n  - {{name: w, kind: feed, url: 'https://w.test/', tags: [ok, {long}]}}\n"
    with pytest.raises(ConfigError) as caught:
        parse_config(text, tmp_path / "sources.yaml")
    assert "sources[0].tags[1]" in str(caught.value) and "1-64" in str(caught.value)
    parse_config(text.replace(long, "k" * 64), tmp_path / "sources.yaml")


def test_categories_setting(tmp_path: Path) -> None:
    text = "settings:\n  categories: drop\ntags:\n  a: {}\nsources: []\n"
    config = parse_config(text, tmp_path / "sources.yaml")
    assert config.tags.categories == "drop"
    assert tagger_for(config.tags).plain_categories(["x", "a"]) == ()


# --------------------------------------------------------------------------- the Nara reports


@pytest.mark.shared
def test_korea_japan_tags_both_nara_reports(tmp_path: Path, shared_dir: Path) -> None:
    text = VOCABULARY.split("sources:")[0] + (
        f"sources:\n  - {{name: seeds, kind: file, path: '{shared_dir / 'seeds'}'}}\n"
        "settings: {data_dir: data, output_dir: output}\n"
    )
    path = tmp_path / "sources.yaml"
    path.write_text(text, encoding="utf-8")
    service = Service.from_path(path)
    service.run_once(force=True, workers=1)
    with Store.open(service.config.settings.database_url) as store:
        reports = store.recent_articles(10)
    assert len(reports) == 2
    for report in reports:
        assert "korea-japan" in report.tags, report.title
        (origin,) = [o for o in report.tag_origins if o.tag == "korea-japan"]
        assert origin.kind == "rule"
    assert "north-korea" in {t for r in reports for t in r.tags}  # one names North Korea


def test_the_documented_tags_example_loads(repo_dir: Path, tmp_path: Path) -> None:
    text = (repo_dir / "docs" / "config.md").read_text(encoding="utf-8")
    example = next(b for b in text.split("```yaml\n")[1:] if b.startswith("tags:"))
    config = parse_config(example.split("```", 1)[0], tmp_path / "sources.yaml")
    assert config.sources[0].tags == ("coast", "north-korea")
    compiled = tagger_for(config.tags)
    fares = article("Ferry timetable", "Fares rise in May.")
    assert "ferry-fares" in {o.tag for o in compiled.origins(fares, None)}

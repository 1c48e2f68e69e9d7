"""Tests of feedsvc.config: real files on disk, real YAML, every problem located."""

from __future__ import annotations

import os
import textwrap
from datetime import timedelta
from pathlib import Path

import pytest

from feedsvc.config import (
    DEFAULT_CONTACT,
    FETCH_KEYS,
    ROOT_KEYS,
    SETTINGS_KEYS,
    SOURCE_KEYS,
    format_duration,
    load_config,
    parse_config,
    parse_duration,
    parse_size,
)
from feedsvc.config_types import Config, FetchConfig, Settings
from feedsvc.errors import ConfigError

FULL = """\
settings:
  data_dir: state
  database_url: sqlite:///state/main.sqlite3
  output_dir: public
  base_url: https://feeds.example.org/harbor
  feed_size: 120
  contact: desk@example.org
  fetch:
    connect_timeout: 5s
    total_timeout: 1m
    max_redirects: 3
    max_body_size: 512KiB
    concurrency: 12
    per_host: 3
sources:
  - name: harbor-ledger
    title: The Harbor Ledger
    kind: feed
    url: https://ledger.example.org/rss.xml
    tags: [coast, shipping]
    interval: 1h30m
  - name: valemont_courier
    kind: page
    url: http://courier.example.net:8081/section/city
    interval: 2d
    enabled: no
  - name: wire-drops
    kind: file
    path: drops
"""


def write(directory: Path, text: str, name: str = "sources.yaml") -> Path:
    """Write a config file (dedented) into ``directory`` and return its path."""
    path = directory / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def problems(path: Path) -> list[tuple[int | None, str, str]]:
    """The (line, key, message) of every problem load_config reports for ``path``."""
    with pytest.raises(ConfigError) as info:
        load_config(path)
    return [(p.line, p.key, p.message) for p in info.value.problems]


def only_problem(directory: Path, text: str) -> tuple[int | None, str, str]:
    """The single problem a config text yields."""
    found = problems(write(directory, text))
    assert len(found) == 1, found
    return found[0]


def minimal(source: str) -> str:
    """A config text with one source, given as the YAML lines of its mapping."""
    body = textwrap.indent(textwrap.dedent(source), "    ")
    return "sources:\n  - " + body.lstrip()


# --------------------------------------------------------------------------- valid files


def test_full_file_is_read_into_records(tmp_path: Path) -> None:
    (tmp_path / "drops").mkdir()
    config = load_config(write(tmp_path, FULL))

    settings = config.settings
    assert settings.data_dir == tmp_path / "state"
    assert settings.database_url == f"sqlite:///{tmp_path}/state/main.sqlite3"
    assert settings.output_dir == tmp_path / "public"
    assert settings.base_url == "https://feeds.example.org/harbor/"
    assert settings.feed_size == 120
    assert settings.contact == "desk@example.org"
    assert settings.fetch == FetchConfig(
        connect_timeout=5.0,
        total_timeout=60.0,
        max_redirects=3,
        max_body_bytes=512 * 1024,
        concurrency=12,
        per_host=3,
    )
    ledger, courier, drops = config.sources
    assert ledger.name == "harbor-ledger"
    assert ledger.title == "The Harbor Ledger"
    assert ledger.kind == "feed"
    assert ledger.url == "https://ledger.example.org/rss.xml"
    assert ledger.path is None
    assert ledger.tags == ("coast", "shipping")
    assert ledger.interval == timedelta(hours=1, minutes=30)
    assert ledger.enabled is True
    assert courier.title == "valemont_courier"
    assert courier.interval == timedelta(days=2)
    assert courier.enabled is False
    assert drops.kind == "file"
    assert drops.url is None
    assert drops.path == tmp_path / "drops"
    assert drops.location == str(tmp_path / "drops")


def test_defaults(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "sources: []\n"))
    assert config.sources == ()
    assert config.path == tmp_path / "sources.yaml"
    settings = config.settings
    assert settings.data_dir == tmp_path / "data"
    assert settings.output_dir == tmp_path / "output"
    assert settings.database_url == f"sqlite:///{tmp_path}/data/feedsvc.sqlite3"
    assert settings.base_url == "http://localhost:8080/"
    assert settings.feed_size == 50
    assert settings.contact == DEFAULT_CONTACT
    assert settings.fetch == FetchConfig()


def test_default_contact_matches_the_settings_record() -> None:
    record = Settings(database_url="sqlite://", data_dir=Path(), output_dir=Path(), base_url="x")
    assert record.contact == DEFAULT_CONTACT


def test_source_defaults(tmp_path: Path) -> None:
    config = load_config(
        write(tmp_path, minimal("{name: tide, kind: feed, url: 'https://t.example/'}"))
    )
    (source,) = config.sources
    assert (source.title, source.tags, source.enabled) == ("tide", (), True)
    assert source.interval == timedelta(minutes=30)


def test_empty_settings_and_fetch_sections_mean_defaults(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "settings:\n  fetch:\nsources: []\n"))
    assert config.settings.fetch == FetchConfig()


def test_relative_paths_follow_the_config_file_not_the_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    conf_dir = tmp_path / "conf"
    (conf_dir / "drops").mkdir(parents=True)
    write(conf_dir, minimal("{name: wire, kind: file, path: drops}"))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)

    config = load_config(Path("../conf/sources.yaml"))

    assert config.sources[0].path is not None
    assert config.sources[0].path.resolve() == (conf_dir / "drops").resolve()
    assert config.sources[0].path.is_absolute()
    assert config.settings.data_dir.resolve() == (conf_dir / "data").resolve()
    database = config.settings.database_url.removeprefix("sqlite:///")
    assert Path(database).is_absolute()
    assert Path(database).resolve() == (conf_dir / "data" / "feedsvc.sqlite3").resolve()


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("sqlite:///db/x.sqlite3", "sqlite:///{base}/db/x.sqlite3"),
        ("sqlite+pysqlite:///x.db?timeout=5", "sqlite+pysqlite:///{base}/x.db?timeout=5"),
        ("sqlite:////var/lib/feedsvc/x.db", "sqlite:////var/lib/feedsvc/x.db"),
        ("sqlite://", "sqlite://"),
        ("sqlite:///:memory:", "sqlite:///:memory:"),
        (
            "postgresql+psycopg://feeds:secret@db.example.org/feeds",
            "postgresql+psycopg://feeds:secret@db.example.org/feeds",
        ),
    ],
)
def test_database_url(tmp_path: Path, given: str, expected: str) -> None:
    text = f"settings:\n  database_url: '{given}'\nsources: []\n"
    config = parse_config(text, tmp_path / "sources.yaml")
    assert config.settings.database_url == expected.format(base=tmp_path)


def test_a_bad_database_url_from_the_environment_names_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FEEDSVC_DATABASE_URL", "mysql://db.example.org/x")
    text = "settings:\n  database_url: sqlite:///fine.db\nsources: []\n"
    with pytest.raises(ConfigError) as info:
        parse_config(text, tmp_path / "sources.yaml")
    (problem,) = info.value.problems
    assert (problem.line, problem.key) == (None, "FEEDSVC_DATABASE_URL")
    assert "'mysql'" in problem.message and "from the environment" in problem.message


def test_file_url_becomes_a_path(tmp_path: Path) -> None:
    (tmp_path / "in box").mkdir()
    text = minimal(f"{{name: box, kind: file, url: 'file://{tmp_path}/in%20box'}}")
    (source,) = load_config(write(tmp_path, text)).sources
    assert (source.url, source.path) == (None, tmp_path / "in box")


def test_feed_may_read_a_local_file_that_does_not_exist_yet(tmp_path: Path) -> None:
    text = minimal("{name: local, kind: feed, path: feeds/local.xml}")
    (source,) = load_config(write(tmp_path, text)).sources
    assert source.path == tmp_path / "feeds" / "local.xml"


def test_yaml_anchors_and_duplicate_tags(tmp_path: Path) -> None:
    text = """\
    sources:
      - {name: one, kind: feed, url: 'https://one.example/', tags: &t [coast, coast, port]}
      - {name: two, kind: feed, url: 'https://two.example/', tags: *t}
    """
    one, two = load_config(write(tmp_path, text)).sources
    assert one.tags == two.tags == ("coast", "port")


# --------------------------------------------------------------------------- problems


def test_unknown_key_with_hint(tmp_path: Path) -> None:
    text = """\
    sources:
      - name: tide
        kind: feed
        url: https://tide.example.org/feed
        intervall: 10m
    """
    line, key, message = only_problem(tmp_path, text)
    assert (line, key) == (5, "sources[0].intervall")
    assert message.startswith("unknown key 'intervall'; expected one of: name, title, kind,")
    assert message.endswith("did you mean 'interval'?")


def test_unknown_settings_key_without_close_match(tmp_path: Path) -> None:
    line, key, message = only_problem(tmp_path, "settings:\n  colour: blue\nsources: []\n")
    assert (line, key) == (2, "settings.colour")
    assert "did you mean" not in message


def test_message_format_names_the_file_as_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(
        tmp_path,
        "sources:\n  - {name: tide, kind: feed, url: 'https://t.example/', interval: often}\n",
    )
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as info:
        load_config(Path("sources.yaml"))
    assert str(info.value) == (
        "sources.yaml:2: sources[0].interval: expected a duration like '15m', got a string 'often'"
    )


BASE = "name: t\nkind: feed\nurl: https://t.example/\n"

SOURCE_PROBLEMS = [
    ("name: yes\nkind: feed\nurl: https://t.example/", 2, "name", "got a boolean 'yes'"),
    ("name: Tide Watch\nkind: feed\nurl: https://t.example/", 2, "name", "got 'Tide Watch'"),
    ("name: tide\nkind: fed\nurl: https://t.example/", 3, "kind", "did you mean 'feed'?"),
    ("name: tide\nkind: feed\nurl: ftp://t.example/", 4, "url", "http(s)"),
    ("name: tide\nkind: feed\nurl: https:///x", 4, "url", "with a host"),
    ("name: tide\nkind: feed\nurl: http://t.example:99999/", 4, "url", "valid port"),
    ("name: tide\nkind: file\nurl: https://t.example/", 4, "url", "local 'path'"),
    ("name: tide\nkind: file\npath: missing", 4, "path", "no such file or folder"),
    ("name: tide\nkind: feed\nurl: 'file://host/x'", 4, "url", "http(s) URLs only"),
    ("name: tide\nkind: feed\nurl: 'file:///etc/passwd'", 4, "url", "with 'path' instead"),
    ("name: tide\nkind: page\nurl: 'FILE:///etc/passwd'", 4, "url", "a page source fetches"),
    ("name: tide\nkind: file\nurl: 'file://host/x'", 4, "url", "a local path"),
    ("name: tide\nkind: feed", 2, "", "expected exactly one of 'url' and 'path'"),
    (BASE + "path: x", 2, "", "expected exactly one of 'url' and 'path'"),
    ("kind: feed\nurl: https://t.example/", 2, "", "missing required key 'name'"),
    ("name: tide\nurl: https://t.example/", 2, "", "missing required key 'kind'"),
    (BASE + "tags: coast", 5, "tags", "got a single string 'coast'; write it as a list: [coast]"),
    (BASE + "tags: [Coast]", 5, "tags[0]", "got 'Coast'"),
    (BASE + "tags: [7]", 5, "tags[0]", "got an integer '7' (put it in quotes"),
    (BASE + "title: ''", 5, "title", "expected a title, got an empty string"),
    (BASE + "interval: 30s", 5, "interval", "from 1m to 7d, got 30s"),
    (BASE + "interval: 8d", 5, "interval", "got 8d"),
    (BASE + "interval: 30", 5, "interval", "got an integer '30'"),
    (BASE + "enabled: 'true'", 5, "enabled", "expected true or false, got a string 'true'"),
    (BASE + "name: u", 5, "name", "duplicate key (first at line 3)"),
]


@pytest.mark.parametrize(("source", "line", "key", "fragment"), SOURCE_PROBLEMS)
def test_source_problems(tmp_path: Path, source: str, line: int, key: str, fragment: str) -> None:
    text = "# tidewatch\nsources:\n  - " + source.replace("\n", "\n    ") + "\n"
    found_line, found_key, message = only_problem(tmp_path, text)
    assert (found_line, found_key) == (line + 1, f"sources[0].{key}".rstrip("."))
    assert fragment in message


@pytest.mark.parametrize(
    ("settings", "key", "fragment"),
    [
        ("feed_size: 0", "settings.feed_size", "from 1 to 1000, got 0"),
        ("feed_size: many", "settings.feed_size", "expected an integer, got a string 'many'"),
        ("base_url: ftp://feeds.example.org/", "settings.base_url", "http(s)"),
        ("base_url: https://feeds.example.org/?x=1", "settings.base_url", "query"),
        ("contact: nobody", "settings.contact", "e-mail"),
        ("database_url: mysql://db.example.org/x", "settings.database_url", "'mysql'"),
        ("data_dir: ''", "settings.data_dir", "empty"),
        ("output_dir: [a]", "settings.output_dir", "got a list"),
        ("fetch: 3", "settings.fetch", "expected a mapping, got an integer"),
        ("fetch: {max_body_size: lots}", "settings.fetch.max_body_size", "size like '10MB'"),
        ("fetch: {max_body_size: 10}", "settings.fetch.max_body_size", "from 1024"),
        ("fetch: {connect_timeout: 0s}", "settings.fetch.connect_timeout", "from 1s to 1h"),
        ("fetch: {per_host: true}", "settings.fetch.per_host", "got a boolean"),
        ("fetch: {host_interval: 2m}", "settings.fetch.host_interval", "from 0s to 1m"),
        ("redirect_adopt_after: soon", "settings.redirect_adopt_after", "duration like"),
        ("websub_hub: hub.example.org", "settings.websub_hub", "http(s) URL"),
        ("websub_hub: 42", "settings.websub_hub", "expected a string"),
        (
            "fetch: {connect_timeout: 20s, total_timeout: 10s}",
            "settings.fetch.total_timeout",
            "at least",
        ),
    ],
)
def test_settings_problems(tmp_path: Path, settings: str, key: str, fragment: str) -> None:
    text = f"sources: []\nsettings:\n  {settings}\n"
    line, found_key, message = only_problem(tmp_path, text)
    assert (line, found_key) == (3, key)
    assert fragment in message


def test_duplicate_source_names_name_both_lines(tmp_path: Path) -> None:
    text = """\
    sources:
      - name: tide
        kind: feed
        url: https://one.example/
      - name: reef
        kind: feed
        url: https://two.example/
      - name: tide
        kind: feed
        url: https://three.example/
    """
    assert only_problem(tmp_path, text) == (
        8,
        "sources[2].name",
        "duplicate source name 'tide' (first used at line 2)",
    )


def test_duplicate_top_level_key(tmp_path: Path) -> None:
    assert only_problem(tmp_path, "sources: []\nsources: []\n") == (
        2,
        "sources",
        "duplicate key (first at line 1)",
    )


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ("", None, "the file is empty"),
        ("# only a comment\n", None, "the file is empty"),
        ("settings: {}\n", 1, "missing required key 'sources'"),
        ("- a\n- b\n", 1, "expected a mapping, got a list"),
        ("sources:\n", 1, "got nothing (write 'sources: []' for none)"),
        ("sources: {}\n", 1, "expected a list of sources, got a mapping"),
        ("sources:\n  - just-a-name\n", 2, "expected a mapping with name, kind"),
        ("settings:\n  <<: {feed_size: 3}\nsources: []\n", 2, "merge keys are not supported"),
        ("sources: []\n---\nsources: []\n", 2, "expected a single document"),
    ],
)
def test_document_problems(tmp_path: Path, text: str, line: int | None, fragment: str) -> None:
    found_line, _, message = only_problem(tmp_path, text)
    assert found_line == line
    assert fragment in message


def test_yaml_syntax_error_reports_its_line(tmp_path: Path) -> None:
    text = """\
    settings:
      feed_size: 20
    sources:
      - name: tide
        kind: feed
        url: "https://tide.example/
      - name: reef
    """
    line, key, message = only_problem(tmp_path, text)
    assert key == ""
    assert message.startswith("invalid YAML: ")
    assert line == 8  # where the scanner gave up: the unclosed quote runs to the end
    assert message.endswith("(while scanning a quoted scalar from line 6)")


def test_yaml_bad_indentation_line(tmp_path: Path) -> None:
    text = "sources:\n  - name: tide\n   kind: feed\n"
    line, _, message = only_problem(tmp_path, text)
    assert line == 3
    assert message.startswith("invalid YAML: ")


def test_many_problems_are_reported_together_in_line_order(tmp_path: Path) -> None:
    text = """\
    settings:
      feed_size: 0
      colour: blue
    sources:
      - name: tide
        kind: feed
        url: https://tide.example/
        interval: often
      - name: tide
        kind: paper
        url: https://tide2.example/
        tags: coast
    """
    found = problems(write(tmp_path, text))
    assert [(line, key) for line, key, _ in found] == [
        (2, "settings.feed_size"),
        (3, "settings.colour"),
        (8, "sources[0].interval"),
        (9, "sources[1].name"),
        (10, "sources[1].kind"),
        (12, "sources[1].tags"),
    ]


def test_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError) as info:
        load_config(missing)
    assert str(info.value) == f"{missing}: cannot read config file: No such file or directory"
    assert isinstance(info.value.__cause__, FileNotFoundError)


def test_directory_instead_of_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_config(tmp_path)


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read any file")
def test_unreadable_file(tmp_path: Path) -> None:
    path = write(tmp_path, "sources: []\n")
    path.chmod(0)
    try:
        with pytest.raises(ConfigError, match="Permission denied"):
            load_config(path)
    finally:
        path.chmod(0o600)


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "sources.yaml"
    path.write_bytes(b"sources: []\n# caf\xe9\n")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_config(path)


def test_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "sources.yaml"
    path.write_bytes(b"\xef\xbb\xbfsources: []\n")
    assert isinstance(load_config(path), Config)


# --------------------------------------------------------------------------- durations and sizes


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90s", timedelta(seconds=90)),
        ("15m", timedelta(minutes=15)),
        ("1h", timedelta(hours=1)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("2d", timedelta(days=2)),
        ("1d2h3m4s", timedelta(days=1, hours=2, minutes=3, seconds=4)),
        (" 0s ", timedelta(0)),
    ],
)
def test_parse_duration(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    "text", ["", "often", "15", "m", "1.5h", "30m1h", "1h 30m", "-5m", "15M", "1w", "9" * 20 + "d"]
)
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


def test_format_duration_round_trips() -> None:
    for seconds in [*range(0, 200, 7), 3599, 3600, 5400, 86399, 86400, 90061, 7 * 86400]:
        value = timedelta(seconds=seconds)
        assert parse_duration(format_duration(value)) == value


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("10MB", 10_000_000),
        ("512KiB", 512 * 1024),
        ("1000000", 1_000_000),
        (1_000_000, 1_000_000),
        ("2 GiB", 2 * 1024**3),
        ("1.5MiB", 1536 * 1024),
        ("64kb", 64_000),
        ("7B", 7),
        (0, 0),
    ],
)
def test_parse_size(text: str | int, expected: int) -> None:
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["", "lots", "10XB", "MB", "-1", -1, "1e6", "10 M B"])
def test_parse_size_rejects(text: str | int) -> None:
    with pytest.raises(ValueError):
        parse_size(text)


def test_parse_size_rejects_booleans() -> None:
    with pytest.raises(ValueError):
        parse_size(True)


# --------------------------------------------------------------------------- the documentation


def doc_text(repo_dir: Path) -> str:
    """docs/config.md of this repository."""
    return (repo_dir / "docs" / "config.md").read_text(encoding="utf-8")


def test_documented_example_is_valid(repo_dir: Path, tmp_path: Path) -> None:
    example = doc_text(repo_dir).split("```yaml\n", 1)[1].split("```", 1)[0]
    (tmp_path / "samples" / "drops").mkdir(parents=True)
    config = load_config(write(tmp_path, example))
    assert [source.name for source in config.sources] == [
        "harbor-ledger",
        "valemont-courier",
        "wire-drops",
    ]
    assert config.settings.fetch == FetchConfig()


def test_every_key_is_documented(repo_dir: Path) -> None:
    text = doc_text(repo_dir)
    keys = " ".join([ROOT_KEYS, SETTINGS_KEYS, FETCH_KEYS, SOURCE_KEYS]).split()
    assert [key for key in keys if f"| `{key}` |" not in text and f"## {key}" not in text] == []


def test_politeness_settings(tmp_path: Path) -> None:
    text = """\
    settings:
      redirect_adopt_after: 3d
      websub_hub: https://hub.example.org/
      fetch: {host_interval: 0s}
    sources: []
    """
    settings = load_config(write(tmp_path, text)).settings
    assert settings.redirect_adopt_after == timedelta(days=3)
    assert settings.websub_hub == "https://hub.example.org/"
    assert settings.fetch.host_interval == 0.0
    defaults = load_config(write(tmp_path, "sources: []\n")).settings
    assert (defaults.redirect_adopt_after, defaults.websub_hub) == (timedelta(days=1), None)
    assert defaults.fetch.host_interval is None  # 1s, but loopback hosts are not paced


def test_stories_settings_are_read_and_validated(tmp_path: Path) -> None:
    path = tmp_path / "sources.yaml"
    path.write_text(
        "settings:\n"
        "  stories:\n"
        "    window: 2d\n"
        "    representative: source-priority\n"
        "    source_priority: [wire, ghost]\n"
        "sources:\n"
        "  - {name: wire, kind: feed, url: 'http://wire.test/feed'}\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert [str(p) for p in caught.value.problems] == [
        f"{path}:5: settings.stories.source_priority: names no configured source: ghost"
    ]
    path.write_text(path.read_text().replace(", ghost", ""))
    stories = load_config(path).settings.stories
    assert (stories.window, stories.representative, stories.source_priority) == (
        timedelta(days=2),
        "source-priority",
        ("wire",),
    )


def test_unknown_representative_rule_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "sources.yaml"
    path.write_text("settings:\n  stories:\n    representative: loudest\nsources: []\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert "settings.stories.representative: expected one of: earliest" in str(caught.value)


def test_titles_shown_to_readers_lose_bidirectional_overrides(tmp_path: Path) -> None:
    # an unclosed U+202E in an outlet's title (say, from an imported OPML file)
    # displayed the rest of a reader's line backwards
    config = load_config(
        write(
            tmp_path,
            """
            sources:
              - name: gazette
                title: "Harbour \\u202eGazette"
                url: https://gazette.example/rss
                kind: feed
                tags: [ports]
            tags:
              ports:
                title: "Ports \\u2067and\\u2069 harbours"
                description: "Ships \\u202bcoming\\u202c in"
            """,
        )
    )
    assert config.sources[0].title == "Harbour Gazette"
    (tag,) = config.tags.tags
    assert (tag.title, tag.description) == ("Ports and harbours", "Ships coming in")


def test_a_title_of_overrides_alone_is_empty(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        'sources:\n  - {name: a, title: "\\u202e", url: "https://a.example/", kind: feed}\n',
    )
    with pytest.raises(ConfigError, match=r"sources\[0\]\.title.*empty"):
        load_config(path)

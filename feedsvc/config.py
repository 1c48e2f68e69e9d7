"""The schema of sources.yaml: what each key means, read into the ``Config`` records.

The key declarations below (``configspec.Key``/``Section``) are the one
definition of the file's shape: the loader reads and checks values with them,
and ``config_schema`` turns the same declarations into the JSON Schema that
``feedsvc config-schema`` prints for editors. Reading YAML nodes (line numbers,
types, value formats) is ``yamlnodes``; the ``sources`` list is
``config_sources``; the ``tags`` vocabulary and its rules are ``config_tags``.
Every problem found is collected, and they are raised together as one
:class:`~feedsvc.errors.ConfigError` whose lines read ``file:line: key: message``.

It does not fetch URLs, open the database, create directories or otherwise
touch anything the config names, apart from checking that the path of a
``file`` source exists.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

from yaml.nodes import MappingNode, Node

from feedsvc.config_sources import (
    HTTP_URL,
    KINDS,
    NAME_PATTERN,
    PATH,
    SOURCE,
    SOURCE_KEYS,
    http_url_problem,
    read_sources,
)
from feedsvc.config_tags import (
    implicit_vocabulary,
    read_vocabulary,
    resolve_source_tags,
    vocabulary_schema,
)
from feedsvc.config_types import (
    Config,
    FeedFormat,
    FeedsConfig,
    FeedSet,
    FetchConfig,
    RepresentativeRule,
    Settings,
    SourceConfig,
    StoriesConfig,
    Vocabulary,
)
from feedsvc.configspec import (
    Boolean,
    Choice,
    Duration,
    Integer,
    Key,
    ListOf,
    Raw,
    Schema,
    Section,
    Size,
    Slug,
)
from feedsvc.errors import ConfigError, ConfigProblem
from feedsvc.yamlnodes import (
    NodeReader,
    child,
    compose,
    format_duration,
    is_text,
    parse_duration,
    parse_size,
)

__all__ = [
    "DEFAULT_CONTACT",
    "FETCH_KEYS",
    "KINDS",
    "ROOT_KEYS",
    "SETTINGS_KEYS",
    "SOURCE_KEYS",
    "config_schema",
    "format_duration",
    "load_config",
    "parse_config",
    "parse_duration",
    "parse_size",
]

_log = logging.getLogger("feedsvc.config")

REPRESENTATIVE_RULES: dict[str, RepresentativeRule] = {
    "earliest": "earliest",
    "most-complete": "most-complete",
    "source-priority": "source-priority",
}
FEED_SETS: tuple[FeedSet, ...] = ("all", "sources", "tags")
FEED_FORMATS: tuple[FeedFormat, ...] = ("rss", "atom", "json")

DEFAULT_BASE_URL = "http://localhost:8080/"
DEFAULT_ADOPT_AFTER = timedelta(days=1)  # the same as Settings.redirect_adopt_after
DEFAULT_CONTACT = "https://example.invalid/feedsvc"  # the same as Settings.contact

_EMAIL_RE = re.compile(r"[^@\s<>()]+@[^@\s<>()]+\.[^@\s<>()]+")
_SQLITE_RE = re.compile(r"(sqlite(?:\+\w+)?):///(.*)", re.DOTALL)
_DB_SCHEME_RE = re.compile(r"(sqlite|postgresql)(\+\w+)?://")
# Overrides settings.database_url (e.g. one PostgreSQL URL for every host's workers).
DATABASE_URL_ENV = "FEEDSVC_DATABASE_URL"
SECONDS = (timedelta(seconds=1), timedelta(hours=1))

# --------------------------------------------------------------------------- the declarations

FETCH = Section(
    (
        Key("connect_timeout", Duration(*SECONDS), "Time allowed to connect", "10s"),
        Key("total_timeout", Duration(*SECONDS), "Time allowed for a whole request", "30s"),
        Key("max_redirects", Integer(0, 20), "Redirects followed before a fetch fails", 5),
        Key("max_body_size", Size(1024, 2**30), "Larger bodies are refused", "10MiB"),
        Key("concurrency", Integer(1, 256), "Fetches in flight at once, in total", 8),
        Key("per_host", Integer(1, 64), "Fetches in flight at once to one host", 2),
        Key(
            "host_interval",
            Duration(timedelta(0), timedelta(minutes=1)),
            "Least time between request starts to one host (default 1s, 0s for loopback)",
        ),
        Key(
            "allow_private_addresses",
            Boolean(),
            "Fetch from loopback, private, link-local and other non-public addresses",
            False,
        ),
    ),
    "How documents are fetched",
    nullable=True,
)
FETCH_KEYS = FETCH.names

STORIES = Section(
    (
        Key(
            "window",
            Duration(timedelta(hours=1), timedelta(days=30)),
            "A new article is compared only with stories active within this time",
            "3d",
        ),
        Key(
            "representative",
            Choice(tuple(REPRESENTATIVE_RULES)),
            "Which member stands for the story",
            "earliest",
        ),
        Key(
            "source_priority",
            ListOf(Slug(NAME_PATTERN, "a source name of"), "a list of source names like [a, b]"),
            "Outlets in order of preference for source-priority",
        ),
    ),
    "How articles are grouped into stories",
    nullable=True,
)
STORIES_KEYS = STORIES.names

FEEDS = Section(
    (
        Key(
            "sets",
            ListOf(Choice(FEED_SETS), "a list of feed sets like [all, tags]"),
            "Which feeds are published: all (every story), sources, tags",
            list(FEED_SETS),
        ),
        Key(
            "formats",
            ListOf(Choice(FEED_FORMATS), "a list of formats like [rss, atom]", nonempty=True),
            "The formats every published feed is written in",
            list(FEED_FORMATS),
        ),
        Key(
            "max_age",
            Duration(timedelta(hours=1), timedelta(days=3650)),
            "Entries older than the feed's newest entry by more than this are left out",
        ),
    ),
    "Which feeds are published, in which formats, how far back",
    nullable=True,
)
FEEDS_KEYS = FEEDS.names

CATEGORIES: Key[str] = Key(
    "categories",
    Choice(("keep", "drop")),
    "Feed categories that name no tag: kept on entries as plain categories, or dropped",
    "keep",
)

SETTINGS = Section(
    (
        Key("data_dir", Raw(PATH), "Where the database and run state are kept", "data"),
        Key("database_url", Raw({"type": "string"}), "SQLAlchemy URL (sqlite or postgresql)"),
        Key("output_dir", Raw(PATH), "Where published files are written", "output"),
        Key("base_url", Raw(HTTP_URL), "Public URL of output_dir", DEFAULT_BASE_URL),
        Key("feed_size", Integer(1, 1000), "Entries per published feed, at most", 50),
        Key("contact", Raw({"type": "string"}), "URL or e-mail for the User-Agent"),
        Key("fetch", FETCH, "How documents are fetched"),
        Key(
            "redirect_adopt_after",
            Duration(timedelta(0), timedelta(days=365)),
            "How long a permanent redirect must hold before its target is adopted",
            "1d",
        ),
        Key("websub_hub", Raw(HTTP_URL), "A WebSub hub to advertise and ping"),
        Key("stories", STORIES, "How articles are grouped into stories"),
        Key("feeds", FEEDS, "Which feeds are published"),
        CATEGORIES,
    ),
    "How this installation behaves",
    nullable=True,
)
SETTINGS_KEYS = SETTINGS.names

ROOT_KEYS = "settings sources tags"

# --------------------------------------------------------------------------- public API


def load_config(path: Path) -> Config:
    """Read and validate the config file at ``path``; raise ConfigError listing every problem."""
    return read_config(path)[0]


def reloaded_config(path: Path) -> Config | None:
    """Read the config file again (a reload); None, each problem logged, when it is invalid."""
    try:
        return load_config(path)
    except ConfigError as exc:
        _log.error("reload failed; keeping the old config problems=%d", len(exc.problems))
        for problem in exc.problems:
            _log.error("config problem: %s", problem)
        return None


def read_config(path: Path) -> tuple[Config, bytes]:
    """The config file at ``path``, validated, and the very bytes it was read from."""
    try:
        data = path.read_bytes()
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        problem = ConfigProblem(str(path), None, "", f"cannot read config file: not UTF-8 ({exc})")
        raise ConfigError([problem]) from exc
    except OSError as exc:
        reason = exc.strerror or str(exc)
        problem = ConfigProblem(str(path), None, "", f"cannot read config file: {reason}")
        raise ConfigError([problem]) from exc
    return parse_config(text, path), data


def parse_config(text: str, path: Path) -> Config:
    """Validate config ``text``; ``path`` names it in messages and anchors relative paths."""
    reader = NodeReader(file=str(path), base=path.absolute().parent)
    root = compose(text, reader)
    config = _config(reader, root, path)
    if reader.problems:
        problems = sorted(dict.fromkeys(reader.problems), key=lambda p: p.line or 0)
        raise ConfigError(problems)
    _log.debug("config loaded path=%s sources=%d", path, len(config.sources))
    return config


def config_schema() -> Schema:
    """The JSON Schema (draft 2020-12) of sources.yaml, built from the key declarations."""
    from feedsvc.config_tags import condition_schema

    source = SOURCE.schema()
    source["oneOf"] = [{"required": ["url"]}, {"required": ["path"]}]
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://feedsvc.invalid/sources.schema.json",
        "title": "feedsvc sources.yaml",
        "description": "Sources, settings and tag vocabulary of one feedsvc installation",
        "type": "object",
        "properties": {
            "settings": SETTINGS.schema(),
            "sources": {"type": ["array", "null"], "items": source},
            "tags": vocabulary_schema(),
        },
        "required": ["sources"],
        "additionalProperties": False,
        "$defs": {"condition": condition_schema()},
    }


# --------------------------------------------------------------------------- the schema


def _config(r: NodeReader, root: Node | None, path: Path) -> Config:
    if root is None and not r.problems:
        r.problem(None, "", "the file is empty; expected a mapping with a 'sources' list")
    fields = r.mapping(root, "", ROOT_KEYS)
    if isinstance(root, MappingNode) and "sources" not in fields:
        r.problem(root, "", "missing required key 'sources' (write 'sources: []' for none)")
    settings_node = fields.get("settings")
    settings = _settings(r, settings_node)
    policy = _categories(r, settings_node)
    declared = "tags" in fields
    sources = read_sources(r, fields.get("sources"), declared)
    vocabulary = _vocabulary(r, fields, sources, policy)
    sources = _with_tags(r, fields.get("sources"), sources, vocabulary)
    if not declared:
        vocabulary = implicit_vocabulary(sources, policy)
    _check_priority(r, settings_node, settings.stories, sources)
    return Config(path=path, settings=settings, sources=sources, tags=vocabulary)


def _categories(r: NodeReader, settings: Node | None) -> str:
    """``settings.categories`` (read apart: it shapes the vocabulary, not ``Settings``)."""
    node = child(settings, "categories")
    return CATEGORIES.get(r, {} if node is None else {"categories": node}, "settings", "keep")


def _vocabulary(
    r: NodeReader, fields: dict[str, Node], sources: tuple[SourceConfig, ...], policy: str
) -> Vocabulary:
    return read_vocabulary(r, fields.get("tags"), policy) if "tags" in fields else Vocabulary()


def _with_tags(
    r: NodeReader, node: Node | None, sources: tuple[SourceConfig, ...], vocabulary: Vocabulary
) -> tuple[SourceConfig, ...]:
    if not vocabulary.declared:
        return sources
    resolved = resolve_source_tags(r, node, sources, vocabulary)
    return tuple(_retagged(s, tags) for s, tags in zip(sources, resolved, strict=True))


def _retagged(source: SourceConfig, tags: tuple[str, ...]) -> SourceConfig:
    return replace(source, tags=tags)


def _settings(r: NodeReader, node: Node | None) -> Settings:
    f, key = SETTINGS.fields(r, node, "settings"), "settings"
    data_dir = r.path(f.get("data_dir"), "settings.data_dir", "data")
    by_name = {k.name: k for k in SETTINGS.keys}
    return Settings(
        database_url=_database_url(r, f.get("database_url"), data_dir),
        data_dir=data_dir,
        output_dir=r.path(f.get("output_dir"), "settings.output_dir", "output"),
        base_url=_base_url(r, f.get("base_url")),
        feed_size=by_name["feed_size"].get(r, f, key, 50),
        contact=_contact(r, f.get("contact")),
        fetch=_fetch(r, f.get("fetch")),
        redirect_adopt_after=by_name["redirect_adopt_after"].get(r, f, key, DEFAULT_ADOPT_AFTER),
        websub_hub=_websub_hub(r, f.get("websub_hub")),
        stories=_stories(r, f.get("stories")),
        feeds=_feeds(r, f.get("feeds")),
    )


def _stories(r: NodeReader, node: Node | None) -> StoriesConfig:
    key, d = "settings.stories", StoriesConfig()
    f = STORIES.fields(r, node, key)
    window, representative, priority = STORIES.keys
    return StoriesConfig(
        window=window.get(r, f, key, d.window),
        representative=REPRESENTATIVE_RULES[representative.get(r, f, key, d.representative)],
        source_priority=priority.get(r, f, key, ()),
    )


def _feeds(r: NodeReader, node: Node | None) -> FeedsConfig:
    key, d = "settings.feeds", FeedsConfig()
    f = FEEDS.fields(r, node, key)
    sets, formats, max_age = FEEDS.keys
    return FeedsConfig(
        sets=tuple(s for s in FEED_SETS if s in sets.get(r, f, key, d.sets)),
        formats=tuple(s for s in FEED_FORMATS if s in formats.get(r, f, key, d.formats)),
        max_age=max_age.read(r, f, key),
    )


def _check_priority(
    r: NodeReader, settings: Node | None, stories: StoriesConfig, sources: tuple[SourceConfig, ...]
) -> None:
    known = {s.name for s in sources}
    unknown = [name for name in stories.source_priority if name not in known]
    if unknown:
        listed = child(child(settings, "stories"), "source_priority")
        key = "settings.stories.source_priority"
        r.problem(listed, key, f"names no configured source: {', '.join(unknown)}")


def _fetch(r: NodeReader, node: Node | None) -> FetchConfig:
    key, d = "settings.fetch", FetchConfig()
    f = FETCH.fields(r, node, key)
    k = {field.name: field for field in FETCH.keys}
    connect = _seconds(k["connect_timeout"].read(r, f, key), d.connect_timeout)
    total = _seconds(k["total_timeout"].read(r, f, key), d.total_timeout)
    if total < connect:
        where = f.get("total_timeout") or f.get("connect_timeout")
        message = f"expected total_timeout ({total:g}s) to be at least connect_timeout"
        r.problem(where, key + ".total_timeout", f"{message} ({connect:g}s)")
    interval = k["host_interval"].read(r, f, key)
    return FetchConfig(
        connect_timeout=connect,
        total_timeout=total,
        max_redirects=k["max_redirects"].get(r, f, key, d.max_redirects),
        max_body_bytes=k["max_body_size"].get(r, f, key, d.max_body_bytes),
        concurrency=k["concurrency"].get(r, f, key, d.concurrency),
        per_host=k["per_host"].get(r, f, key, d.per_host),
        host_interval=_host_interval(interval, "host_interval" in f),
        allow_private_addresses=k["allow_private_addresses"].get(r, f, key, False),
    )


def _host_interval(value: timedelta | None, given: bool) -> float | None:
    if not given:
        return None
    return (value if value is not None else timedelta(seconds=1)).total_seconds()


def _seconds(value: timedelta | None, default: float) -> float:
    return default if value is None else value.total_seconds()


def _database_url(r: NodeReader, node: Node | None, data_dir: Path) -> str:
    default = f"sqlite:///{(data_dir / 'feedsvc.sqlite3').as_posix()}"
    from_environment = os.environ.get(DATABASE_URL_ENV)
    url = from_environment or r.text(node, "settings.database_url", default)
    if not _DB_SCHEME_RE.match(url):
        scheme = url.partition("://")[0] if "://" in url else url[:20]
        expected = "expected a sqlite:/// or postgresql:// database URL"
        message = f"{expected}, got one starting {scheme!r}"
        if from_environment:  # the file is not at fault: name the variable, at no line
            r.problem(None, DATABASE_URL_ENV, f"{message} (from the environment)")
        else:
            r.problem(node, "settings.database_url", message)
        return default
    return _resolve_sqlite(url, r.base)


def _resolve_sqlite(url: str, base: Path) -> str:
    match = _SQLITE_RE.fullmatch(url)
    if match is None:
        return url
    dialect, rest = match.groups()
    database, sep, query = rest.partition("?")
    if database in ("", ":memory:") or database.startswith(("file:", "/")):
        return url
    return f"{dialect}:///{(base / database).as_posix()}{sep}{query}"


def _base_url(r: NodeReader, node: Node | None) -> str:
    url = r.text(node, "settings.base_url", DEFAULT_BASE_URL)
    problem = http_url_problem(url)
    parts = urlsplit(url) if problem is None else None
    if parts is not None and (parts.query or parts.fragment):
        problem = f"expected a URL without a query or fragment, got {url!r}"
    if problem is not None:
        r.problem(node, "settings.base_url", problem)
        return DEFAULT_BASE_URL
    return url if url.endswith("/") else url + "/"


def _websub_hub(r: NodeReader, node: Node | None) -> str | None:
    url = r.text(node, "settings.websub_hub", "")
    if node is None or not is_text(node):
        return None
    problem = http_url_problem(url)
    if problem is not None:
        r.problem(node, "settings.websub_hub", problem)
        return None
    return url


def _contact(r: NodeReader, node: Node | None) -> str:
    contact = r.text(node, "settings.contact", DEFAULT_CONTACT)
    if _EMAIL_RE.fullmatch(contact) or http_url_problem(contact) is None:
        return contact
    message = "expected an http(s) URL or an e-mail address for the User-Agent"
    r.problem(node, "settings.contact", f"{message}, got {contact!r}")
    return DEFAULT_CONTACT

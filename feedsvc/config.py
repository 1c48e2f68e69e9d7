"""Read sources.yaml into the frozen ``Config`` records of :mod:`feedsvc.types`.

This is the only module that reads YAML. It composes the text into PyYAML nodes
(which keep their line numbers, unlike ``yaml.load``), checks every key and
value against the schema documented in docs/config.md, resolves relative paths
against the config file's directory and returns a :class:`~feedsvc.types.Config`.
Every problem found is collected, and they are raised together as one
:class:`~feedsvc.errors.ConfigError` whose lines read ``file:line: key: message``.

It does not fetch URLs, open the database, create directories or otherwise
touch anything the config names, apart from checking that the path of a
``file`` source exists.
"""

from __future__ import annotations

import difflib
import logging
import re
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit
from urllib.request import url2pathname

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from feedsvc.errors import ConfigError, ConfigProblem
from feedsvc.types import (
    Config,
    FetchConfig,
    RepresentativeRule,
    Settings,
    SourceConfig,
    SourceKind,
    StoriesConfig,
)

__all__ = ["format_duration", "load_config", "parse_config", "parse_duration", "parse_size"]

_log = logging.getLogger("feedsvc.config")

# libyaml's loader when PyYAML was built with it (ten times faster; same nodes and marks).
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_STR = "tag:yaml.org,2002:str"
_INT = "tag:yaml.org,2002:int"
_BOOL = "tag:yaml.org,2002:bool"
_NULL = "tag:yaml.org,2002:null"
_MERGE = "tag:yaml.org,2002:merge"
_TAG_WORDS = {
    _STR: "a string",
    _INT: "an integer",
    _BOOL: "a boolean",
    "tag:yaml.org,2002:float": "a number",
    "tag:yaml.org,2002:timestamp": "a date",
}

# The keys each mapping allows, in the order the messages list them.
ROOT_KEYS = "settings sources"
SETTINGS_KEYS = (
    "data_dir database_url output_dir base_url feed_size contact fetch"
    " redirect_adopt_after websub_hub stories"
)
STORIES_KEYS = "window representative source_priority"
REPRESENTATIVE_RULES: dict[str, RepresentativeRule] = {
    "earliest": "earliest",
    "most-complete": "most-complete",
    "source-priority": "source-priority",
}
FETCH_KEYS = (
    "connect_timeout total_timeout max_redirects max_body_size concurrency per_host host_interval"
    " allow_private_addresses"
)
SOURCE_KEYS = "name title kind url path tags interval enabled"
KINDS: dict[str, SourceKind] = {"feed": "feed", "page": "page", "file": "file"}

DEFAULT_BASE_URL = "http://localhost:8080/"
DEFAULT_INTERVAL = timedelta(minutes=30)
DEFAULT_ADOPT_AFTER = timedelta(days=1)  # the same as Settings.redirect_adopt_after

_NAME_RE = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
_TAG_RE = re.compile(r"[a-z0-9][a-z0-9_-]*")
_EMAIL_RE = re.compile(r"[^@\s<>()]+@[^@\s<>()]+\.[^@\s<>()]+")
_DURATION_RE = re.compile(r"(?:([0-9]+)d)?(?:([0-9]+)h)?(?:([0-9]+)m)?(?:([0-9]+)s)?")
_SIZE_RE = re.compile(r"([0-9]+(?:\.[0-9]+)?)\s*([a-z]*)", re.IGNORECASE)
_SIZE_UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9}
_SIZE_UNITS |= {"kib": 2**10, "mib": 2**20, "gib": 2**30}
_SQLITE_RE = re.compile(r"(sqlite(?:\+\w+)?):///(.*)", re.DOTALL)
_DB_SCHEME_RE = re.compile(r"(sqlite|postgresql)(\+\w+)?://")
_DURATION_UNITS = (("d", 86400), ("h", 3600), ("m", 60), ("s", 1))
_HOST_RE = re.compile(r"[^\s/\\?#@%:<>\[\]\"'`{}|^]+")
MAX_URL_CHARS = 2000
DEFAULT_CONTACT = "https://example.invalid/feedsvc"  # the same as Settings.contact

_Bounded = TypeVar("_Bounded", timedelta, int)

# --------------------------------------------------------------------------- public API


def load_config(path: Path) -> Config:
    """Read and validate the config file at ``path``; raise ConfigError listing every problem."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        problem = ConfigProblem(str(path), None, "", f"cannot read config file: not UTF-8 ({exc})")
        raise ConfigError([problem]) from exc
    except OSError as exc:
        reason = exc.strerror or str(exc)
        problem = ConfigProblem(str(path), None, "", f"cannot read config file: {reason}")
        raise ConfigError([problem]) from exc
    return parse_config(text, path)


def parse_config(text: str, path: Path) -> Config:
    """Validate config ``text``; ``path`` names it in messages and anchors relative paths."""
    reader = _Reader(file=str(path), base=path.absolute().parent)
    root = _compose(text, reader)
    config = _config(reader, root, path)
    if reader.problems:
        problems = sorted(dict.fromkeys(reader.problems), key=lambda p: p.line or 0)
        raise ConfigError(problems)
    _log.debug("config loaded path=%s sources=%d", path, len(config.sources))
    return config


def parse_duration(text: str) -> timedelta:
    """Parse a duration such as "90s", "15m", "1h", "1h30m" or "2d"; raise ValueError otherwise."""
    match = _DURATION_RE.fullmatch(text.strip()) if isinstance(text, str) else None
    if match is None or not any(match.groups()):
        raise ValueError(f"not a duration: {text!r} (expected e.g. '90s', '15m', '1h30m', '2d')")
    days, hours, minutes, seconds = (int(group or 0) for group in match.groups())
    try:
        return timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
    except OverflowError as exc:
        raise ValueError(f"duration too large: {text!r}") from exc


def parse_size(text: str | int) -> int:
    """Parse a size such as "10MB", "512KiB" or 1000000 into bytes; raise ValueError otherwise."""
    if isinstance(text, bool) or not isinstance(text, int | str):
        raise ValueError(f"not a size: {text!r}")
    if isinstance(text, int):
        if text < 0:
            raise ValueError(f"a size cannot be negative: {text}")
        return text
    match = _SIZE_RE.fullmatch(text.strip())
    unit = match.group(2).lower() if match else ""
    if match is None or unit not in _SIZE_UNITS:
        raise ValueError(f"not a size: {text!r} (expected e.g. '10MB', '512KiB', 1000000)")
    return int(Decimal(match.group(1)) * _SIZE_UNITS[unit])


def format_duration(value: timedelta) -> str:
    """Write a duration the way the config file does, e.g. "1h30m"."""
    seconds = int(value.total_seconds())
    parts = []
    for unit, size in _DURATION_UNITS:
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"


# --------------------------------------------------------------------------- reading nodes


@dataclass(slots=True)
class _Reader:
    """Typed access to YAML nodes that records a problem instead of raising."""

    file: str
    base: Path
    problems: list[ConfigProblem] = field(default_factory=list)
    constructor: SafeConstructor = field(default_factory=SafeConstructor)

    def problem(self, node: Node | None, key: str, message: str) -> None:
        """Record one problem at ``node``'s line."""
        line = node.start_mark.line + 1 if node is not None else None
        self.problems.append(ConfigProblem(self.file, line, key, message))

    def expected(self, node: Node, key: str, what: str, hint: str = "") -> None:
        """Record that ``node`` is not ``what`` it should be."""
        self.problem(node, key, f"expected {what}, got {_describe(node)}{hint}")

    def mapping(self, node: Node | None, key: str, keys: str) -> dict[str, Node]:
        """The values of a mapping by key; unknown and duplicate keys are problems."""
        if node is None or _is_null(node):
            return {}
        if not isinstance(node, MappingNode):
            self.expected(node, key, "a mapping")
            return {}
        lines: dict[str, int] = {}
        allowed = keys.split()
        pairs = [(k, v) for k, v in node.value if self._check_key(k, key, allowed, lines)]
        return {str(key_node.value): value for key_node, value in pairs}

    def _check_key(
        self, key_node: Node, key: str, allowed: Collection[str], lines: dict[str, int]
    ) -> bool:
        if not isinstance(key_node, ScalarNode) or key_node.tag == _MERGE:
            self.problem(key_node, key, "expected a plain key (YAML merge keys are not supported)")
            return False
        name, line = key_node.value, key_node.start_mark.line + 1
        if name in lines:
            self.problem(key_node, _join(key, name), f"duplicate key (first at line {lines[name]})")
            return False
        lines[name] = line
        if name not in allowed:
            self.problem(key_node, _join(key, name), _unknown_key(name, allowed))
            return False
        return True

    def text(self, node: Node | None, key: str, default: str) -> str:
        """A string value, or ``default`` when absent or invalid."""
        if node is None:
            return default
        if isinstance(node, ScalarNode) and node.tag == _STR:
            return str(node.value)
        quote = " (put it in quotes if you mean the text)" if isinstance(node, ScalarNode) else ""
        self.expected(node, key, "a string", quote)
        return default

    def integer(self, node: Node | None, key: str, default: int, bounds: tuple[int, int]) -> int:
        """An integer within ``bounds`` (inclusive), or ``default``."""
        return self._parsed(node, key, default, bounds, "an integer", self._int_of)

    def boolean(self, node: Node | None, key: str, default: bool) -> bool:
        """A boolean value, or ``default``."""
        if node is None:
            return default
        if isinstance(node, ScalarNode) and node.tag == _BOOL:
            return self.constructor.construct_yaml_bool(node)
        self.expected(node, key, "true or false")
        return default

    def duration(
        self, node: Node | None, key: str, default: timedelta, bounds: tuple[timedelta, timedelta]
    ) -> timedelta:
        """A duration within ``bounds`` (inclusive), or ``default``."""
        what = "a duration like '15m'"
        return self._parsed(node, key, default, bounds, what, self._duration_of)

    def size(self, node: Node | None, key: str, default: int, bounds: tuple[int, int]) -> int:
        """A size in bytes within ``bounds`` (inclusive), or ``default``."""
        return self._parsed(node, key, default, bounds, "a size like '10MB'", self._size_of)

    def _duration_of(self, node: Node) -> timedelta:
        if not _is_text(node):
            raise TypeError("not a string")
        return parse_duration(str(node.value))

    def _int_of(self, node: Node) -> int:
        if not (isinstance(node, ScalarNode) and node.tag == _INT):
            raise TypeError("not an integer")
        return self.constructor.construct_yaml_int(node)

    def _size_of(self, node: Node) -> int:
        return parse_size(str(node.value) if _is_text(node) else self._int_of(node))

    def _parsed(
        self,
        node: Node | None,
        key: str,
        default: _Bounded,
        bounds: tuple[_Bounded, _Bounded],
        what: str,
        parse: Callable[[Node], _Bounded],
    ) -> _Bounded:
        if node is None:
            return default
        try:
            value = parse(node)
        except (ValueError, TypeError):
            self.expected(node, key, what)
            return default
        if not bounds[0] <= value <= bounds[1]:
            low, high = (_show(bound) for bound in bounds)
            self.problem(node, key, f"expected {what} from {low} to {high}, got {_show(value)}")
            return default
        return value

    def resolve(self, raw: str) -> Path:
        """``raw`` as a path, relative ones taken from the config file's directory."""
        path = Path(raw).expanduser()
        return path if path.is_absolute() else self.base / path

    def path(self, node: Node | None, key: str, default: str) -> Path:
        """A non-empty path value resolved against the config file's directory."""
        raw = self.text(node, key, default)
        if not raw.strip():
            self.problem(node, key, "expected a path, got an empty string")
            raw = default
        return self.resolve(raw)


def _is_text(node: Node) -> bool:
    return isinstance(node, ScalarNode) and node.tag == _STR


def _is_null(node: Node) -> bool:
    return isinstance(node, ScalarNode) and node.tag == _NULL


def _describe(node: Node) -> str:
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    if node.tag == _NULL:
        return "nothing"
    return f"{_TAG_WORDS.get(node.tag, f'a value tagged {node.tag}')} {node.value!r}"


def _show(value: timedelta | int) -> str:
    return format_duration(value) if isinstance(value, timedelta) else str(value)


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _unknown_key(name: str, allowed: Collection[str]) -> str:
    message = f"unknown key {name!r}; expected one of: {', '.join(allowed)}"
    close = difflib.get_close_matches(name, list(allowed), n=1)
    return f"{message}; did you mean {close[0]!r}?" if close else message


def _compose(text: str, reader: _Reader) -> Node | None:
    try:
        return yaml.compose(text, Loader=_LOADER)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        reader.problems.append(ConfigProblem(reader.file, line, "", _yaml_message(exc, line)))
    except yaml.YAMLError as exc:
        reader.problems.append(ConfigProblem(reader.file, None, "", f"invalid YAML: {exc}"))
    return None


def _yaml_message(exc: yaml.MarkedYAMLError, line: int | None) -> str:
    context, start = exc.context, exc.context_mark
    if context and start is not None and start.line + 1 != line:
        context = f"{context} from line {start.line + 1}"
    return f"invalid YAML: {exc.problem} ({context})" if context else f"invalid YAML: {exc.problem}"


# --------------------------------------------------------------------------- the schema


def _config(r: _Reader, root: Node | None, path: Path) -> Config:
    if root is None and not r.problems:
        r.problem(None, "", "the file is empty; expected a mapping with a 'sources' list")
    fields = r.mapping(root, "", ROOT_KEYS)
    if isinstance(root, MappingNode) and "sources" not in fields:
        r.problem(root, "", "missing required key 'sources' (write 'sources: []' for none)")
    settings = _settings(r, fields.get("settings"))
    sources = _sources(r, fields.get("sources"))
    _check_priority(r, fields.get("settings"), settings.stories, sources)
    return Config(path=path, settings=settings, sources=sources)


def _settings(r: _Reader, node: Node | None) -> Settings:
    f = r.mapping(node, "settings", SETTINGS_KEYS)
    data_dir = r.path(f.get("data_dir"), "settings.data_dir", "data")
    return Settings(
        database_url=_database_url(r, f.get("database_url"), data_dir),
        data_dir=data_dir,
        output_dir=r.path(f.get("output_dir"), "settings.output_dir", "output"),
        base_url=_base_url(r, f.get("base_url")),
        feed_size=r.integer(f.get("feed_size"), "settings.feed_size", 50, (1, 1000)),
        contact=_contact(r, f.get("contact")),
        fetch=_fetch(r, f.get("fetch")),
        redirect_adopt_after=r.duration(
            f.get("redirect_adopt_after"),
            "settings.redirect_adopt_after",
            DEFAULT_ADOPT_AFTER,
            (timedelta(0), timedelta(days=365)),
        ),
        websub_hub=_websub_hub(r, f.get("websub_hub")),
        stories=_stories(r, f.get("stories")),
    )


def _stories(r: _Reader, node: Node | None) -> StoriesConfig:
    f, key, d = (
        r.mapping(node, "settings.stories", STORIES_KEYS),
        "settings.stories.",
        StoriesConfig(),
    )
    window = r.duration(
        f.get("window"), key + "window", d.window, (timedelta(hours=1), timedelta(days=30))
    )
    rule_node = f.get("representative")
    raw = r.text(rule_node, key + "representative", d.representative)
    rule = REPRESENTATIVE_RULES.get(raw)
    if rule is None and rule_node is not None:
        r.problem(
            rule_node,
            key + "representative",
            f"expected one of: {', '.join(REPRESENTATIVE_RULES)}, got {raw!r}",
        )
    priority = _names(r, f.get("source_priority"), key + "source_priority")
    return StoriesConfig(
        window=window, representative=rule or d.representative, source_priority=priority
    )


def _names(r: _Reader, node: Node | None, key: str) -> tuple[str, ...]:
    if node is None:
        return ()
    if not isinstance(node, SequenceNode):
        r.expected(node, key, "a list of source names like [wire, gazette]")
        return ()
    names = [
        _slug(r, item, f"{key}[{i}]", _NAME_RE, "a source name of")
        for i, item in enumerate(node.value)
    ]
    return tuple(dict.fromkeys(n for n in names if n))


def _check_priority(
    r: _Reader, settings: Node | None, stories: StoriesConfig, sources: tuple[SourceConfig, ...]
) -> None:
    known = {s.name for s in sources}
    unknown = [name for name in stories.source_priority if name not in known]
    if unknown:
        listed = _child(_child(settings, "stories"), "source_priority")
        key = "settings.stories.source_priority"
        r.problem(listed, key, f"names no configured source: {', '.join(unknown)}")


def _child(node: Node | None, name: str) -> Node | None:
    if isinstance(node, MappingNode):
        return next((value for key, value in node.value if key.value == name), None)
    return None


def _database_url(r: _Reader, node: Node | None, data_dir: Path) -> str:
    default = f"sqlite:///{(data_dir / 'feedsvc.sqlite3').as_posix()}"
    url = r.text(node, "settings.database_url", default)
    if not _DB_SCHEME_RE.match(url):
        scheme = url.partition("://")[0] if "://" in url else url[:20]
        message = "expected a sqlite:/// or postgresql:// database URL"
        r.problem(node, "settings.database_url", f"{message}, got one starting {scheme!r}")
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


def _http_url_problem(url: str) -> str | None:
    """Why ``url`` is not an http(s) URL with a host, or None when it is one."""
    if len(url) > MAX_URL_CHARS:
        return f"expected a URL of at most {MAX_URL_CHARS} characters, got {len(url)}"
    if not url or any(char.isspace() or not char.isprintable() for char in url):
        return f"expected an http(s) URL without spaces, got {url!r}"
    try:
        parts = urlsplit(url)
        hostname = parts.hostname
    except ValueError as exc:
        return f"expected an http(s) URL, got {url!r} ({exc})"
    if parts.scheme.lower() not in ("http", "https") or not hostname:
        return f"expected an http(s) URL with a host, got {url!r}"
    if not _HOST_RE.fullmatch(hostname) and not hostname.startswith("[") and ":" not in hostname:
        return f"expected an http(s) URL with a valid host name, got {url!r}"
    try:
        port = parts.port
    except ValueError:
        port = 0
    if port == 0:
        return f"expected an http(s) URL with a valid port, got {url!r}"
    return None


def _base_url(r: _Reader, node: Node | None) -> str:
    url = r.text(node, "settings.base_url", DEFAULT_BASE_URL)
    problem = _http_url_problem(url)
    parts = urlsplit(url) if problem is None else None
    if parts is not None and (parts.query or parts.fragment):
        problem = f"expected a URL without a query or fragment, got {url!r}"
    if problem is not None:
        r.problem(node, "settings.base_url", problem)
        return DEFAULT_BASE_URL
    return url if url.endswith("/") else url + "/"


def _websub_hub(r: _Reader, node: Node | None) -> str | None:
    url = r.text(node, "settings.websub_hub", "")
    if node is None or not _is_text(node):
        return None
    problem = _http_url_problem(url)
    if problem is not None:
        r.problem(node, "settings.websub_hub", problem)
        return None
    return url


def _contact(r: _Reader, node: Node | None) -> str:
    contact = r.text(node, "settings.contact", DEFAULT_CONTACT)
    if _EMAIL_RE.fullmatch(contact) or _http_url_problem(contact) is None:
        return contact
    message = "expected an http(s) URL or an e-mail address for the User-Agent"
    r.problem(node, "settings.contact", f"{message}, got {contact!r}")
    return DEFAULT_CONTACT


def _fetch(r: _Reader, node: Node | None) -> FetchConfig:
    f, key, d = r.mapping(node, "settings.fetch", FETCH_KEYS), "settings.fetch.", FetchConfig()
    connect = _seconds(r, f.get("connect_timeout"), key + "connect_timeout", d.connect_timeout)
    total = _seconds(r, f.get("total_timeout"), key + "total_timeout", d.total_timeout)
    if total < connect:
        where = f.get("total_timeout") or f.get("connect_timeout")
        message = f"expected total_timeout ({total:g}s) to be at least connect_timeout"
        r.problem(where, key + "total_timeout", f"{message} ({connect:g}s)")
    return FetchConfig(
        connect_timeout=connect,
        total_timeout=total,
        max_redirects=r.integer(
            f.get("max_redirects"), key + "max_redirects", d.max_redirects, (0, 20)
        ),
        max_body_bytes=r.size(
            f.get("max_body_size"), key + "max_body_size", d.max_body_bytes, (1024, 2**30)
        ),
        concurrency=r.integer(f.get("concurrency"), key + "concurrency", d.concurrency, (1, 256)),
        per_host=r.integer(f.get("per_host"), key + "per_host", d.per_host, (1, 64)),
        host_interval=_host_interval(r, f.get("host_interval"), key + "host_interval"),
        allow_private_addresses=r.boolean(
            f.get("allow_private_addresses"), key + "allow_private_addresses", False
        ),
    )


def _host_interval(r: _Reader, node: Node | None, key: str) -> float | None:
    if node is None:
        return None
    bounds = (timedelta(0), timedelta(minutes=1))
    return r.duration(node, key, timedelta(seconds=1), bounds).total_seconds()


def _seconds(r: _Reader, node: Node | None, key: str, default: float) -> float:
    bounds = (timedelta(seconds=1), timedelta(hours=1))
    return r.duration(node, key, timedelta(seconds=default), bounds).total_seconds()


def _sources(r: _Reader, node: Node | None) -> tuple[SourceConfig, ...]:
    if node is None:
        return ()
    if not isinstance(node, SequenceNode):
        r.expected(node, "sources", "a list of sources", " (write 'sources: []' for none)")
        return ()
    sources = [_source(r, item, f"sources[{index}]") for index, item in enumerate(node.value)]
    _check_unique(r, node)
    return tuple(source for source in sources if source is not None)


def _check_unique(r: _Reader, node: SequenceNode) -> None:
    first: dict[str, tuple[int, int]] = {}
    for index, item in enumerate(node.value):
        pairs = item.value if isinstance(item, MappingNode) else []
        for name in (value for key, value in pairs if key.value == "name" and _is_text(value)):
            seen, line = first.setdefault(name.value, (index, name.start_mark.line + 1))
            if seen != index:
                message = f"duplicate source name {name.value!r} (first used at line {line})"
                r.problem(name, f"sources[{index}].name", message)


def _source(r: _Reader, node: Node, key: str) -> SourceConfig | None:
    if not isinstance(node, MappingNode):
        r.expected(node, key, "a mapping with name, kind and url or path")
        return None
    f = r.mapping(node, key, SOURCE_KEYS)
    for required in ("name", "kind"):
        if required not in f:
            r.problem(node, key, f"missing required key {required!r}")
    name = _slug(r, f.get("name"), key + ".name", _NAME_RE, "a name of 1-64")
    kind = _kind(r, f.get("kind"), key + ".kind")
    url, path = _location(r, node, f, key, kind)
    interval_bounds = (timedelta(minutes=1), timedelta(days=7))
    interval = r.duration(f.get("interval"), key + ".interval", DEFAULT_INTERVAL, interval_bounds)
    return SourceConfig(
        name=name,
        title=_title(r, f.get("title"), key + ".title", name),
        kind=kind or "feed",
        url=url,
        path=path,
        tags=_tags(r, f.get("tags"), key + ".tags"),
        interval=interval,
        enabled=r.boolean(f.get("enabled"), key + ".enabled", True),
    )


def _slug(r: _Reader, node: Node | None, key: str, pattern: re.Pattern[str], what: str) -> str:
    value = r.text(node, key, "")
    if node is None or not _is_text(node) or pattern.fullmatch(value):
        return value
    message = f"expected {what} lower-case letters, digits, '-' or '_'"
    r.problem(node, key, f"{message}, starting with a letter or digit, got {value!r}")
    return ""


def _title(r: _Reader, node: Node | None, key: str, name: str) -> str:
    title = r.text(node, key, name)
    if node is not None and _is_text(node) and not title.strip():
        r.problem(node, key, "expected a title, got an empty string")
    return title


def _kind(r: _Reader, node: Node | None, key: str) -> SourceKind | None:
    raw = r.text(node, key, "")
    kind = KINDS.get(raw)
    if kind is None and node is not None and _is_text(node):
        close = difflib.get_close_matches(raw, list(KINDS), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        r.problem(node, key, f"expected one of: {', '.join(KINDS)}, got {raw!r}{hint}")
    return kind


def _tags(r: _Reader, node: Node | None, key: str) -> tuple[str, ...]:
    if node is None:
        return ()
    if _is_text(node):
        message = f"expected a list of tags, got a single string {node.value!r}"
        r.problem(node, key, f"{message}; write it as a list: [{node.value}]")
        return ()
    if not isinstance(node, SequenceNode):
        r.expected(node, key, "a list of tags like [asia, politics]")
        return ()
    items = enumerate(node.value)
    tags = [_slug(r, item, f"{key}[{index}]", _TAG_RE, "a tag of") for index, item in items]
    return tuple(dict.fromkeys(tag for tag in tags if tag))


def _location(
    r: _Reader, node: MappingNode, f: dict[str, Node], key: str, kind: SourceKind | None
) -> tuple[str | None, Path | None]:
    url_node, path_node = f.get("url"), f.get("path")
    if (url_node is None) == (path_node is None):
        r.problem(node, key, "expected exactly one of 'url' and 'path'")
        return None, None
    where = key + (".url" if url_node is not None else ".path")
    value_node = url_node or path_node
    assert value_node is not None
    raw = r.text(value_node, where, "")
    if url_node is not None and not raw.lower().startswith("file:"):
        return _remote_url(r, url_node, where, raw, kind), None
    if url_node is not None and kind in ("feed", "page"):
        message = f"a {kind} source fetches http(s) URLs only, got {raw!r}"
        r.problem(value_node, where, f"{message} (name a local file with 'path' instead)")
        return None, None
    path = _file_url(r, value_node, where, raw) if url_node else _local_path(r, value_node, where)
    if path is not None and kind == "file" and not path.exists():
        r.problem(value_node, where, f"no such file or folder: {path}")
    return None, path


def _local_path(r: _Reader, node: Node, key: str) -> Path | None:
    if not _is_text(node):
        return None
    if not node.value.strip():
        r.problem(node, key, "expected a path, got an empty string")
        return None
    return r.resolve(node.value)


def _file_url(r: _Reader, node: Node, key: str, url: str) -> Path | None:
    parts = urlsplit(url)
    if parts.netloc not in ("", "localhost") or not parts.path:
        r.problem(node, key, f"expected a file:// URL of a local path, got {url!r}")
        return None
    return r.resolve(url2pathname(parts.path))


def _remote_url(r: _Reader, node: Node, key: str, url: str, kind: SourceKind | None) -> str | None:
    if not _is_text(node):
        return None
    if kind == "file":
        r.problem(node, key, f"a file source reads a local 'path' or file:// URL, got {url!r}")
        return None
    problem = _http_url_problem(url)
    if problem is not None:
        r.problem(node, key, problem)
    return url if problem is None else None

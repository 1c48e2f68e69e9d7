"""The schema of the ``sources`` list of sources.yaml: one outlet per entry.

Reads each source (name, title, kind, url or path, tags, interval, enabled)
into a ``SourceConfig`` through the key declarations below, which the JSON
Schema is built from too; checks across keys (exactly one of url and path, a
file source's path exists, names used once) are code. The tags listed under
a source are resolved through the vocabulary later (``config_tags``).
"""

from __future__ import annotations

import difflib
import re
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from yaml.nodes import MappingNode, Node, SequenceNode

from feedsvc.config_tags import TAG_PATTERN
from feedsvc.config_types import SourceConfig, SourceKind
from feedsvc.configspec import Boolean, Choice, Duration, Key, ListOf, Raw, Section, Slug, Text
from feedsvc.yamlnodes import NodeReader, is_text

KINDS: dict[str, SourceKind] = {"feed": "feed", "page": "page", "file": "file"}
DEFAULT_INTERVAL = timedelta(minutes=30)
NAME_PATTERN = "[a-z0-9][a-z0-9_-]{0,63}"
_TAG_RE = re.compile(TAG_PATTERN)
HTTP_URL = {"type": "string", "pattern": "^[Hh][Tt][Tt][Pp][Ss]?://[^\\s]+$"}
PATH = {"type": "string", "minLength": 1}

SOURCE = Section(
    (
        Key("name", Slug(NAME_PATTERN, "a name of 1-64"), "Unique id of the source", required=True),
        Key("title", Text(nonempty=True, what="a title", shown=True), "Outlet name shown in feeds"),
        Key("kind", Choice(tuple(KINDS)), "feed, page or file", required=True),
        Key("url", Raw(HTTP_URL | {"pattern": "^([Hh][Tt][Tt][Pp][Ss]?|file)://"}), "Its URL"),
        Key("path", Raw(PATH), "A local file or folder"),
        Key(
            "tags",
            ListOf(Text(nonempty=True, what="a tag"), "a list of tags"),
            "Tags given to every article of the source (slugs, or names from the vocabulary)",
        ),
        Key(
            "interval",
            Duration(timedelta(minutes=1), timedelta(days=7)),
            "How often the source is fetched",
            "30m",
        ),
        Key("enabled", Boolean(), "false keeps the source in the file but never fetches it", True),
    ),
    "One outlet to watch",
)
SOURCE_KEYS = SOURCE.names


_HOST_RE = re.compile(r"[^\s/\\?#@%:<>\[\]\"'`{}|^]+")
MAX_URL_CHARS = 2000
_SPACE = re.compile(r"\s")


def read_sources(r: NodeReader, node: Node | None, declared: bool) -> tuple[SourceConfig, ...]:
    """The ``sources`` list; ``declared``: whether the file has a tag vocabulary."""
    if node is None:
        return ()
    if not isinstance(node, SequenceNode):
        r.expected(node, "sources", "a list of sources", " (write 'sources: []' for none)")
        return ()
    items = enumerate(node.value)
    sources = [_source(r, item, f"sources[{index}]", declared) for index, item in items]
    _check_unique(r, node)
    return tuple(source for source in sources if source is not None)


def _source(r: NodeReader, node: Node, key: str, declared: bool) -> SourceConfig | None:
    if not isinstance(node, MappingNode):
        r.expected(node, key, "a mapping with name, kind and url or path")
        return None
    f = SOURCE.fields(r, node, key)
    k: dict[str, Key[Any]] = {field.name: field for field in SOURCE.keys}
    name = k["name"].get(r, f, key, "")
    kind = _kind(r, f.get("kind"), key + ".kind")
    url, path = _location(r, node, f, key, kind)
    return SourceConfig(
        name=name,
        title=k["title"].get(r, f, key, name),
        kind=kind or "feed",
        url=url,
        path=path,
        tags=_tags(r, f, key, declared),
        interval=k["interval"].get(r, f, key, DEFAULT_INTERVAL),
        enabled=k["enabled"].get(r, f, key, True),
    )


def _tags(r: NodeReader, f: dict[str, Node], key: str, declared: bool) -> tuple[str, ...]:
    tags: tuple[str, ...] = SOURCE.keys[5].get(r, f, key, ())
    if declared:
        return tags  # resolved through the vocabulary, see config_tags.resolve_source_tags
    node = f.get("tags")
    items = node.value if isinstance(node, SequenceNode) else []
    kept = []
    for tag in tags:
        if _TAG_RE.fullmatch(tag):
            kept.append(tag)
            continue
        where = next((i for i in items if is_text(i) and i.value == tag), node)
        index = items.index(where) if where in items else 0
        message = "expected a tag of 1-64 lower-case letters, digits, '-' or '_'"
        r.problem(
            where,
            f"{key}.tags[{index}]",
            f"{message}, starting with a letter or digit, got {tag!r}",
        )
    return tuple(kept)


def _kind(r: NodeReader, node: Node | None, key: str) -> SourceKind | None:
    raw = r.text(node, key, "")
    kind = KINDS.get(raw)
    if kind is None and node is not None and is_text(node):
        close = difflib.get_close_matches(raw, list(KINDS), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        r.problem(node, key, f"expected one of: {', '.join(KINDS)}, got {raw!r}{hint}")
    return kind


def http_url_problem(url: str) -> str | None:
    """Why ``url`` is not an http(s) URL with a host, or None when it is one."""
    if len(url) > MAX_URL_CHARS:
        return f"expected a URL of at most {MAX_URL_CHARS} characters, got {len(url)}"
    if not url or not url.isprintable() or _SPACE.search(url):
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


def _check_unique(r: NodeReader, node: SequenceNode) -> None:
    first: dict[str, tuple[int, int]] = {}
    for index, item in enumerate(node.value):
        pairs = item.value if isinstance(item, MappingNode) else []
        for name in (value for key, value in pairs if key.value == "name" and is_text(value)):
            seen, line = first.setdefault(name.value, (index, name.start_mark.line + 1))
            if seen != index:
                message = f"duplicate source name {name.value!r} (first used at line {line})"
                r.problem(name, f"sources[{index}].name", message)


def _location(
    r: NodeReader, node: MappingNode, f: dict[str, Node], key: str, kind: SourceKind | None
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


def _local_path(r: NodeReader, node: Node, key: str) -> Path | None:
    if not is_text(node):
        return None
    if not node.value.strip():
        r.problem(node, key, "expected a path, got an empty string")
        return None
    return r.resolve(node.value)


def _file_url(r: NodeReader, node: Node, key: str, url: str) -> Path | None:
    parts = urlsplit(url)
    if parts.netloc not in ("", "localhost") or not parts.path:
        r.problem(node, key, f"expected a file:// URL of a local path, got {url!r}")
        return None
    # urllib.request.url2pathname is unquote on POSIX (where feedsvc runs); importing
    # urllib.request would cost a run with nothing to do 40 ms of http/email modules.
    return r.resolve(unquote(parts.path))


def _remote_url(
    r: NodeReader, node: Node, key: str, url: str, kind: SourceKind | None
) -> str | None:
    if not is_text(node):
        return None
    if kind == "file":
        r.problem(node, key, f"a file source reads a local 'path' or file:// URL, got {url!r}")
        return None
    problem = http_url_problem(url)
    if problem is not None:
        r.problem(node, key, problem)
    return url if problem is None else None

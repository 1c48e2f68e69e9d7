"""The YAML-node reader of sources.yaml: typed access to nodes that records problems.

``compose`` turns the text into PyYAML nodes (which keep their line numbers,
unlike ``yaml.load``); ``NodeReader`` reads scalars, mappings and lists out of
them as typed values, and records every problem as a ``ConfigProblem``
(``file:line: key: message``) instead of raising, so that all of them can be
reported at once. It knows value formats (durations, sizes, booleans, paths)
but nothing of what any key means: that is the schema, in ``config`` and
``config_tags``.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import TypeVar

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from feedsvc.errors import ConfigProblem

__all__ = [
    "NodeReader",
    "child",
    "compose",
    "describe",
    "format_duration",
    "is_null",
    "is_text",
    "join",
    "parse_duration",
    "parse_size",
    "unknown_name",
]

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

DURATION_PATTERN = r"(?:([0-9]+)d)?(?:([0-9]+)h)?(?:([0-9]+)m)?(?:([0-9]+)s)?"
SIZE_PATTERN = r"([0-9]+(?:\.[0-9]+)?)\s*([a-z]*)"
_DURATION_RE = re.compile(DURATION_PATTERN)
_SIZE_RE = re.compile(SIZE_PATTERN, re.IGNORECASE)
SIZE_UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9}
SIZE_UNITS |= {"kib": 2**10, "mib": 2**20, "gib": 2**30}
_DURATION_UNITS = (("d", 86400), ("h", 3600), ("m", 60), ("s", 1))

_Bounded = TypeVar("_Bounded", timedelta, int)

# --------------------------------------------------------------------------- value formats


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
    if match is None or unit not in SIZE_UNITS:
        raise ValueError(f"not a size: {text!r} (expected e.g. '10MB', '512KiB', 1000000)")
    return int(Decimal(match.group(1)) * SIZE_UNITS[unit])


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
class NodeReader:
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

    def mapping(self, node: Node | None, key: str, keys: str | Collection[str]) -> dict[str, Node]:
        """The values of a mapping by key; unknown and duplicate keys are problems."""
        allowed = keys.split() if isinstance(keys, str) else list(keys)
        pairs = self.pairs(node, key)
        known = [(k, v) for k, v in pairs if self._allowed(k, key, allowed)]
        return {str(key_node.value): value for key_node, value in known}

    def pairs(self, node: Node | None, key: str) -> list[tuple[ScalarNode, Node]]:
        """The (key, value) node pairs of a mapping, in order; odd and repeated keys dropped."""
        if node is None or is_null(node):
            return []
        if not isinstance(node, MappingNode):
            self.expected(node, key, "a mapping")
            return []
        lines: dict[str, int] = {}
        return [(k, v) for k, v in node.value if self._check_key(k, key, lines)]

    def sequence(self, node: Node, key: str, what: str) -> list[Node] | None:
        """The items of a list, or None (a problem recorded) when ``node`` is not one."""
        if isinstance(node, SequenceNode):
            return list(node.value)
        self.expected(node, key, what)
        return None

    def _check_key(self, key_node: Node, key: str, lines: dict[str, int]) -> bool:
        if not isinstance(key_node, ScalarNode) or key_node.tag == _MERGE:
            self.problem(key_node, key, "expected a plain key (YAML merge keys are not supported)")
            return False
        name, line = str(key_node.value), key_node.start_mark.line + 1
        if name in lines:
            self.problem(key_node, join(key, name), f"duplicate key (first at line {lines[name]})")
            return False
        lines[name] = line
        return True

    def _allowed(self, key_node: ScalarNode, key: str, allowed: Collection[str]) -> bool:
        name = str(key_node.value)
        if name not in allowed:
            self.problem(key_node, join(key, name), unknown_name("key", name, allowed))
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
        if not is_text(node):
            raise TypeError("not a string")
        try:
            return parse_duration(str(node.value))
        except ValueError as exc:
            if isinstance(exc.__cause__, OverflowError):  # well formed, but past any bound
                raise OverflowError(str(exc)) from exc
            raise

    def _int_of(self, node: Node) -> int:
        if not (isinstance(node, ScalarNode) and node.tag == _INT):
            raise TypeError("not an integer")
        return self.constructor.construct_yaml_int(node)

    def _size_of(self, node: Node) -> int:
        return parse_size(str(node.value) if is_text(node) else self._int_of(node))

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
        low, high = (_show(bound) for bound in bounds)
        try:
            value = parse(node)
        except OverflowError:
            self.problem(node, key, f"expected {what} from {low} to {high}, got {node.value!r}")
            return default
        except (ValueError, TypeError):
            self.expected(node, key, what)
            return default
        if not bounds[0] <= value <= bounds[1]:
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


def is_text(node: Node) -> bool:
    """Whether ``node`` is a string scalar."""
    return isinstance(node, ScalarNode) and node.tag == _STR


def is_null(node: Node) -> bool:
    """Whether ``node`` is an empty (null) value."""
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


def join(prefix: str, name: str) -> str:
    """The key path ``prefix.name`` (``name`` at the root)."""
    return f"{prefix}.{name}" if prefix else name


def unknown_name(what: str, name: str, allowed: Collection[str]) -> str:
    """ "unknown <what> 'x'; expected one of: ...", with a "did you mean" hint when one is close."""
    message = f"unknown {what} {name!r}; expected one of: {', '.join(allowed)}"
    close = difflib.get_close_matches(name, list(allowed), n=1)
    return f"{message}; did you mean {close[0]!r}?" if close else message


def child(node: Node | None, name: str) -> Node | None:
    """The value under key ``name`` of a mapping node, or None."""
    if isinstance(node, MappingNode):
        return next((value for key, value in node.value if key.value == name), None)
    return None


def describe(node: Node) -> str:
    """What a node is, in words ("a list", "a string 'x'", ...)."""
    return _describe(node)


def compose(text: str, reader: NodeReader) -> Node | None:
    """The YAML nodes of ``text``, or None (syntax errors recorded on ``reader``)."""
    try:
        return yaml.compose(text, Loader=_LOADER)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        reader.problems.append(ConfigProblem(reader.file, line, "", _yaml_message(exc, line)))
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow (NUL, BEL, ...)
        message = f"invalid YAML: unacceptable character {_code(exc.character)}: {exc.reason}"
        line = _line_at(text, exc.position)
        reader.problems.append(ConfigProblem(reader.file, line, "", message))
    except yaml.YAMLError as exc:
        reader.problems.append(ConfigProblem(reader.file, None, "", f"invalid YAML: {exc}"))
    return None


def _code(character: int | str) -> str:
    return f"U+{character:04X}" if isinstance(character, int) else repr(character)


def _line_at(text: str, position: int) -> int:
    """The 1-based line of a reader error's position (libyaml counts bytes, PyYAML characters)."""
    if _LOADER is yaml.SafeLoader:
        return text.count("\n", 0, position) + 1
    return text.encode("utf-8").count(b"\n", 0, position) + 1


def _yaml_message(exc: yaml.MarkedYAMLError, line: int | None) -> str:
    context, start = exc.context, exc.context_mark
    if context and start is not None and start.line + 1 != line:
        context = f"{context} from line {start.line + 1}"
    return f"invalid YAML: {exc.problem} ({context})" if context else f"invalid YAML: {exc.problem}"

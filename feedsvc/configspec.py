"""Declarations of sources.yaml's keys: one definition drives the reader and the JSON Schema.

A ``Key`` names a key, the kind of ``Value`` it holds and what it means; a
``Section`` is a mapping of keys. Each ``Value`` knows how to read itself from
a YAML node through a ``NodeReader`` (recording problems, never raising) and
how to describe itself as JSON Schema, so the schema published for editors
(``feedsvc config-schema``) and the checks made at load time come from the
same definitions. What the values mean once read (building the ``*Config``
records, checks across keys) is the business of ``config`` and
``config_tags``. Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Generic, TypeVar

from yaml.nodes import MappingNode, Node, ScalarNode

from feedsvc.yamlnodes import (
    DURATION_PATTERN,
    SIZE_UNITS,
    NodeReader,
    format_duration,
    is_text,
    join,
)

T = TypeVar("T")
Schema = dict[str, Any]

_DURATION_SCHEMA = "^" + DURATION_PATTERN.replace("([0-9]+)", "[0-9]+") + "$"
_ANY_CASE = ["".join(f"[{c.lower()}{c.upper()}]" for c in unit) for unit in SIZE_UNITS if unit]
_SIZE_SCHEMA = "^[0-9]+(\\.[0-9]+)?\\s*(" + "|".join(_ANY_CASE) + ")?$"


class Value(Generic[T]):
    """A kind of value: how to read it from a node and how to describe it as JSON Schema."""

    def read(self, r: NodeReader, node: Node, key: str) -> T | None:
        """The value of ``node``, or None when it is not valid (the problem is recorded)."""
        raise NotImplementedError

    def schema(self) -> Schema:
        """This kind of value as a JSON Schema fragment."""
        raise NotImplementedError


_BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")


@dataclass(frozen=True, slots=True)
class Text(Value[str]):
    """A string; ``nonempty`` refuses blank ones; ``shown`` drops bidirectional overrides.

    A ``shown`` string is displayed by readers beside other text (an outlet's
    or a tag's title): the bidirectional embeddings, overrides and isolates in
    it (U+202A-U+202E, U+2066-U+2069; an unclosed one displays what follows it
    backwards) are dropped, as from articles' titles.
    """

    nonempty: bool = False
    what: str = "a value"
    shown: bool = False

    def read(self, r: NodeReader, node: Node, key: str) -> str | None:
        """The string, or None."""
        if not is_text(node):
            r.text(node, key, "")
            return None
        value = str(node.value)
        if self.shown:
            value = _BIDI_CONTROLS.sub("", value)
        if self.nonempty and not value.strip():
            r.problem(node, key, f"expected {self.what}, got an empty string")
            return None
        return value

    def schema(self) -> Schema:
        """A string (non-blank when ``nonempty``)."""
        return {"type": "string", **({"pattern": "\\S"} if self.nonempty else {})}


@dataclass(frozen=True, slots=True)
class Slug(Value[str]):
    """A string matching ``pattern`` (names and tags)."""

    pattern: str
    what: str

    def read(self, r: NodeReader, node: Node, key: str) -> str | None:
        """The slug, or None."""
        value = r.text(node, key, "")
        if not is_text(node):
            return None
        if re.fullmatch(self.pattern, value):
            return value
        message = f"expected {self.what} lower-case letters, digits, '-' or '_'"
        r.problem(node, key, f"{message}, starting with a letter or digit, got {value!r}")
        return None

    def schema(self) -> Schema:
        """A string with the slug's pattern."""
        return {"type": "string", "pattern": f"^{self.pattern}$"}


@dataclass(frozen=True, slots=True)
class Integer(Value[int]):
    """An integer from ``low`` to ``high``."""

    low: int
    high: int

    def read(self, r: NodeReader, node: Node, key: str) -> int | None:
        """The integer, or None."""
        return _checked(r, r.integer(node, key, _BAD, (self.low, self.high)))

    def schema(self) -> Schema:
        """An integer with bounds."""
        return {"type": "integer", "minimum": self.low, "maximum": self.high}


@dataclass(frozen=True, slots=True)
class Duration(Value[timedelta]):
    """A duration like "15m" from ``low`` to ``high``."""

    low: timedelta
    high: timedelta

    def read(self, r: NodeReader, node: Node, key: str) -> timedelta | None:
        """The duration, or None."""
        bad = timedelta(days=-1)
        value = r.duration(node, key, bad, (self.low, self.high))
        return None if value == bad else value

    def schema(self) -> Schema:
        """A string of whole numbers with units d, h, m, s."""
        bounds = f"from {format_duration(self.low)} to {format_duration(self.high)}"
        return {"type": "string", "pattern": _DURATION_SCHEMA, "minLength": 2, "$comment": bounds}


@dataclass(frozen=True, slots=True)
class Size(Value[int]):
    """A size in bytes ("10MB", "512KiB" or a number) from ``low`` to ``high``."""

    low: int
    high: int

    def read(self, r: NodeReader, node: Node, key: str) -> int | None:
        """The size in bytes, or None."""
        return _checked(r, r.size(node, key, _BAD, (self.low, self.high)))

    def schema(self) -> Schema:
        """A number of bytes, or a string with a unit."""
        number = {"type": "integer", "minimum": self.low, "maximum": self.high}
        return {"anyOf": [number, {"type": "string", "pattern": _SIZE_SCHEMA}]}


@dataclass(frozen=True, slots=True)
class Boolean(Value[bool]):
    """true or false."""

    def read(self, r: NodeReader, node: Node, key: str) -> bool | None:
        """The boolean, or None."""
        if isinstance(node, ScalarNode) and node.tag == "tag:yaml.org,2002:bool":
            return r.boolean(node, key, False)
        r.expected(node, key, "true or false")
        return None

    def schema(self) -> Schema:
        """A boolean."""
        return {"type": "boolean"}


@dataclass(frozen=True, slots=True)
class Choice(Value[str]):
    """One of a few words."""

    options: tuple[str, ...]

    def read(self, r: NodeReader, node: Node, key: str) -> str | None:
        """The chosen word, or None."""
        value = r.text(node, key, "")
        if not is_text(node):
            return None
        if value not in self.options:
            r.problem(node, key, f"expected one of: {', '.join(self.options)}, got {value!r}")
            return None
        return value

    def schema(self) -> Schema:
        """An enumeration."""
        return {"enum": list(self.options)}


@dataclass(frozen=True, slots=True)
class ListOf(Value[tuple[T, ...]]):
    """A list of values (repeated ones kept once); ``what`` describes it in messages."""

    item: Value[T]
    what: str
    unique: bool = True
    nonempty: bool = False

    def read(self, r: NodeReader, node: Node, key: str) -> tuple[T, ...] | None:
        """The valid items, in order."""
        if is_text(node):
            message = f"expected {self.what}, got a single string {node.value!r}"
            r.problem(node, key, f"{message}; write it as a list: [{node.value}]")
            return None
        items = r.sequence(node, key, self.what)
        if items is None:
            return None
        if self.nonempty and not items:
            r.problem(node, key, f"expected {self.what}, got an empty list")
            return None
        values = [self.item.read(r, item, f"{key}[{i}]") for i, item in enumerate(items)]
        kept = [value for value in values if value is not None]
        return tuple(dict.fromkeys(kept)) if self.unique else tuple(kept)

    def schema(self) -> Schema:
        """An array of the item's schema."""
        schema: Schema = {"type": "array", "items": self.item.schema()}
        return schema | ({"minItems": 1} if self.nonempty else {})


@dataclass(frozen=True, slots=True)
class Raw(Value[Node]):
    """A value read by code of its own; ``described`` is its JSON Schema."""

    described: Schema

    def read(self, r: NodeReader, node: Node, key: str) -> Node | None:
        """The node itself."""
        return node

    def schema(self) -> Schema:
        """The schema given."""
        return dict(self.described)


@dataclass(frozen=True, slots=True)
class Key(Generic[T]):
    """One key of a mapping: its name, its kind of value, what it means, its default."""

    name: str
    value: Value[T]
    doc: str
    default: object = None
    required: bool = False

    def read(self, r: NodeReader, fields: Mapping[str, Node], prefix: str) -> T | None:
        """The key's value in ``fields``, or None when absent or invalid."""
        node = fields.get(self.name)
        return None if node is None else self.value.read(r, node, join(prefix, self.name))

    def get(self, r: NodeReader, fields: Mapping[str, Node], prefix: str, default: T) -> T:
        """The key's value in ``fields``, or ``default`` when absent or invalid."""
        value = self.read(r, fields, prefix)
        return default if value is None else value

    def schema(self) -> Schema:
        """The value's schema with the key's description and default."""
        schema = self.value.schema() | {"description": self.doc}
        return schema if self.default is None else schema | {"default": self.default}


@dataclass(frozen=True, slots=True)
class Section(Value[Node]):
    """A mapping of declared keys; ``read`` gives the node, ``fields`` its values by key."""

    keys: tuple[Key[Any], ...]
    doc: str = ""
    nullable: bool = False
    _names: tuple[str, ...] = field(init=False, default=())

    def __post_init__(self) -> None:
        object.__setattr__(self, "_names", tuple(key.name for key in self.keys))

    @property
    def names(self) -> str:
        """The key names, space-separated, in order."""
        return " ".join(self._names)

    def read(self, r: NodeReader, node: Node, key: str) -> Node | None:
        """The node itself (read its keys with ``fields``)."""
        return node

    def fields(self, r: NodeReader, node: Node | None, key: str) -> dict[str, Node]:
        """The value nodes of ``node`` by key; unknown, repeated and missing keys are problems."""
        found = r.mapping(node, key, self._names)
        if isinstance(node, MappingNode):
            for missing in (k.name for k in self.keys if k.required and k.name not in found):
                r.problem(node, key, f"missing required key {missing!r}")
        return found

    def schema(self) -> Schema:
        """An object with exactly these properties."""
        schema: Schema = {
            "type": ["object", "null"] if self.nullable else "object",
            "properties": {key.name: key.schema() for key in self.keys},
            "additionalProperties": False,
        }
        required = [key.name for key in self.keys if key.required]
        if required:
            schema["required"] = required
        return schema | ({"description": self.doc} if self.doc else {})


_BAD = -(2**63)


def _checked(r: NodeReader, value: int) -> int | None:
    return None if value == _BAD else value


def described(keys: Sequence[Key[Any]]) -> dict[str, str]:
    """Each key's name and description (for documentation tests)."""
    return {key.name: key.doc for key in keys}

"""The schema of the ``tags`` mapping of sources.yaml: the vocabulary and its rules.

Reads each tag (keyed by its slug: title, description, aliases, match) and its
rule, a condition tree of terms, ``all``/``any``/``none`` groups and
field-scoped conditions, into the records of :mod:`feedsvc.config_types`;
checks regular expressions, fields, names given to two tags, and resolves the tags
listed under sources through the vocabulary (an unknown one is an error when
the file declares a vocabulary). Problems go to the ``NodeReader`` with
file:line and key, like every other config problem. The JSON Schema of the
same mapping is built here too, from the same key declarations.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, cast

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from feedsvc.config_types import (
    CategoryPolicy,
    Condition,
    Group,
    Scoped,
    SourceConfig,
    TagConfig,
    TagField,
    Term,
    Vocabulary,
)
from feedsvc.configspec import Key, ListOf, Raw, Schema, Section, Text
from feedsvc.tags import REGEX_PREFIX, TAG_FIELDS, fold, name_key, term_pattern
from feedsvc.yamlnodes import NodeReader, child, describe, is_null, is_text, unknown_name

TAG_PATTERN = "[a-z0-9][a-z0-9_-]{0,63}"  # a file name, tags/<slug>.rss: bounded as source names
GROUPS = ("all", "any", "none")
CONDITION_KEYS = (*GROUPS, *TAG_FIELDS)
CONDITION_REF = {"$ref": "#/$defs/condition"}
# A rule is read (and later tried on every article) by walking its tree, each use of
# a YAML alias again: these bound the walk, so a nested or aliased rule cannot hang
# the loader or exhaust the stack ("billion laughs" through aliases).
MAX_RULE_DEPTH = 50
MAX_RULE_NODES = 10_000

TAG_TITLE: Key[str] = Key(
    "title", Text(nonempty=True, what="a title", shown=True), "Title of the tag's feeds"
)
TAG_DESCRIPTION: Key[str] = Key("description", Text(shown=True), "Description of the tag's feeds")
TAG_ALIASES: Key[tuple[str, ...]] = Key(
    "aliases",
    ListOf(Text(nonempty=True, what="an alias"), "a list of other names"),
    "Other names of the tag: in sources' tags and feed categories they mean this tag",
)
TAG_MATCH: Key[Node] = Key(
    "match", Raw(CONDITION_REF), "The rule: articles that satisfy it get the tag"
)
TAG = Section((TAG_TITLE, TAG_DESCRIPTION, TAG_ALIASES, TAG_MATCH), nullable=True)
TAG_KEYS = TAG.names


def read_vocabulary(r: NodeReader, node: Node | None, categories: str) -> Vocabulary:
    """The ``tags`` mapping as a vocabulary (empty and undeclared when absent)."""
    if node is None:
        return Vocabulary(categories="drop" if categories == "drop" else "keep")
    tags = [_tag(r, key_node, value) for key_node, value in r.pairs(node, "tags")]
    kept = tuple(tag for tag in tags if tag is not None)
    _check_names(r, node, kept)
    policy: CategoryPolicy = "drop" if categories == "drop" else "keep"
    return Vocabulary(tags=kept, categories=policy, declared=True)


def _tag(r: NodeReader, key_node: ScalarNode, node: Node) -> TagConfig | None:
    slug = str(key_node.value)
    key = f"tags.{slug}"
    if not re.fullmatch(TAG_PATTERN, slug):
        message = "expected a tag slug of 1-64 lower-case letters, digits, '-' or '_'"
        r.problem(key_node, key, f"{message}, starting with a letter or digit, got {slug!r}")
        return None
    fields = TAG.fields(r, node, key)
    match_node = fields.get("match")
    if match_node is not None and not _rule_size_ok(r, match_node, f"{key}.match"):
        match_node = None
    return TagConfig(
        slug=slug,
        title=TAG_TITLE.get(r, fields, key, slug),
        description=TAG_DESCRIPTION.get(r, fields, key, ""),
        aliases=TAG_ALIASES.get(r, fields, key, ()),
        match=None if match_node is None else condition(r, match_node, f"{key}.match", None),
    )


def condition(r: NodeReader, node: Node, key: str, scope: TagField | None) -> Condition | None:
    """One condition of a rule: a term, a list (any of), or a mapping of groups and fields."""
    if is_text(node):
        return _term(r, node, key)
    if isinstance(node, SequenceNode):
        return _group(r, "any", node, key, scope)
    if isinstance(node, MappingNode) and node.value:
        return _mapping(r, node, key, scope)
    what = "a word, a phrase, 're:' and a regular expression, a list, or a mapping of"
    hint = " (put it in quotes if you mean the text)" if isinstance(node, ScalarNode) else ""
    r.problem(node, key, f"expected {what} {', '.join(CONDITION_KEYS)}, got {_shown(node)}{hint}")
    return None


def _rule_size_ok(r: NodeReader, node: Node, key: str) -> bool:
    """Whether a rule stays within the depth and size bounds (a problem recorded if not)."""
    nodes, levels = _measure(node, 1, {})
    if levels > MAX_RULE_DEPTH:
        r.problem(node, key, f"the rule nests more than {MAX_RULE_DEPTH} levels deep")
        return False
    if nodes > MAX_RULE_NODES:
        message = f"the rule has more than {MAX_RULE_NODES} parts (each use of a YAML alias counts)"
        r.problem(node, key, message)
        return False
    return True


def _measure(node: Node, depth: int, seen: dict[int, tuple[int, int]]) -> tuple[int, int]:
    """(nodes, levels) of the tree under ``node``, aliases expanded, without walking them twice."""
    if depth > MAX_RULE_DEPTH:
        return 1, MAX_RULE_DEPTH + 1  # deep enough to refuse: look no further
    known = seen.get(id(node))
    if known is not None:
        return known
    if isinstance(node, SequenceNode):
        children: list[Node] = list(node.value)
    elif isinstance(node, MappingNode):
        children = [value for _, value in node.value]
    else:
        children = []
    nodes, levels = 1, 1
    for item in children:
        below, deep = _measure(item, depth + 1, seen)
        nodes, levels = min(nodes + below, MAX_RULE_NODES + 1), max(levels, deep + 1)
    seen[id(node)] = (nodes, levels)
    return nodes, levels


def _shown(node: Node) -> str:
    return "an empty mapping" if isinstance(node, MappingNode) else describe(node)


def _mapping(
    r: NodeReader, node: MappingNode, key: str, scope: TagField | None
) -> Condition | None:
    parts: list[Condition | None] = []
    for key_node, value in r.pairs(node, key):
        name = str(key_node.value)
        where = f"{key}.{name}"
        if name in GROUPS:
            parts.append(_group(r, cast(Any, name), value, where, scope))
        elif name in TAG_FIELDS:
            parts.append(_scoped(r, key_node, name, value, where, scope))
        else:
            r.problem(key_node, where, unknown_name("field", name, CONDITION_KEYS))
            parts.append(None)
    if any(part is None for part in parts):
        return None
    kept = tuple(part for part in parts if part is not None)
    return kept[0] if len(kept) == 1 else Group("all", kept)


def _scoped(
    r: NodeReader,
    key_node: Node,
    name: TagField,
    value: Node,
    key: str,
    scope: TagField | None,
) -> Condition | None:
    if scope is not None:
        r.problem(key_node, key, f"a field inside the field {scope!r}; write one field per term")
        return None
    inner = condition(r, value, key, name)
    return None if inner is None else Scoped(name, inner)


def _group(
    r: NodeReader, op: Any, node: Node, key: str, scope: TagField | None
) -> Condition | None:
    items: Sequence[Node] = node.value if isinstance(node, SequenceNode) else [node]
    if not items or is_null(node):
        r.problem(node, key, f"expected one or more conditions under {op!r}, got none")
        return None
    parts = [condition(r, item, f"{key}[{i}]", scope) for i, item in enumerate(items)]
    if any(part is None for part in parts):
        return None
    return Group(op, tuple(part for part in parts if part is not None))


def _term(r: NodeReader, node: Node, key: str) -> Term | None:
    raw = str(node.value)
    regex = raw.startswith(REGEX_PREFIX)
    text = raw[len(REGEX_PREFIX) :] if regex else raw.strip()
    if not (text.strip() if regex else fold(text).split()):
        r.problem(node, key, "expected a word, a phrase or a regular expression, got nothing")
        return None
    term = Term(text, regex=regex, key=key)
    try:
        pattern = term_pattern(term)
    except re.error as exc:
        r.problem(node, key, f"bad regular expression {text!r}: {exc}")
        return None
    if regex and pattern.search("") is not None:
        r.problem(node, key, f"the regular expression {text!r} matches empty text, so everything")
        return None
    return term


def _check_names(r: NodeReader, node: Node, tags: Sequence[TagConfig]) -> None:
    """A slug, title or alias must not name two different tags."""
    owner: dict[str, str] = {}
    for tag in tags:
        for name in dict.fromkeys((tag.slug, tag.title, *tag.aliases)):
            other = owner.setdefault(name_key(name), tag.slug)
            if other != tag.slug:
                where = child(node, tag.slug)
                message = f"the name {name!r} already names the tag {other!r}"
                r.problem(where, f"tags.{tag.slug}", message)


def resolve_source_tags(
    r: NodeReader,
    sources_node: Node | None,
    sources: Sequence[SourceConfig],
    vocabulary: Vocabulary,
) -> tuple[tuple[str, ...], ...]:
    """Each source's tags as vocabulary slugs; unknown ones are problems when it is declared."""
    if not vocabulary.declared:
        return tuple(source.tags for source in sources)
    index = {name_key(n): t.slug for t in vocabulary.tags for n in (t.slug, t.title, *t.aliases)}
    slugs = [t.slug for t in vocabulary.tags]
    items = sources_node.value if isinstance(sources_node, SequenceNode) else []
    resolved: list[tuple[str, ...]] = []
    for source in sources:
        item = next((i for i in items if _name_of(i) == source.name), None)
        tags_node = child(item, "tags")
        nodes = tags_node.value if isinstance(tags_node, SequenceNode) else []
        kept: list[str] = []
        for position, tag in enumerate(source.tags):
            slug = index.get(name_key(tag))
            if slug is None:
                where = nodes[position] if position < len(nodes) else tags_node
                index_of = items.index(item) if item in items else 0
                key = f"sources[{index_of}].tags[{position}]"
                r.problem(where, key, unknown_name("tag", tag, slugs) + _declare_hint(tag))
            else:
                kept.append(slug)
        resolved.append(tuple(dict.fromkeys(kept)))
    return tuple(resolved)


def _declare_hint(tag: str) -> str:
    return f" (declare it under 'tags:' to add it: {tag}: {{title: ...}})"


def _name_of(item: Node) -> str | None:
    name = child(item, "name")
    return str(name.value) if name is not None and is_text(name) else None


def implicit_vocabulary(sources: Sequence[SourceConfig], categories: str) -> Vocabulary:
    """The vocabulary of a file without ``tags``: the tags listed under sources, titled by slug."""
    slugs = sorted({tag for source in sources for tag in source.tags})
    policy: CategoryPolicy = "drop" if categories == "drop" else "keep"
    return Vocabulary(tags=tuple(TagConfig(slug, slug) for slug in slugs), categories=policy)


def condition_schema() -> Schema:
    """The JSON Schema of one rule condition (recursive through ``#/$defs/condition``)."""
    term = {
        "type": "string",
        "minLength": 1,
        "description": "A word or phrase matched on word boundaries, or 're:' and a regex",
    }
    listed = {"type": "array", "items": CONDITION_REF, "minItems": 1, "description": "Any of"}
    properties = {name: {"anyOf": [CONDITION_REF]} for name in CONDITION_KEYS}
    mapping = {
        "type": "object",
        "properties": properties,
        "additionalProperties": False,
        "minProperties": 1,
        "description": "all/any/none of conditions, or a condition scoped to a field",
    }
    return {"anyOf": [term, listed, mapping]}


def vocabulary_schema() -> Schema:
    """The JSON Schema of the ``tags`` mapping."""
    return {
        "type": "object",
        "description": "The tag vocabulary, keyed by tag slug",
        "propertyNames": {"pattern": f"^{TAG_PATTERN}$"},
        "additionalProperties": TAG.schema(),
    }

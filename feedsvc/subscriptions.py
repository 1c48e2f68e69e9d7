"""OPML subscription lists in and out: a feed reader's export becomes sources, and back.

``read_opml`` reads the outlines of an OPML 1.0/2.0 export as the common
readers write them: feeds nested in folders (any depth), ``type="rss"`` or
``"atom"`` or none, titles in ``title`` or ``text`` or missing, a ``category``
attribute. ``plan_import`` decides what to add to a configuration: one
``feed`` source per new http(s) URL (a URL already configured, or listed
twice, is skipped), named after its title (a slug, made unique; existing
names are never changed), its folders (and categories) as tags, resolved
through the vocabulary when the file declares one (an unknown folder then
becomes a new vocabulary entry). ``insert_sources`` adds them to the text of
sources.yaml without touching anything else in it (comments included);
``export_opml`` writes the configured feed sources as OPML 2.0, in a folder
per first tag (page sources as links to web pages, not as feeds). Pure: the
caller reads and writes files.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import yaml
from yaml.nodes import MappingNode, Node, SequenceNode

from feedsvc.config_types import Config, SourceConfig
from feedsvc.normalise import canonical_url
from feedsvc.tags import tagger_for

_UNSAFE = re.compile(r"[^a-z0-9]+")
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
NAME_LIMIT = 64


@dataclass(frozen=True, slots=True)
class Subscription:
    """One feed of an OPML file: its URL, title (may be empty) and the folders it sits in."""

    url: str
    title: str = ""
    folders: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ImportPlan:
    """What an import adds: sources, new vocabulary tags (slug → title), and what it skipped."""

    sources: tuple[SourceConfig, ...] = ()
    new_tags: tuple[tuple[str, str], ...] = ()
    skipped: tuple[tuple[str, str], ...] = ()


class OpmlError(ValueError):
    """The file is not an OPML document feedsvc can read."""


def read_opml(data: bytes) -> list[Subscription]:
    """Every feed outline of an OPML document, in document order."""
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise OpmlError(f"not well-formed XML: {exc}") from exc
    if _local(root.tag) != "opml":
        raise OpmlError(f"expected an <opml> document, got <{_local(root.tag)}>")
    body = next((child for child in root if _local(child.tag) == "body"), None)
    if body is None:
        raise OpmlError("the OPML document has no <body>")
    return list(_walk(body, ()))


def _local(tag: str) -> str:
    return tag.rpartition("}")[2].lower()


def _walk(parent: ET.Element, folders: tuple[str, ...]) -> Iterator[Subscription]:
    for outline in (child for child in parent if _local(child.tag) == "outline"):
        attrs = {name.lower(): value.strip() for name, value in outline.attrib.items()}
        name = attrs.get("title") or attrs.get("text") or ""
        url = attrs.get("xmlurl") or attrs.get("url", "") if _is_feed(attrs) else ""
        if url:
            categories = tuple(_categories(attrs.get("category", "")))
            yield Subscription(url, name, folders, categories)
        else:
            yield from _walk(outline, (*folders, name) if name else folders)


def _is_feed(attrs: dict[str, str]) -> bool:
    return bool(attrs.get("xmlurl")) or attrs.get("type", "").lower() in ("rss", "atom")


def _categories(value: str) -> Iterator[str]:
    for item in value.split(","):
        last = item.strip().strip("/").rpartition("/")[2].strip()
        if last:
            yield last


def slug(text: str, fallback: str = "feed") -> str:
    """A lower-case slug of ``text`` (letters, digits, '-'), at most 64 characters."""
    from feedsvc.tags import fold

    made = _UNSAFE.sub("-", fold(text)).strip("-")[:NAME_LIMIT].strip("-")
    return made or fallback


def _unique(base: str, taken: set[str]) -> str:
    name, n = base, 2
    while name in taken:
        suffix = f"-{n}"
        name, n = base[: NAME_LIMIT - len(suffix)] + suffix, n + 1
    taken.add(name)
    return name


def _same_url_key(url: str) -> str:
    return canonical_url(url) or url.strip()


def _title_of(sub: Subscription) -> str:
    if sub.title:
        return sub.title
    parts = urlsplit(sub.url)
    return (parts.hostname or sub.url) + (parts.path.rstrip("/") or "")


@dataclass(slots=True)
class _Planner:
    config: Config
    names: set[str] = field(default_factory=set)
    urls: set[str] = field(default_factory=set)
    new_tags: dict[str, str] = field(default_factory=dict)

    def tag_of(self, name: str) -> str | None:
        vocabulary = self.config.tags
        if not vocabulary.declared:
            made = slug(name, "")
            return made or None
        known = tagger_for(vocabulary).lookup(name)
        if known is not None:
            return known
        made = slug(name, "")
        if not made:
            return None
        self.new_tags.setdefault(made, name)
        return made

    def source(self, sub: Subscription) -> SourceConfig | str:
        url = sub.url
        if urlsplit(url).scheme.lower() not in ("http", "https") or not urlsplit(url).hostname:
            return "not an http(s) URL"
        key = _same_url_key(url)
        if key in self.urls:
            return "already a source"
        self.urls.add(key)
        title = _title_of(sub)
        labels = (*sub.folders, *sub.categories)
        tags = tuple(dict.fromkeys(t for t in map(self.tag_of, labels) if t))
        name = _unique(slug(title), self.names)
        return SourceConfig(name=name, title=title, kind="feed", url=url, tags=tags)


def plan_import(config: Config, subscriptions: Sequence[Subscription]) -> ImportPlan:
    """The sources to add to ``config`` for ``subscriptions`` (duplicates by URL skipped)."""
    planner = _Planner(config)
    planner.names = {s.name for s in config.sources}
    planner.urls = {_same_url_key(s.url) for s in config.sources if s.url}
    added: list[SourceConfig] = []
    skipped: list[tuple[str, str]] = []
    for sub in subscriptions:
        outcome = planner.source(sub)
        if isinstance(outcome, str):
            skipped.append((sub.url, outcome))
        else:
            added.append(outcome)
    used = {tag for source in added for tag in source.tags}
    new_tags = tuple((s, t) for s, t in planner.new_tags.items() if s in used)
    return ImportPlan(tuple(added), new_tags, tuple(skipped))


# --------------------------------------------------------------------------- sources.yaml text


def _source_item(source: SourceConfig) -> dict[str, object]:
    item: dict[str, object] = {"name": source.name, "title": source.title, "kind": "feed"}
    item["url"] = source.url
    if source.tags:
        item["tags"] = list(source.tags)
    return item


def _dump(value: object) -> str:
    return yaml.safe_dump(value, sort_keys=False, allow_unicode=True, width=1000)


def _block(text: str, indent: int) -> str:
    return "".join(" " * indent + line + "\n" for line in text.splitlines())


Edit = tuple[int, int, str]


def _edit(text: str, node: Node | None, key: str, block: str, flow: str) -> Edit:
    """The edit (start, end, new text) that adds items to the collection ``node`` under ``key``.

    ``block`` is the items in block style (unindented), ``flow`` in flow style.
    """
    if node is None:  # no such key: add it at the end
        prefix = "" if not text or text.endswith("\n") else "\n"
        return len(text), len(text), f"{prefix}{key}:\n{_block(block, 2)}"
    collection = isinstance(node, (SequenceNode, MappingNode))
    if collection and getattr(
        node, "flow_style", False
    ):  # [a, b] or {a: b}: add before the closing bracket
        at = node.end_mark.index - 1
        return at, at, (", " if node.value else "") + flow
    if collection and node.value:  # a block collection: add after the line of its last value
        line_end = text.find("\n", _last_value(node).end_mark.index)
        if line_end < 0:  # the file ends on that line
            return len(text), len(text), "\n" + _block(block, node.start_mark.column)
        return line_end + 1, line_end + 1, _block(block, node.start_mark.column)
    # an empty value ("sources:"): the items go on the lines after the key
    line_end = text.find("\n", node.start_mark.index)
    at = len(text) if line_end < 0 else line_end
    return node.start_mark.index, at, "\n" + _block(block, 2).rstrip("\n")


def _last_value(node: Node) -> Node:
    """The innermost last value of a collection (what its last line ends with)."""
    while isinstance(node, (SequenceNode, MappingNode)) and node.value:
        last = node.value[-1]
        node = last[1] if isinstance(last, tuple) else last
    return node


def _flow(value: object) -> str:
    return yaml.safe_dump(value, default_flow_style=True, allow_unicode=True, width=10**6).strip()


def insert_sources(text: str, plan: ImportPlan) -> str:
    """``text`` (a sources.yaml) with the plan's sources and new tags added, nothing else."""
    root = yaml.compose(text, Loader=_LOADER) if text.strip() else None
    pairs = root.value if isinstance(root, MappingNode) else []
    nodes = {key.value: value for key, value in pairs}
    edits: list[Edit] = []
    if plan.sources:
        items = [_source_item(s) for s in plan.sources]
        flow = ", ".join(_flow(item) for item in items)
        edits.append(_edit(text, nodes.get("sources"), "sources", _dump(items), flow))
    if plan.new_tags:
        tags = {slug_: {"title": title} for slug_, title in plan.new_tags}
        edits.append(_edit(text, nodes.get("tags"), "tags", _dump(tags), _flow(tags)[1:-1]))
    for start, end, chunk in sorted(edits, reverse=True):
        text = text[:start] + chunk + text[end:]
    return text


# --------------------------------------------------------------------------- export


def export_opml(config: Config) -> bytes:
    """The configured feed and page sources with http(s) URLs as an OPML 2.0 document.

    Feeds are ``type="rss"`` outlines; pages are ``type="link"`` outlines, which
    readers (and ``read_opml``) do not take for feeds to subscribe to.
    """
    root = ET.Element("opml", version="2.0")
    ET.SubElement(ET.SubElement(root, "head"), "title").text = "feedsvc sources"
    body = ET.SubElement(root, "body")
    tagger = tagger_for(config.tags)
    folders: dict[str, ET.Element] = {}
    for source in config.sources:
        if not source.url:
            continue
        parent = body
        if source.tags:
            first = source.tags[0]
            if first not in folders:
                folders[first] = ET.SubElement(body, "outline", text=tagger.title(first))
            parent = folders[first]
        _export_outline(parent, source)
    ET.indent(root)
    data: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return data + b"\n"


def _export_outline(parent: ET.Element, source: SourceConfig) -> None:
    if source.kind == "feed":
        attrs = {"type": "rss", "text": source.title, "title": source.title}
        attrs["xmlUrl"] = source.url or ""
    else:  # an article page is no feed to subscribe to: OPML's link to a web page
        attrs = {"type": "link", "text": source.title, "title": source.title}
        attrs["url"] = source.url or ""
    if source.tags:
        attrs["category"] = ",".join(f"/{tag}" for tag in source.tags)
    ET.SubElement(parent, "outline", attrs)

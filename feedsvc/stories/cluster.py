"""Batch clustering: feed items to the engine in time order, write one story per item.

``cluster`` sorts items by (published, id) and feeds a fresh ``StoryEngine``;
``final_stories`` resolves merges so every item gets the story it ended in;
``cluster_jsonl`` is what ``feedsvc cluster`` calls: JSON lines in
(``id``, ``title``, ``text``, ``outlet``, ``published``), ``{"id", "story"}``
lines out, in input order. No store and no network here.

Run as ``python -m feedsvc.stories < ITEMS.jsonl`` for the same thing.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, TextIO

from feedsvc.stories.engine import StoryEngine
from feedsvc.stories.model import Decision, StoryItem, StoryParams


def cluster(items: Iterable[StoryItem], params: StoryParams | None = None) -> list[Decision]:
    """Assign every item to a story, oldest first; return the decisions in that order."""
    engine = StoryEngine(params or StoryParams())
    ordered = sorted(items, key=lambda i: (i.published, i.id))
    return [engine.add(item) for item in ordered]


def final_stories(decisions: Iterable[Decision]) -> dict[str, str]:
    """Map each item id to its story after every later merge is applied."""
    aliases: dict[str, str] = {}
    assigned: dict[str, str] = {}
    for d in decisions:
        assigned[d.item_id] = d.story_id
        for old in d.merged:
            aliases[old] = d.story_id
    return {item: _follow(story, aliases) for item, story in assigned.items()}


def _follow(story: str, aliases: Mapping[str, str]) -> str:
    """Follow an alias chain to its end."""
    while story in aliases:
        story = aliases[story]
    return story


def parse_item(record: Mapping[str, Any]) -> StoryItem:
    """Build a StoryItem from one JSON record (``published`` in ISO 8601)."""
    published = datetime.fromisoformat(str(record["published"]).replace("Z", "+00:00"))
    if published.tzinfo is None:
        published = published.replace(tzinfo=UTC)
    return StoryItem(
        id=str(record["id"]),
        title=str(record.get("title") or ""),
        text=str(record.get("text") or ""),
        outlet=str(record.get("outlet") or ""),
        published=published.astimezone(UTC),
        url=record.get("url") or None,
        content_hash=record.get("content_hash") or None,
    )


def cluster_jsonl(src: TextIO, dst: TextIO, params: StoryParams | None = None) -> int:
    """Read items as JSON lines from ``src``, write ``{"id", "story"}`` lines; return the count."""
    items = [parse_item(json.loads(line)) for line in src if line.strip()]
    return write_stories(items, dst, params)


def write_stories(items: list[StoryItem], dst: TextIO, params: StoryParams | None = None) -> int:
    """Cluster ``items`` and write one ``{"id", "story"}`` line each, in their order; the count."""
    stories = final_stories(cluster(items, params))
    for item in items:
        dst.write(json.dumps({"id": item.id, "story": stories[item.id]}) + "\n")
    return len(items)


def main() -> int:
    """Cluster JSON lines from stdin to stdout with the default parameters."""
    cluster_jsonl(sys.stdin, sys.stdout)
    return 0

"""Story grouping: which articles from different outlets report the same story.

Public surface of the engine; see ``engine.py`` for the layers and
``docs/stories.md`` for the heuristics and how they were chosen. This package
holds no SQL: the store persists ``Decision`` and ``StoryState`` records.

Each name loads its module on first use, so a process that only needs the
records (``StoryParams`` for a round it hands to a worker) never loads the
engine itself.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from feedsvc.stories.cluster import cluster as cluster
    from feedsvc.stories.cluster import cluster_jsonl as cluster_jsonl
    from feedsvc.stories.cluster import final_stories as final_stories
    from feedsvc.stories.cluster import parse_item as parse_item
    from feedsvc.stories.engine import StoryEngine as StoryEngine
    from feedsvc.stories.engine import story_id_for as story_id_for
    from feedsvc.stories.model import Decision as Decision
    from feedsvc.stories.model import Explanation as Explanation
    from feedsvc.stories.model import Layer as Layer
    from feedsvc.stories.model import RepresentativeRule as RepresentativeRule
    from feedsvc.stories.model import Story as Story
    from feedsvc.stories.model import StoryItem as StoryItem
    from feedsvc.stories.model import StoryParams as StoryParams
    from feedsvc.stories.model import StoryState as StoryState

__all__ = [
    "Decision",
    "Explanation",
    "Layer",
    "RepresentativeRule",
    "Story",
    "StoryEngine",
    "StoryItem",
    "StoryParams",
    "StoryState",
    "cluster",
    "cluster_jsonl",
    "final_stories",
    "parse_item",
    "story_id_for",
]

_ENGINE = ("StoryEngine", "story_id_for")
_CLUSTER = ("cluster", "cluster_jsonl", "final_stories", "parse_item")


def __getattr__(name: str) -> Any:
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    home = "engine" if name in _ENGINE else "cluster" if name in _CLUSTER else "model"
    value = getattr(import_module(f"{__name__}.{home}"), name)
    globals()[name] = value  # the next look-up finds it without this function
    return value

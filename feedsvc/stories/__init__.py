"""Story grouping: which articles from different outlets report the same story.

Public surface of the engine; see ``engine.py`` for the layers and
``docs/stories.md`` for the heuristics and how they were chosen. This package
holds no SQL: the store persists ``Decision`` and ``StoryState`` records.
"""

from feedsvc.stories.cluster import cluster, cluster_jsonl, final_stories, parse_item
from feedsvc.stories.engine import StoryEngine, story_id_for
from feedsvc.stories.model import (
    Decision,
    Explanation,
    Layer,
    RepresentativeRule,
    Story,
    StoryItem,
    StoryParams,
    StoryState,
)

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

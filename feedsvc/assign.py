"""The story stage of a cycle: put every new article into a story and record it.

Orchestration between the store and the story engine (``feedsvc.stories``):
the engine is warmed up with the articles of the active window and the
assignments stored for them, so that story ids stay stable across runs and
restarts; then every article that has no story yet is added, oldest first,
and the decisions, merges and new story shapes are saved in one transaction.
It does not group anything itself and runs no SQL of its own.
"""

from __future__ import annotations

import heapq
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from feedsvc.stories import Decision, Explanation, StoryEngine, StoryItem, StoryParams, StoryState
from feedsvc.types import Article, StoryAssignment, StoryUpdate

if TYPE_CHECKING:
    from feedsvc.store import Store

log = logging.getLogger("feedsvc.assign")


@dataclass(frozen=True, slots=True)
class AssignResult:
    """How many articles one story round placed, and how."""

    assigned: int = 0
    new_stories: int = 0
    joined: int = 0
    merges: int = 0


def item_key(source: str, article_id: str) -> str:
    """The engine's id for an article: ``source:id`` (source names hold no colon)."""
    return f"{source}:{article_id}"


def split_key(key: str) -> tuple[str, str]:
    """The (source, id) pair of an engine item id."""
    source, _, article_id = key.partition(":")
    return source, article_id


def story_item(article: Article) -> StoryItem:
    """What the story engine needs to know of an article."""
    return StoryItem(
        id=item_key(article.source, article.id),
        title=article.title,
        text=article.text,
        outlet=article.source,
        published=article.published,
        url=article.url,
        content_hash=article.content_hash,
    )


def restored_engine(store: Store, params: StoryParams, since: datetime) -> StoryEngine:
    """An engine that knows the stored assignments of articles published since ``since``."""
    assignments = {item_key(*key): story for key, story in store.story_assignments(since).items()}
    state = StoryState(assignments=assignments, aliases=store.story_aliases())
    return StoryEngine(params, state)


@dataclass(slots=True)
class Round:
    """The decisions for the pending articles and the last shape of each story they touched."""

    decisions: list[Decision]
    shapes: dict[str, StoryUpdate]


def feed_engine(
    engine: StoryEngine, store: Store, since: datetime, pending: Sequence[Article]
) -> Round:
    """Add the stored window and the pending articles in date order."""
    waiting = {item_key(a.source, a.id) for a in pending}
    known = [a for a in store.articles_since(since) if item_key(a.source, a.id) not in waiting]
    result = Round([], {})
    for article in heapq.merge(known, pending, key=_order):
        decision = engine.add(story_item(article))
        if decision.item_id in waiting:
            result.decisions.append(decision)
            shape = _shape(engine, decision.story_id)
            result.shapes[shape.id] = shape
    result.shapes = {k: v for k, v in result.shapes.items() if engine.resolve(k) == k}
    return result


def _order(article: Article) -> tuple[datetime, str, str]:
    return (article.published, article.source, article.id)


def assign_stories(store: Store, params: StoryParams, now: datetime) -> AssignResult:
    """Place every article without a story, and store the decisions."""
    pending = store.unassigned_articles()
    if not pending:
        return AssignResult()
    since = min(pending[0].published, now) - params.window
    engine = restored_engine(store, params, since)
    done = feed_engine(engine, store, since, pending)
    merges = {old: engine.resolve(d.story_id) for d in done.decisions for old in d.merged}
    store.save_stories(
        [_assignment(engine, d) for d in done.decisions],
        [done.shapes[k] for k in sorted(done.shapes)],
        merges,
        now,
    )
    result = _count(done.decisions, merges)
    log.info(
        "stories assigned=%d new=%d joined=%d merges=%d",
        result.assigned, result.new_stories, result.joined, result.merges,
    )  # fmt: skip
    return result


def _assignment(engine: StoryEngine, decision: Decision) -> StoryAssignment:
    source, article_id = split_key(decision.item_id)
    return StoryAssignment(
        source=source,
        article_id=article_id,
        story_id=engine.resolve(decision.story_id),
        layer=decision.layer,
        score=decision.score,
        matched=decision.matched_item,
        signals=dict(decision.signals),
    )


def _shape(engine: StoryEngine, story_id: str) -> StoryUpdate:
    story = engine.story(story_id)
    source, article_id = split_key(story.representative)
    return StoryUpdate(story.id, source, article_id, members=1 + len(story.members))


def _count(decisions: Sequence[Decision], merges: dict[str, str]) -> AssignResult:
    new = sum(1 for d in decisions if d.layer == "new")
    return AssignResult(len(decisions), new, len(decisions) - new, len(merges))


def explain_pair(store: Store, params: StoryParams, a: Article, b: Article) -> Explanation:
    """Why two stored articles are, or are not, in one story: the engine's signals."""
    since = min(a.published, b.published) - params.window
    engine = restored_engine(store, params, since)
    feed_engine(engine, store, since, sorted((a, b), key=_order))
    a_key, b_key = item_key(a.source, a.id), item_key(b.source, b.id)
    try:
        return engine.explain(a_key, b_key)
    except KeyError:  # one of them left the window before the other arrived
        gap = abs(a.published - b.published)
        story_a = store.story_of(a.source, a.id) or "(none)"
        story_b = store.story_of(b.source, b.id) or "(none)"
        reason = f"published {gap} apart, beyond the {params.window} window: never compared"
        return Explanation(a_key, b_key, story_a == story_b, story_a, story_b, {}, 0.0, reason)

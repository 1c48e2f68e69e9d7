"""The story stage of a cycle: put every new article into a story and record it.

Orchestration between the store and the story engine (``feedsvc.stories``).
The engine of the previous round is read back from its snapshot
(``story_snapshot``) when it matches the store and no new article is older
than its window allows (``LATE``); otherwise it is rebuilt: warmed up with the
articles of the active window and the assignments stored for them, so that
story ids stay stable across runs and restarts. Then every article that has no
story yet is added, oldest first, ``BATCH`` at a time (a first run of many
feeds never holds all their texts at once); the decisions, merges and new
story shapes of each batch are saved in one transaction with a new token; the
snapshot written after the last batch carries the last token, so a round
killed between batches leaves a snapshot that no longer matches, and the next
round rebuilds from what was saved.
It does not group anything itself and runs no SQL of its own.
"""

from __future__ import annotations

import gc
import logging
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from itertools import chain
from pathlib import Path
from typing import TYPE_CHECKING

from feedsvc.stories import Decision, Explanation, StoryItem, StoryParams, StoryState
from feedsvc.story_snapshot import (
    SNAPSHOT_KEY,
    load_snapshot,
    remove_snapshot_leftovers,
    save_snapshot,
)
from feedsvc.types import Article, ArticleText, StoryAssignment, StoryUpdate

if TYPE_CHECKING:
    from feedsvc.store import Store
    from feedsvc.stories import StoryEngine

log = logging.getLogger("feedsvc.assign")

# How much older than the newest article the snapshot has seen a new article may
# be, as a share of the window, for the snapshot to be used: its older
# neighbours may already have left the window, and at a third of it (a day, by
# default) the time decay leaves them little weight anyway.
LATE = 1 / 3
# Pending articles read and decided at a time: bounds the texts a round holds.
BATCH = 2000


@dataclass(frozen=True, slots=True)
class AssignResult:
    """How many articles one story round placed, and how."""

    assigned: int = 0
    new_stories: int = 0
    joined: int = 0
    merges: int = 0
    rebuilt: bool = False


@dataclass(frozen=True, slots=True)
class StoryRound:
    """A story round to run on a store of its own: picklable, for a worker process."""

    database_url: str
    params: StoryParams
    now: datetime
    sources: tuple[str, ...] = ()
    snapshot: Path | None = None


def run_round(story_round: StoryRound, store: Store | None = None) -> AssignResult:
    """Run ``story_round`` (``assign_stories``) on ``store``, or on its own store when None."""
    if store is None:
        from feedsvc.store import Store

        with Store.open(story_round.database_url) as own:
            return run_round(story_round, own)
    return assign_stories(
        store,
        story_round.params,
        story_round.now,
        sources=story_round.sources,
        snapshot=story_round.snapshot,
    )


def item_key(source: str, article_id: str) -> str:
    """The engine's id for an article: ``source:id`` (source names hold no colon)."""
    return f"{source}:{article_id}"


def split_key(key: str) -> tuple[str, str]:
    """The (source, id) pair of an engine item id."""
    source, _, article_id = key.partition(":")
    return source, article_id


def story_item(article: Article | ArticleText) -> StoryItem:
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
    from feedsvc.stories import StoryEngine  # the engine loads where a round runs, only

    assignments = {item_key(*key): story for key, story in store.story_assignments(since).items()}
    state = StoryState(assignments=assignments, aliases=store.story_aliases())
    return StoryEngine(params, state)


@dataclass(slots=True)
class Round:
    """The decisions for the pending articles and the last shape of each story they touched."""

    decisions: list[Decision]
    shapes: dict[str, StoryUpdate]
    latest: datetime | None = None


def feed_engine(
    engine: StoryEngine,
    store: Store,
    since: datetime | None,
    pending: Sequence[Article | ArticleText],
) -> Round:
    """Add the stored window from ``since`` (none: the engine has it), then the pending articles.

    The stored window goes in whole before the first pending article, as a
    snapshot's engine holds it: a pending article is decided against every
    story already stored, also those of articles published after it (a report
    that arrives late, or one of two with the same time, joins the story the
    other already has), and a rebuilt engine decides as the snapshot's would.
    """
    waiting = {item_key(a.source, a.id) for a in pending}
    stored = store.texts_since(since) if since is not None else []
    known = [a for a in stored if item_key(a.source, a.id) not in waiting]
    result = Round([], {})
    for article in chain(known, sorted(pending, key=_order)):
        result.latest = max(result.latest or article.published, article.published)
        decision = engine.add(story_item(article))
        if decision.item_id in waiting:
            result.decisions.append(decision)
            shape = _shape(engine, decision.story_id)
            result.shapes[shape.id] = shape
    result.shapes = {k: v for k, v in result.shapes.items() if engine.resolve(k) == k}
    return result


def _order(article: Article | ArticleText) -> tuple[datetime, str, str]:
    return (article.published, article.source, article.id)


def assign_stories(
    store: Store,
    params: StoryParams,
    now: datetime,
    *,
    sources: Sequence[str] = (),
    snapshot: Path | None = None,
    batch: int = BATCH,
) -> AssignResult:
    """Place every article without a story, ``batch`` at a time, and store the decisions.

    With a ``snapshot`` path, the engine is read from it when it matches (and
    written back after the round); ``sources`` are the configured source names
    it must match.
    """
    if snapshot is not None:
        remove_snapshot_leftovers(snapshot)  # also when this round has nothing to place
    # a cheap "is there any?" first: when there is none (a run of 304s), reading the
    # pending texts in order would still scan every article, three times slower
    pending = store.unassigned_texts(limit=batch) if store.any_unassigned() else []
    if not pending:
        return AssignResult()
    with young_collections_only():
        engine, since, seen = _engine_for(store, params, now, pending, sources, snapshot)
        result = AssignResult(rebuilt=since is not None)
        latest = seen
        while pending:
            done = feed_engine(engine, store, since, pending)
            token = _save(store, engine, done, now)
            result = _add(result, _count(done.decisions, _merges(engine, done)))
            latest = max(filter(None, (latest, done.latest)), default=None)
            gc.collect(1)  # the batch's cyclic garbage (from the database layer, mostly)
            if len(pending) < batch:
                break
            since, last = None, pending[-1]  # the engine holds the window now
            pending = store.unassigned_texts(limit=batch, after=_order(last))
        if snapshot is not None and latest is not None:
            # pickling memoises every object it writes: room made here is reused by it
            del pending, done
            engine.drop_caches()
            save_snapshot(snapshot, engine, params, sources, token, latest)
    return result


@contextmanager
def young_collections_only() -> Iterator[None]:
    """Pause automatic garbage collection; the caller collects young objects itself.

    The engine's window is hundreds of thousands of long-lived containers that
    hold no reference cycles. Python's automatic collector would walk all of
    them again at every full collection (a dozen in a first round, about 8 %
    of its time); young collections between batches free the few cycles a
    round makes (under a hundred objects a batch) and never walk the window.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _merges(engine: StoryEngine, done: Round) -> dict[str, str]:
    """Each story id merged away in this batch, with the id that absorbed it."""
    return {old: engine.resolve(d.story_id) for d in done.decisions for old in d.merged}


def _save(store: Store, engine: StoryEngine, done: Round, now: datetime) -> str:
    """Save one batch's decisions, merges and shapes with a new snapshot token; return it."""
    token = uuid.uuid4().hex
    store.save_stories(
        [_assignment(engine, d) for d in done.decisions],
        [done.shapes[k] for k in sorted(done.shapes)],
        _merges(engine, done),
        now,
        {SNAPSHOT_KEY: token},
    )
    return token


def _add(total: AssignResult, more: AssignResult) -> AssignResult:
    return replace(
        total,
        assigned=total.assigned + more.assigned,
        new_stories=total.new_stories + more.new_stories,
        joined=total.joined + more.joined,
        merges=total.merges + more.merges,
    )


def _engine_for(
    store: Store,
    params: StoryParams,
    now: datetime,
    pending: Sequence[ArticleText],
    sources: Sequence[str],
    snapshot: Path | None,
) -> tuple[StoryEngine, datetime | None, datetime | None]:
    """The engine for ``pending``, where to replay the stored window from, what it has seen.

    The snapshot's engine is used (no replay) when it matches the store and the
    oldest pending article is at most ``LATE`` of a window older than the
    newest article it has seen; otherwise the window is replayed.
    """
    if snapshot is not None:
        token = store.service_state(SNAPSHOT_KEY)
        saved = load_snapshot(snapshot, params, sources, token)
        if saved is not None and pending[0].published >= saved.latest - params.window * LATE:
            return saved.engine, None, saved.latest
        if saved is not None:
            log.info("stories: articles older than the snapshot allows; rebuilding the window")
    since = min(pending[0].published, now) - params.window
    return restored_engine(store, params, since), since, None


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

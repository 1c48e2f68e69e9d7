"""The story stage of a cycle: put every new article into a story and record it.

Orchestration between the store and the engine's side of the round
(``placing``). The engine of the previous round is read back from its
snapshot (``story_snapshot``) when it matches the store, however late the new
articles; otherwise it is rebuilt: warmed up with the articles of the active
window and the assignments stored for them (from no more than a window before
the newest stored article: ``placing.replay_from``), so that story ids stay
stable across runs and restarts. Then every article that has no story yet is
added, oldest first, ``BATCH`` at a time (a first run of many feeds never
holds all their texts at once); the decisions,
merges and new story shapes of each batch are saved in one transaction with a
new token, and the snapshot written at the end carries the last one: a round
killed between batches, or before its last batch was saved, leaves a snapshot
that no longer matches, and the next round rebuilds from what was saved.

With a process pool, the engine works in a process of its own
(``placing.RemotePlacer``), and this process reads the next batch and saves
the last one meanwhile. It does not group anything itself and runs no SQL of
its own.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator, Sequence
from concurrent.futures import Executor
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime
from itertools import chain
from pathlib import Path
from typing import TYPE_CHECKING

from feedsvc.companion import Companion
from feedsvc.late_articles import late_before, late_reach, late_segments, sweep
from feedsvc.placing import AssignResult as AssignResult
from feedsvc.placing import (
    LocalPlacer,
    Placed,
    Placer,
    RemotePlacer,
    Text,
    add_in_order,
    fresh_engine,
    item_key,
    replay_from,
    serve,
    text_order,
)
from feedsvc.placing import young_collections_only as young_collections_only
from feedsvc.stories import Explanation, StoryParams, StoryState
from feedsvc.story_snapshot import SNAPSHOT_KEY, remove_snapshot_leftovers
from feedsvc.types import Article, ArticleText
from feedsvc.workers import rest_workers, return_free_memory, runs_processes

if TYPE_CHECKING:
    from feedsvc.store import Store
    from feedsvc.stories import StoryEngine

log = logging.getLogger("feedsvc.assign")

# Pending articles read and decided at a time: bounds the texts a round holds.
BATCH = 1000
# Stored articles read and sent to a late pass's engine to replay at a time (no more than
# ``batch``): the texts with their analyses and their pickled copy are this process's
# working set while it replays (at 10,000 feeds, 11 MB with 1,000, under 1 MB with 250).
REPLAY_BATCH = 250


def assign_stories(
    store: Store,
    params: StoryParams,
    now: datetime,
    *,
    sources: Sequence[str] = (),
    snapshot: Path | None = None,
    batch: int = BATCH,
    pool: Executor | None = None,
) -> AssignResult:
    """Place every article without a story, ``batch`` at a time, and store the decisions.

    With a ``snapshot`` path, the engine is read from it when it matches (and
    written back after the round); ``sources`` are the configured source names
    it must match. With a ``pool`` of processes, the engine works in a process
    of its own, which ends with the round (the pool's idle workers end first).
    """
    if snapshot is not None:
        remove_snapshot_leftovers(snapshot)  # also when this round has nothing to place
    # a cheap "is there any?" first: when there is none (a run of 304s), reading the
    # pending texts in order would still scan every article, three times slower
    pending = store.unassigned_texts(limit=batch) if store.any_unassigned() else []
    if not pending:
        return AssignResult()
    with _placer(params, sources, snapshot, pool) as placer:
        newest = store.newest_assigned()
        before = late_before(newest, now, params.window)
        late = AssignResult()
        if before is not None and pending[0].published < before:
            late = _place_late(placer, store, params, now, before, batch)
            pending = store.unassigned_texts(limit=batch)
            if not pending:
                return late
        token = store.service_state(SNAPSHOT_KEY) if snapshot is not None else None
        since = placer.start(token, pending[0].published, now)
        replayed = 0
        if since is not None:
            since = replay_from(since, newest, now, params.window)
            placer.restore(stored_state(store, since))
            replayed = _replay(placer, store, since, batch)
        placer.send_place(pending)
        result = replace(late, rebuilt=since is not None, replayed=replayed)
        while True:
            # read the next batch while the engine places this one (keyset paging
            # does not depend on this batch being saved), and send it at once: it
            # goes as soon as this one's outcome arrives, so the engine never waits
            following = []
            if len(pending) >= batch:
                following = store.unassigned_texts(limit=batch, after=text_order(pending[-1]))
            token = uuid.uuid4().hex
            if following:
                placer.send_place(following)
            elif snapshot is not None:
                # the snapshot is written while the last batch is saved: it is used
                # only once the store holds its token, so either may end first
                placer.send_finish(token)
            placed = placer.placed()
            _save(store, placed, now, token)
            result = _add(result, placed.counts)
            if not following:
                break
            pending = following
        del pending, placed  # saved
        if snapshot is not None:
            if isinstance(placer, RemotePlacer):
                # the engine's process peaks while it writes the snapshot: meanwhile this
                # one hands back what the batches took (a few MB of texts and rows each)
                return_free_memory()
            placer.finished()
    return result


@contextmanager
def _placer(
    params: StoryParams, sources: Sequence[str], snapshot: Path | None, pool: Executor | None
) -> Iterator[LocalPlacer | RemotePlacer]:
    """The engine's side of the round: in a process of its own when ``pool`` runs processes."""
    if pool is None or not runs_processes(pool):
        from feedsvc.stories.stored import forget_memo

        forget_memo()  # what extraction remembered of words here (no worker processes)
        with young_collections_only():
            yield LocalPlacer(Placer(params, sources, snapshot))
        return
    rest_workers(pool)  # idle workers do not hold their memory beside the engine
    return_free_memory()  # what the stage before freed, while the engine works
    companion = Companion(serve, params, tuple(sources), snapshot)
    try:
        yield RemotePlacer(companion)
    finally:
        companion.close()


def _place_late(
    placer: LocalPlacer | RemotePlacer,
    store: Store,
    params: StoryParams,
    now: datetime,
    before: datetime,
    batch: int,
) -> AssignResult:
    """Place the pending articles published before ``before`` among the stories of their time.

    Each segment of them (``late_segments``) gets an engine of its own that
    knows the stored decisions from half a window (``late_reach``) before the
    segment to half a window after it; the stored articles of that span are
    replayed and the late ones placed in between (``sweep``), and their
    decisions saved as they come.
    The round's own engine never holds these articles (they are older than its
    window), nor would a window rebuilt from the store, so a late article that
    joins a story of that window leaves the snapshot as it is. A merge is
    another matter: when a late article merges stories and one of them has a
    member young enough to be in that window, the snapshot's engine still
    holds the merged-away story, so the snapshot is made stale in the same
    transaction, and the window is rebuilt from the store.
    """
    result, reach, replay = AssignResult(), late_reach(params.window), min(batch, REPLAY_BATCH)
    stale = False
    for read in late_segments(_unassigned(store, batch), before, reach, batch):
        segment = _without_window_copies(store, read, before)
        if not segment:
            continue
        since, until = segment[0].published - reach, segment[-1].published + reach
        placer.restore(stored_state(store, since, until), reach)
        stored = chain.from_iterable(_stored_window(store, since, replay, until=until))
        due = False  # a replay step sent: the next step is read while the engine replays it
        for step, articles in sweep(stored, segment, reach, batch, replay_size=replay):
            if due:
                placer.replayed()
            due = step == "replay"
            if due:
                placer.send_replay(articles)
                continue
            placer.send_place(articles)
            placed = placer.placed()
            if not stale and placed.merges:
                newest = store.newest_member([*placed.merges, *placed.merges.values()])
                stale = newest is not None and newest >= before
            facts = {SNAPSHOT_KEY: uuid.uuid4().hex} if stale else {}
            store.save_stories(
                list(placed.assignments), list(placed.shapes), dict(placed.merges), now, facts
            )
            result = replace(_add(result, placed.counts), late=result.late + len(articles))
        if due:
            placer.replayed()
        log.info(
            "late articles placed count=%d from=%s to=%s snapshot_stale=%s",
            len(segment), segment[0].published.isoformat(), segment[-1].published.isoformat(),
            stale,
        )  # fmt: skip
    return result


def _without_window_copies(store: Store, segment: list[Text], before: datetime) -> list[Text]:
    """The late articles of ``segment`` but those the round's window holds a copy of.

    A late article with the URL or the content hash of a stored article
    published at or after ``before`` is an exact copy of a member of the
    round's window: the round's engine, which holds that member's keys,
    places it in that member's story as it did before late articles were
    placed apart (the segment's engine ends half a window after it and would
    not meet the copy). It stays pending for the round; the others are placed here.
    """
    urls = [a.url for a in segment if a.url]
    urls_held, hashes_held = store.copies_since(before, urls, [a.content_hash for a in segment])
    return [a for a in segment if a.url not in urls_held and a.content_hash not in hashes_held]


def _unassigned(store: Store, batch: int) -> Iterator[ArticleText]:
    """Every article waiting for a story, oldest first, read ``batch`` at a time."""
    after = None
    while True:
        texts = store.unassigned_texts(limit=batch, after=after)
        yield from texts
        if len(texts) < batch:
            return
        after = text_order(texts[-1])


def _replay(
    placer: LocalPlacer | RemotePlacer,
    store: Store,
    since: datetime,
    batch: int,
    *,
    until: datetime | None = None,
) -> int:
    """Send the stored window since ``since`` (to ``until``) to the engine, a batch at a time.

    Each batch is read while the engine replays the one before, and neither
    side ever holds more of the window's texts than that (one list of the
    whole window was, at 10,000 feeds, 167 MB here and as much there).
    Pending articles are in no story, so none is among them. Returns how
    many articles were replayed.
    """
    replayed, sent = 0, False
    for known in _stored_window(store, since, batch, until=until):  # the next is read meanwhile
        if sent:
            placer.replayed()
        placer.send_replay(known)
        replayed, sent = replayed + len(known), True
    if sent:
        placer.replayed()
    return replayed


def _stored_window(
    store: Store,
    since: datetime,
    batch: int,
    *,
    until: datetime | None = None,
    leave_out: frozenset[str] = frozenset(),
) -> Iterator[list[ArticleText]]:
    """The articles in a story published since ``since`` (to ``until``), oldest first.

    Read ``batch`` at a time and yielded so (empty batches skipped), leaving
    out those whose ``item_key`` is in ``leave_out``; reading stops at ``until``.
    """
    after = None
    while True:
        texts = store.texts_since(since, limit=batch, after=after)
        kept = [
            a
            for a in texts
            if (until is None or a.published <= until) and item_key(a.source, a.id) not in leave_out
        ]
        if kept:
            yield kept
        if len(texts) < batch or (until is not None and texts[-1].published > until):
            return
        after = text_order(texts[-1])


def _save(store: Store, placed: Placed, now: datetime, token: str) -> None:
    """Save one batch's decisions, merges and shapes with a new snapshot token."""
    store.save_stories(
        list(placed.assignments),
        list(placed.shapes),
        dict(placed.merges),
        now,
        {SNAPSHOT_KEY: token},
    )


def _add(total: AssignResult, more: AssignResult) -> AssignResult:
    return replace(
        total,
        assigned=total.assigned + more.assigned,
        new_stories=total.new_stories + more.new_stories,
        joined=total.joined + more.joined,
        merges=total.merges + more.merges,
    )


def stored_state(store: Store, since: datetime, until: datetime | None = None) -> StoryState:
    """What a replay from ``since`` (to ``until``) restores: assignments and foundings.

    No aliases: the store keeps every article's current story and the founding
    times of current stories (a merge rewrites both), so a replay meets no
    merged-away id, and the engine need not hold the archive's every merge.
    A story id is one string in both the assignments and the foundings, so
    that pickling the state for the engine's process writes it once and
    that process holds it once. At 10,000 feeds a late pass restores 64,000
    of each; with a string a row, pickling them took this process 15 MB higher.
    """
    assignments = store.story_assignments(since, until, key=item_key)
    ids: dict[str, str] = {}
    for item, story in assignments.items():  # in place: a second dict of them would be as large
        assignments[item] = ids.setdefault(story, story)
    stored = store.stories_founded(since, until)
    founded = {ids.get(story, story): when for story, when in stored.items()}
    del ids, stored
    return StoryState(assignments, founded=founded)


def restored_engine(
    store: Store, params: StoryParams, since: datetime, until: datetime | None = None
) -> StoryEngine:
    """An engine that knows the stored decisions about articles published since ``since``.

    To ``until``, if given: an engine that is given nothing newer needs no more.
    """
    return fresh_engine(params, stored_state(store, since, until))


def explain_pair(store: Store, params: StoryParams, a: Article, b: Article) -> Explanation:
    """Why two stored articles are, or are not, in one story: the engine's signals.

    The engine replays the window before the older of the two up to the newer
    one, then takes the pair: its clock stops there, so two articles a window
    apart or less are both in its window however long ago they were published.
    """
    a_key, b_key = item_key(a.source, a.id), item_key(b.source, b.id)
    gap = abs(a.published - b.published)
    if gap <= params.window:
        since = min(a.published, b.published) - params.window
        pair = sorted((a, b), key=text_order)
        engine = restored_engine(store, params, since, pair[-1].published)
        known = _stored_window(
            store, since, BATCH, until=pair[-1].published, leave_out=frozenset((a_key, b_key))
        )  # read no further than the pair: the archive after it is never held
        add_in_order(engine, [text for part in known for text in part], pair)
        try:
            return engine.explain(a_key, b_key)
        except KeyError:  # evicted at the window's very edge
            pass
    story_a = store.story_of(a.source, a.id) or "(none)"
    story_b = store.story_of(b.source, b.id) or "(none)"
    reason = f"published {gap} apart, beyond the {params.window} window: never compared"
    return Explanation(a_key, b_key, story_a == story_b, story_a, story_b, {}, 0.0, reason)

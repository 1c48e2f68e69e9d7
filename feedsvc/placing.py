"""The engine's side of a story round: place articles into stories, keep the snapshot.

``assign`` reads from the store what a round needs and saves what it decides;
this module holds the engine in between and never touches the store. A
``Placer`` works in the process that reads and saves (``LocalPlacer``) or in a
process of its own that serves it over a pipe (``RemotePlacer``). That process
ends with the round, so the engine's memory goes back to the system; it never
loads SQLAlchemy or the store (about 28 MB); and its parent reads the next
batch and saves the last one while the engine places this one.
"""

from __future__ import annotations

import gc
import pickle
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from itertools import chain
from multiprocessing.connection import Connection
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from feedsvc.errors import FeedsvcError
from feedsvc.stories import Decision, StoryItem, StoryParams, StoryState
from feedsvc.story_snapshot import load_snapshot, save_snapshot
from feedsvc.types import UNTITLED, Article, ArticleText, StoryAssignment, StoryUpdate

if TYPE_CHECKING:
    from feedsvc.companion import Companion
    from feedsvc.stories import StoryEngine

Text = Article | ArticleText


class StoryRoundError(FeedsvcError):
    """The process placing a round's articles ended before it answered."""


@dataclass(frozen=True, slots=True)
class AssignResult:
    """How many articles one story round placed, and how."""

    assigned: int = 0
    new_stories: int = 0
    joined: int = 0
    merges: int = 0
    rebuilt: bool = False
    replayed: int = 0  # stored articles replayed to rebuild the window
    late: int = 0  # articles placed among the stories of their own time (``late_articles``)


@dataclass(frozen=True, slots=True)
class Placed:
    """One batch's decisions, ready to save: assignments, story shapes, merges and counts."""

    assignments: tuple[StoryAssignment, ...]
    shapes: tuple[StoryUpdate, ...]
    merges: Mapping[str, str]
    counts: AssignResult


def item_key(source: str, article_id: str) -> str:
    """The engine's id for an article: ``source:id`` (source names hold no colon)."""
    return f"{source}:{article_id}"


def split_key(key: str) -> tuple[str, str]:
    """The (source, id) pair of an engine item id."""
    source, _, article_id = key.partition(":")
    return source, article_id


def story_item(article: Text) -> StoryItem:
    """What the story engine needs to know of an article."""
    return StoryItem(
        id=item_key(article.source, article.id),
        title=story_title(article.title, article.text),
        text=article.text,
        outlet=article.source,
        published=article.published,
        url=article.url,
        content_hash=article.content_hash,
        features=article.features,
    )


def story_title(title: str, text: str) -> str:
    """The title the story engine reads: none for an entry that had no title and no text.

    The normaliser calls such an article "(untitled)"; read as a word, that
    placeholder made every empty entry of every outlet one story.
    """
    return "" if title == UNTITLED and not text else title


def text_order(article: Text) -> tuple[datetime, str, str]:
    """The order in which a round reads and places articles: published, source, id."""
    return (article.published, article.source, article.id)


def replay_from(
    since: datetime, newest: datetime | None, now: datetime, window: timedelta
) -> datetime:
    """Where a rebuilt window's replay starts: ``since``, but not before ``newest`` less a window.

    ``since`` is a window before the oldest pending article; ``newest`` is when
    the newest stored article in a story was published. The stored window goes
    in whole before the first pending article, and the engine's clock never
    goes back: when that article is placed, every article more than a window
    older than ``newest`` has left the window again. Leaving those out
    changes no member or story a pending article meets. It changes what
    any rebuild's starting point changes: the decayed word counts behind the
    weights, and which of several articles with one URL or hash answers for
    that exact-copy key (the first added of those still in the window: added
    in stored order, not in the order they arrived); founding times are
    restored (``StoryState.founded``). Without this bound, one article dated
    weeks back (a backdated report, a new source's archive) replayed, and
    held in memory, every article stored since.
    """
    if newest is None:
        return since
    return max(since, min(newest, now) - window)


def fresh_engine(params: StoryParams, state: StoryState) -> StoryEngine:
    """An engine that knows the stored assignments (by ``item_key``) and foundings."""
    from feedsvc.stories import StoryEngine  # the engine loads where a round runs, only

    return StoryEngine(params, state)


@dataclass(slots=True)
class Round:
    """The decisions for the pending articles and the last shape of each story they touched."""

    decisions: list[Decision]
    shapes: dict[str, StoryUpdate]


def add_in_order(
    engine: StoryEngine,
    known: Sequence[Text],
    pending: Sequence[Text],
    *,
    reach: timedelta | None = None,
) -> Round:
    """Add the stored window (``known``), then the pending articles, oldest first.

    With a ``reach``, the engine's clock goes to that long after each pending
    article before it is placed (a late article's engine, which holds two
    reaches: what is more than a reach older than the article has left).

    The stored window goes in whole before the first pending article, as a
    snapshot's engine holds it: a pending article is decided against every
    story already stored, also those of articles published after it (a report
    that arrives late, or one of two with the same time, joins the story the
    other already has), and a rebuilt engine decides as the snapshot's would.
    """
    waiting = {item_key(a.source, a.id) for a in pending}
    result = Round([], {})
    for article in chain(known, sorted(pending, key=text_order)):
        if reach is not None and item_key(article.source, article.id) in waiting:
            engine.advance(article.published + reach)
        decision = engine.add(story_item(article))
        if decision.item_id in waiting:
            result.decisions.append(decision)
            shape = _shape(engine, decision.story_id)
            result.shapes[shape.id] = shape
    result.shapes = {k: v for k, v in result.shapes.items() if engine.resolve(k) == k}
    return result


class Placer:
    """The engine of one round: from the snapshot or rebuilt, then fed batch after batch."""

    def __init__(self, params: StoryParams, sources: Sequence[str], snapshot: Path | None) -> None:
        self._params = params
        self._sources = tuple(sources)
        self._snapshot = snapshot
        self._engine: StoryEngine | None = None
        self._reach: timedelta | None = None  # a late pass: each article meets a reach after it

    def start(self, token: str | None, first: datetime, now: datetime) -> datetime | None:
        """Take the snapshot's engine if it fits (None), else say from when to replay the window.

        The snapshot fits when its token is the stored ``token``, however old
        the oldest pending article (``first``): a rebuilt window goes in whole
        before the first pending article (``add_in_order``) and the engine's
        clock never goes back, so a rebuild would hold the snapshot's window
        when that article is placed, only rebuilt, and less like the engine
        that made the stored decisions (``replay_from``).
        """
        params = self._params
        self._engine, self._reach = None, None  # a late pass's engine: not beside the snapshot's
        if self._snapshot is not None:
            self._engine = load_snapshot(self._snapshot, params, self._sources, token)
            if self._engine is not None:
                return None
        return min(first, now) - params.window

    def restore(self, state: StoryState, reach: timedelta | None = None) -> None:
        """Start from a new engine that knows the stored assignments and foundings.

        With a ``reach`` (a pass over late articles, ``late_articles``), the
        new engine holds two reaches instead of the configured window, and its
        clock goes to a reach after each article placed: what is more than a
        reach older than the article has left.
        """
        params = self._params if reach is None else replace(self._params, window=2 * reach)
        self._engine = None  # the engine before (a segment's) goes first
        self._engine = fresh_engine(params, state)
        self._reach = reach

    def replay(self, known: Sequence[Text]) -> int:
        """Add stored articles of the window to replay, oldest first; return how many.

        A rebuilt window goes in a batch at a time, all of it before the
        first pending article (``place``), as ``add_in_order`` puts it.
        """
        engine = self._need_engine()
        for article in known:
            engine.add(story_item(article))
        gc.collect(1)  # the batch's cyclic garbage, as after ``place``
        return len(known)

    def place(self, pending: Sequence[Text]) -> Placed:
        """Add ``pending`` (after the window, if one was replayed); return what to save."""
        engine = self._need_engine()
        done = add_in_order(engine, [], pending, reach=self._reach)
        merges = {old: engine.resolve(d.story_id) for d in done.decisions for old in d.merged}
        new = sum(1 for d in done.decisions if d.layer == "new")
        placed = Placed(
            tuple(_assignment(engine, d) for d in done.decisions),
            tuple(done.shapes[k] for k in sorted(done.shapes)),
            merges,
            AssignResult(len(done.decisions), new, len(done.decisions) - new, len(merges)),
        )
        del done
        gc.collect(1)  # the batch's cyclic garbage
        return placed

    def finish(self, token: str) -> None:
        """Write the snapshot of the engine, stamped with the token its last batch is saved with."""
        if self._snapshot is None or self._engine is None:
            return
        engine = self._engine
        # pickling memoises every object it writes: room made here is reused by it
        engine.drop_caches()
        save_snapshot(self._snapshot, engine, self._params, self._sources, token)

    def _need_engine(self) -> StoryEngine:
        if self._engine is None:
            raise RuntimeError("a placer must start (and restore, if asked) before it places")
        return self._engine


class LocalPlacer:
    """A ``Placer`` in this process, spoken to as a ``RemotePlacer`` is."""

    def __init__(self, placer: Placer) -> None:
        self._placer = placer
        self._placed: deque[Placed] = deque()

    def start(self, token: str | None, first: datetime, now: datetime) -> datetime | None:
        """``Placer.start``."""
        return self._placer.start(token, first, now)

    def restore(self, state: StoryState, reach: timedelta | None = None) -> None:
        """``Placer.restore``."""
        self._placer.restore(state, reach)

    def send_replay(self, known: Sequence[Text]) -> None:
        """Replay a batch of the stored window (here: at once); ``replayed`` follows."""
        self._placer.replay(known)

    def replayed(self) -> None:
        """Return once the batch of the window sent last is replayed."""

    def send_place(self, pending: Sequence[Text]) -> None:
        """Place a batch (here: at once); ``placed`` returns the outcomes in order."""
        self._placed.append(self._placer.place(pending))

    def placed(self) -> Placed:
        """The outcome of the earliest batch sent and not yet taken."""
        if not self._placed:
            raise RuntimeError("no batch was sent")
        return self._placed.popleft()

    def send_finish(self, token: str) -> None:
        """Write the snapshot (here: at once)."""
        self._placer.finish(token)

    def finished(self) -> None:
        """Return once the snapshot is written."""


class RemotePlacer:
    """A ``Placer`` in a process of its own (``serve``), spoken to over a pipe.

    One request may wait behind the one being served: it goes, already
    pickled, the moment the answer before it arrives, so the engine starts
    the next batch while this side reads the last one's outcome.
    """

    def __init__(self, companion: Companion) -> None:
        self._companion = companion
        self._answers_due = 0
        self._queued: bytes | None = None

    def start(self, token: str | None, first: datetime, now: datetime) -> datetime | None:
        """``Placer.start``, there."""
        return cast("datetime | None", self._call("start", token, first, now))

    def restore(self, state: StoryState, reach: timedelta | None = None) -> None:
        """``Placer.restore``, there."""
        self._call("restore", state, reach)

    def send_replay(self, known: Sequence[Text]) -> None:
        """Hand a batch of the stored window over and return at once; ``replayed`` waits."""
        self._send("replay", list(known))

    def replayed(self) -> None:
        """Wait until the batch of the window sent last is replayed."""
        self._answer()

    def send_place(self, pending: Sequence[Text]) -> None:
        """Hand a batch over and return at once; ``placed`` waits for the outcomes in order."""
        self._send("place", list(pending))

    def placed(self) -> Placed:
        """The outcome of the earliest batch sent and not yet taken (waits for it)."""
        return cast(Placed, self._answer())

    def send_finish(self, token: str) -> None:
        """Have the snapshot written there after what was sent; ``finished`` waits for it."""
        self._send("finish", token)

    def finished(self) -> None:
        """Wait until the snapshot is written."""
        self._answer()

    def _call(self, name: str, *args: Any) -> Any:
        if self._answers_due:
            raise RuntimeError(f"{name}: answers of earlier requests are still due")
        self._send(name, *args)
        return self._answer()

    def _send(self, name: str, *args: Any) -> None:
        message = pickle.dumps((name, args), protocol=pickle.HIGHEST_PROTOCOL)
        if self._answers_due == 0:
            self._write(message)
        elif self._queued is None:
            self._queued = message  # goes when the answer due arrives
        else:
            raise RuntimeError("two requests already wait for the story round's process")

    def _write(self, message: bytes) -> None:
        try:
            self._companion.send_bytes(message)
        except OSError as exc:
            raise StoryRoundError("the story round's process ended unexpectedly") from exc
        self._answers_due += 1

    def _answer(self) -> Any:
        if self._answers_due == 0:
            raise RuntimeError("no request waits for an answer")
        try:
            answer = self._companion.receive_bytes()
        except (EOFError, OSError) as exc:
            raise StoryRoundError("the story round's process ended unexpectedly") from exc
        self._answers_due -= 1
        if self._queued is not None:
            queued, self._queued = self._queued, None
            self._write(queued)  # before reading this answer: the engine goes on meanwhile
        status, value = cast("tuple[str, Any]", pickle.loads(answer))
        if status == "error":
            raise value
        return value


def serve(
    connection: Connection, params: StoryParams, sources: Sequence[str], snapshot: Path | None
) -> Placer:
    """Serve a ``Placer`` over ``connection`` until the other end closes it (a companion's task).

    Automatic garbage collection stays off (see ``young_collections_only``)
    until the process ends: switched back on, the first allocation would walk
    the whole window in a full collection. Returns the placer, so that the
    companion ends without freeing its engine piece by piece.
    """
    gc.disable()  # for good: this process ends with the round
    placer = Placer(params, sources, snapshot)
    calls: dict[str, Callable[..., Any]] = {
        "start": placer.start,
        "restore": placer.restore,
        "replay": placer.replay,
        "place": placer.place,
        "finish": placer.finish,
    }
    while True:
        try:
            name, args = connection.recv()
        except EOFError:
            return placer
        try:
            answer: tuple[str, Any] = ("ok", calls[name](*args))
        except Exception as exc:  # the caller raises it
            answer = ("error", exc)
        try:
            connection.send(answer)
        except OSError:  # the caller gave up (it failed, or was stopped): so does this
            return placer


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
    found, representative, members, founded = engine.shape(story_id)
    source, article_id = split_key(representative)
    return StoryUpdate(found, source, article_id, members, founded)

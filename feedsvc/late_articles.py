"""Late articles: which pending articles the round's window has left, and how they are placed.

An article more than a window older than the newest stored one would meet a
window that moved past its time and leave it at once. A round places such
articles first, apart (``assign``): in segments, each by an engine of its own
that replays the stored articles around them and places each between what
it meets and what it does not. Pure: the order of things, no I/O.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime, timedelta
from typing import Literal

from feedsvc.placing import Text, text_order

# The engine that places late articles holds this many windows: a window before
# the article being placed and a window after it.
LATE_WINDOWS = 2

# A segment of late articles spans this many windows at most: its engine restores the
# stored decisions of two more (an article's story id each, small beside the engine's
# two windows of analysed texts), and a split replays the two windows segments share.
SEGMENT_WINDOWS = 4


def late_before(newest: datetime | None, now: datetime, window: timedelta) -> datetime | None:
    """Pending articles published before this are late (None: there is no stored story).

    The engine's clock is the newest stored article's time (``newest``, not
    after ``now``); an article more than a window older left its window the
    moment it was placed there, met none of the stored stories of its own
    time, and could not even be met by the next article of its time. A
    new outlet's archive, a server down for days or a folder of old reports
    is placed apart (``late_segments``), among the stored stories of its time.
    """
    return None if newest is None else min(newest, now) - window


def late_segments(
    pending: Iterable[Text], before: datetime, window: timedelta, size: int
) -> Iterator[list[Text]]:
    """The late articles at the head of ``pending`` (oldest first), in segments placed together.

    A segment's articles follow each other by two windows at most (what each
    meets, a window either side, overlaps the next one's), a segment spans
    ``SEGMENT_WINDOWS`` windows at most and holds ``size`` articles at most.
    The span bounds what a segment's engine restores and replays (the stored
    decisions of six windows at most, not those of an archive's months), and
    a stored article is replayed by two segments at most (their first articles
    are more than four windows apart), and by one more for each ``size`` late
    articles within two windows of it. The late articles end at the first one
    published at or after ``before``.
    """
    run: list[Text] = []
    for article in pending:
        if article.published >= before:
            break
        if run and (
            article.published - run[-1].published > 2 * window
            or article.published - run[0].published > SEGMENT_WINDOWS * window
            or len(run) >= size
        ):
            yield run
            run = []
        run.append(article)
    if run:
        yield run


def sweep(
    stored: Iterable[Text], late: Sequence[Text], window: timedelta, size: int
) -> Iterator[tuple[Literal["replay", "place"], list[Text]]]:
    """Interleave the stored articles to replay and the late ones to place, oldest first.

    A late article is placed once every stored article published up to a
    window after it is replayed, and before any later one: in an engine of
    ``LATE_WINDOWS`` windows, it meets the stored articles from a window
    before it to a window after it, and nothing older has left. Each step
    holds ``size`` articles at most.
    """
    waiting = deque(sorted(late, key=text_order))
    step: list[Text] = []
    kind: Literal["replay", "place"] = "replay"
    for article in stored:
        while waiting and waiting[0].published + window < article.published:
            if kind != "place" or len(step) >= size:
                if step:
                    yield kind, step
                kind, step = "place", []
            step.append(waiting.popleft())
        if kind != "replay" or len(step) >= size:
            if step:
                yield kind, step
            kind, step = "replay", []
        step.append(article)
    if step:
        yield kind, step
    for start in range(0, len(waiting), size):
        yield "place", list(waiting)[start : start + size]

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

# A segment of late articles spans this many reaches (four windows) at most: its engine
# restores the stored decisions of two reaches more (an article's story id each, small
# beside the engine's window of analysed texts), and a split replays what segments share.
SEGMENT_REACHES = 8


def late_reach(window: timedelta) -> timedelta:
    """How far before and after a late article its engine's stored articles go: half a window.

    The engine then holds one window, as the round's own does, so placing late
    articles needs no more memory than a round (a window either side made the
    benchmark's 10,000 feeds peak at 371 MB when 193 articles came late, 284
    with half a window; its first update peaks at 265). Half a window either
    side is more than the time prior lets a story reach: an
    article joins at a score of 0.85, a gap of 5.6 hours past the graces
    (three hours between full texts, a day between a bare date and a time), so
    about 1.2 days at most; only two bare dates may join across 2.2 days.
    """
    return window / 2


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
    pending: Iterable[Text], before: datetime, reach: timedelta, size: int
) -> Iterator[list[Text]]:
    """The late articles at the head of ``pending`` (oldest first), in segments placed together.

    A segment's articles follow each other by two reaches at most (what each
    meets, a reach either side, overlaps the next one's), a segment spans
    ``SEGMENT_REACHES`` reaches at most and holds ``size`` articles at most.
    The span bounds what a segment's engine restores and replays (the stored
    decisions of ten reaches at most, not those of an archive's months), and
    a stored article is replayed by two segments at most (their first articles
    are more than eight reaches apart), and by one more for each ``size`` late
    articles within two reaches of it. The late articles end at the first one
    published at or after ``before``.
    """
    run: list[Text] = []
    for article in pending:
        if article.published >= before:
            break
        if run and (
            article.published - run[-1].published > 2 * reach
            or article.published - run[0].published > SEGMENT_REACHES * reach
            or len(run) >= size
        ):
            yield run
            run = []
        run.append(article)
    if run:
        yield run


def sweep(
    stored: Iterable[Text],
    late: Sequence[Text],
    reach: timedelta,
    size: int,
    *,
    replay_size: int | None = None,
) -> Iterator[tuple[Literal["replay", "place"], list[Text]]]:
    """Interleave the stored articles to replay and the late ones to place, oldest first.

    A late article is placed once every stored article published up to a
    ``reach`` after it is replayed, and before any later one: in an engine
    holding two reaches whose clock goes to a reach after the article
    (``placing.Placer.restore``), it meets the stored articles from a reach
    before it to a reach after it, and nothing older. Each step to place
    holds ``size`` articles at most, each step to replay ``replay_size``
    (``size`` if not given): how the articles are split into steps changes
    only how they travel, not the order in which the engine meets them.
    """
    replay_size = size if replay_size is None else replay_size
    waiting = deque(sorted(late, key=text_order))
    step: list[Text] = []
    kind: Literal["replay", "place"] = "replay"
    for article in stored:
        while waiting and waiting[0].published + reach < article.published:
            if kind != "place" or len(step) >= size:
                if step:
                    yield kind, step
                kind, step = "place", []
            step.append(waiting.popleft())
        if kind != "replay" or len(step) >= replay_size:
            if step:
                yield kind, step
            kind, step = "replay", []
        step.append(article)
    if step:
        yield kind, step
    for start in range(0, len(waiting), size):
        yield "place", list(waiting)[start : start + size]

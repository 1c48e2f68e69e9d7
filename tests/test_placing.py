"""The engine's side of a story round, in a process of its own: what it loads, how it fails."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from feedsvc.companion import Companion
from feedsvc.placing import (
    LocalPlacer,
    Placer,
    RemotePlacer,
    StoryRoundError,
    serve,
)
from feedsvc.stories import StoryParams, StoryState
from feedsvc.types import ArticleText

T0 = datetime(2031, 9, 1, 6, 0, tzinfo=UTC)


def text(n: int, outlet: str, title: str) -> ArticleText:
    body = f"{title}. Officials said the work would take several weeks."
    when = T0 + timedelta(hours=n)
    return ArticleText(outlet, f"a{n}", f"https://{outlet}.test/{n}", title, body, when, f"h{n}")


BATCH = [
    text(0, "north", "Storm surge floods the harbour road at Kellmouth"),
    text(1, "south", "Kellmouth harbour road under water after storm surge"),
    text(2, "east", "Council approves new library for Brackley"),
]


def mapped_files(pid: int) -> str:
    return Path(f"/proc/{pid}/maps").read_text()


@pytest.fixture
def remote() -> Iterator[tuple[RemotePlacer, Companion]]:
    companion = Companion(serve, StoryParams(), ("north", "south", "east"), None)
    yield RemotePlacer(companion), companion
    companion.close()


def test_the_engine_process_places_as_this_one_and_never_loads_the_store(
    remote: tuple[RemotePlacer, Companion],
) -> None:
    placer, companion = remote
    local = LocalPlacer(Placer(StoryParams(), ("north", "south", "east"), None))
    for side in (placer, local):
        since = side.start(None, T0, T0)
        assert since == T0 - StoryParams().window  # no snapshot: the window is replayed
        side.restore(StoryState())
        side.send_place(BATCH)
    there, here = placer.placed(), local.placed()
    assert there == here
    assert there.counts.assigned == 3 and there.counts.new_stories == 2  # the floods are one
    assert companion.pid is not None
    maps = mapped_files(companion.pid)
    assert "sqlalchemy" not in maps  # SQLAlchemy's compiled modules would be mapped here


def test_an_error_in_the_engine_process_is_raised_here(
    remote: tuple[RemotePlacer, Companion],
) -> None:
    placer, _ = remote
    placer.send_place(BATCH)  # before start: the placer there has no engine
    with pytest.raises(RuntimeError, match="must start"):
        placer.placed()
    assert placer.start(None, T0, T0) is not None  # and it serves on


def test_a_dead_engine_process_is_a_clear_error_not_a_hang(
    remote: tuple[RemotePlacer, Companion],
) -> None:
    placer, companion = remote
    placer.start(None, T0, T0)
    assert companion.pid is not None
    os.kill(companion.pid, signal.SIGKILL)
    with pytest.raises(StoryRoundError, match="ended unexpectedly"):
        placer.restore(StoryState())
        placer.send_place(BATCH)
        placer.placed()


def test_a_batch_sent_before_the_last_is_answered_waits_its_turn(
    remote: tuple[RemotePlacer, Companion],
) -> None:
    # the round sends the next batch (and the closing snapshot request) before
    # it takes the outcome of the one being placed: outcomes come in order,
    # alike here and there, and a third request would be a caller's mistake
    placer, _ = remote
    local = LocalPlacer(Placer(StoryParams(), ("north", "south", "east"), None))
    outcomes = []
    for side in (placer, local):
        side.start(None, T0, T0)
        side.restore(StoryState())
        side.send_place(BATCH[:2])
        side.send_place(BATCH[2:])
        outcomes.append((side.placed(), side.placed()))
    (first, second), (here_first, here_second) = outcomes
    assert (first, second) == (here_first, here_second)
    assert first.counts.assigned == 2 and first.counts.new_stories == 1
    assert second.counts.assigned == 1 and second.counts.new_stories == 1
    placer.send_place([text(3, "west", "Brackley library plans approved")])
    placer.send_finish("token")  # no snapshot path there: it answers at once
    with pytest.raises(RuntimeError, match="already wait"):
        placer.send_place(BATCH)
    placer.placed()
    placer.finished()
    with pytest.raises(RuntimeError, match="no request"):
        placer.finished()

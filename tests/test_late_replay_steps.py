"""A late pass replays the stored span in small steps: how they travel, not what is decided.

The stored articles around late ones go to the late engine ``REPLAY_BATCH``
at a time while the late ones are placed ``batch`` at a time; at 10,000
feeds, replay steps of 1,000 texts and their pickled copy kept the main
process 11 MB higher for the whole pass.
"""

from __future__ import annotations

import shutil
import sqlite3
from contextlib import ExitStack
from pathlib import Path

import pytest

from feedsvc import assign
from feedsvc.assign import assign_stories
from feedsvc.late_articles import sweep
from feedsvc.placing import LocalPlacer, Text
from feedsvc.workers import RenewingPool
from tests.test_story_replay import (
    NOW,
    OUTLETS,
    PARAMS,
    WINDOW,
    daily_reports,
    event_words,
    open_store,
    report,
    save,
)


def test_replay_steps_split_the_stored_articles_and_nothing_else() -> None:
    stored = [report("harbour", n, day, event_words(0)) for n, day in enumerate(range(10))]
    late = [report("coast", 100 + n, day, event_words(0)) for n, day in enumerate([1.5, 2.5, 9.0])]
    whole = list(sweep(stored, late, WINDOW, 4))
    small = list(sweep(stored, late, WINDOW, 4, replay_size=1))
    assert [a.id for _, step in small for a in step] == [a.id for _, step in whole for a in step]
    assert [step for kind, step in small if kind == "place"] == [
        step for kind, step in whole if kind == "place"
    ]
    assert {len(step) for kind, step in small if kind == "replay"} == {1}
    assert max(len(step) for kind, step in whole if kind == "replay") == 4


@pytest.mark.parametrize("processes", [False, True], ids=["here", "in-a-process"])
def test_late_articles_are_placed_alike_whatever_the_replay_steps(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, processes: bool
) -> None:
    """Late reports of three days, one replay step of all the span or one a stored article."""
    daily = daily_reports()
    late = [report("coast", 1000 + n, 1.2 + 0.05 * n, event_words(1 + n % 3)) for n in range(9)]
    original = tmp_path / "db.sqlite3"
    with open_store(original) as store:
        save(store, daily)
        assign_stories(store, PARAMS, NOW, sources=OUTLETS)
        save(store, late)
    steps: list[int] = []
    send_replay = LocalPlacer.send_replay

    def counted(self: LocalPlacer, known: list[Text]) -> None:
        steps.append(len(known))
        send_replay(self, known)

    monkeypatch.setattr(LocalPlacer, "send_replay", counted)
    rows = {}
    for replay in (1, assign.BATCH):
        monkeypatch.setattr(assign, "REPLAY_BATCH", replay)
        database = tmp_path / f"replay-{replay}.sqlite3"
        shutil.copyfile(original, database)
        with open_store(database) as store, ExitStack() as stack:
            pool = stack.enter_context(RenewingPool(1)) if processes else None
            result = assign_stories(store, PARAMS, NOW, sources=OUTLETS, pool=pool)
        assert result.late == len(late)
        rows[replay] = story_rows(database)
    assert rows[1] == rows[assign.BATCH]
    joined = [r for r in rows[1][0] if r[0] == "coast" and r[3] != "new"]
    assert len(joined) > len(late) // 2  # they met their days' stories: not a vacuous match
    if not processes:
        assert max(steps) > 1 and steps.count(1) > len(steps) // 2


def story_rows(database: Path) -> tuple[list[tuple[object, ...]], ...]:
    """Every stored decision, story and alias, in key order."""
    with sqlite3.connect(database) as connection:
        return tuple(
            connection.execute(f"SELECT * FROM {table} ORDER BY 1, 2").fetchall()
            for table in ("story_members", "stories", "story_aliases")
        )

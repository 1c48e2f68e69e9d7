"""The engine pickles, and an unpickled engine goes on deciding exactly as the original.

The service may snapshot the engine's window between cron runs instead of
replaying the window; each run is a new process (with its own string-hash
seed), so the decisions must not depend on the process either.
"""

from __future__ import annotations

import os
import pickle
import random
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from feedsvc.stories import Decision, StoryEngine, StoryItem, StoryState

T0 = datetime(2031, 9, 1, 6, 0, tzinfo=UTC)
SYLLABLES = ["ka", "lo", "mi", "ren", "tas", "vel", "dor", "an", "is", "mur", "pe", "sko"]


def fictional_items(count: int, seed: int = 7) -> list[StoryItem]:
    """Fictional news: stories of a few items sharing topic words and names, over days."""
    rng = random.Random(seed)
    vocab = sorted({"".join(rng.choices(SYLLABLES, k=rng.randint(2, 3))) for _ in range(900)})
    stories = []
    for _ in range(count // 4 + 1):
        topic = rng.sample(vocab, 6)
        names = [w.capitalize() for w in rng.sample(vocab, 2)]
        stories.append((topic, names, str(rng.randint(2, 900))))
    items = []
    for n in range(count):
        topic, names, number = stories[min(len(stories) - 1, n // 4 + rng.randint(-1, 1))]
        words = rng.sample(topic, 4) + rng.sample(vocab, 3)
        title = " ".join(words).capitalize()
        body = f"Officials in {names[0]} said {number} {' '.join(rng.sample(topic, 5))}, "
        body += f"according to {names[1]} and {' '.join(rng.sample(vocab, 8))}."
        when = T0 + timedelta(minutes=37 * n)
        items.append(StoryItem(f"item-{n}", title, body, f"outlet-{rng.randrange(9)}", when))
    return items


def run(engine: StoryEngine, items: list[StoryItem]) -> list[Decision]:
    return [engine.add(item) for item in items]


def test_an_unpickled_engine_decides_as_the_original() -> None:
    items = fictional_items(240)
    first, rest = items[:150], items[150:]
    original = StoryEngine()
    run(original, first)
    copy = pickle.loads(pickle.dumps(original))
    assert isinstance(copy, StoryEngine)
    assert copy.state() == original.state()
    assert run(copy, rest) == run(original, rest)
    assert copy.state() == original.state()
    assert copy.active_stories() == original.active_stories()
    # the window moved on (the items span six days): both evicted the oldest items
    assert "item-0" not in copy.state().assignments
    assert len(copy.state().assignments) < len(items)


def test_an_engine_without_its_caches_decides_as_before() -> None:
    items = fictional_items(240)
    first, rest = items[:150], items[150:]
    kept, dropped = StoryEngine(), StoryEngine()
    run(kept, first)
    run(dropped, first)
    assert len(pickle.dumps(dropped)) == len(pickle.dumps(kept))  # caches are never pickled
    dropped.drop_caches()
    assert run(dropped, rest) == run(kept, rest)
    assert dropped.state() == kept.state()


def test_the_engine_joins_and_merges_in_these_items() -> None:
    decisions = run(StoryEngine(), fictional_items(240))
    layers = {d.layer for d in decisions}
    assert {"new", "same-event"} <= layers


def test_an_engine_pickled_here_decides_the_same_in_another_process(tmp_path: Path) -> None:
    items = fictional_items(200, seed=11)
    first, rest = items[:120], items[120:]
    engine = StoryEngine()
    run(engine, first)
    snapshot = tmp_path / "engine.pickle"
    snapshot.write_bytes(pickle.dumps(engine))
    expected = run(engine, rest)
    items_file = tmp_path / "rest.pickle"
    items_file.write_bytes(pickle.dumps(rest))
    script = (
        "import pickle, sys\n"
        "engine = pickle.loads(open(sys.argv[1], 'rb').read())\n"
        "rest = pickle.loads(open(sys.argv[2], 'rb').read())\n"
        "sys.stdout.buffer.write(pickle.dumps([engine.add(i) for i in rest]))\n"
    )
    env = dict(os.environ, PYTHONHASHSEED="12345")
    out = subprocess.run(
        [sys.executable, "-c", script, str(snapshot), str(items_file)],
        check=True, capture_output=True, env=env,
    )  # fmt: skip
    assert pickle.loads(out.stdout) == expected


def test_what_a_snapshot_leaves_out_is_rebuilt_as_it_was() -> None:
    # the inverted indexes, the expiry heap and one-member stories are not
    # pickled but rebuilt from the members: they must come back identical
    # (postings in the same order, which ties in the look-ups follow)
    engine = StoryEngine()
    run(engine, fictional_items(240))
    index = engine._index
    assert any(len(r.members) > 1 for r in index.stories.values())
    assert any(r.alone is not None for r in index.stories.values())
    state = index.__getstate__()
    assert not {"_postings", "_story_postings", "_expiry"} & set(state)
    assert all(r.alone is None for r in state["stories"].values())  # type: ignore[attr-defined]
    copy = pickle.loads(pickle.dumps(engine))._index
    assert copy.stories == index.stories
    assert copy._postings == index._postings
    assert all(list(copy._postings[t]) == list(p) for t, p in index._postings.items())
    assert copy._story_postings == index._story_postings
    assert sorted(copy._expiry) == sorted(index._expiry)
    for story, rec in index.stories.items():
        if rec.alone is not None:  # shared with its member, as before
            member = next(iter(copy.stories[story].members))
            assert copy.stories[story].alone is copy.members[member].profile.vector


def rejoined(engine: StoryEngine, members_per_part: int) -> StoryEngine:
    """The engine pickled part by part, as a snapshot writes it, and put back together."""
    parts = [pickle.dumps(p) for p in engine.snapshot_parts(members_per_part)]
    return StoryEngine.from_snapshot_parts(pickle.loads(p) for p in parts)


def test_an_engine_pickled_in_parts_comes_back_whole_and_decides_alike() -> None:
    items = fictional_items(240)
    first, rest = items[:150], items[150:]
    original = StoryEngine()
    run(original, first)
    index = original._index
    members = len(index.members)
    slices = list(index.member_slices(16))
    assert [len(s) for s in slices[:-1]] == [16] * (len(slices) - 1) and 0 < len(slices[-1]) <= 16
    assert [k for s in slices for k, _ in s] == list(index.members)  # in insertion order
    copy = rejoined(original, 16)
    assert len(original._index.members) == members  # the original lost nothing to its shell
    whole = pickle.loads(pickle.dumps(original))._index
    assert copy._index.stories == whole.stories
    for name in ("_postings", "_story_postings"):  # the same, and in the same order
        mine, theirs = getattr(copy._index, name), getattr(whole, name)
        assert mine == theirs and all(list(mine[t]) == list(p) for t, p in theirs.items())
    assert sorted(copy._index._expiry) == sorted(whole._expiry)
    assert copy.state() == original.state()
    assert run(copy, rest) == run(original, rest)
    assert copy.state() == original.state()


def test_an_empty_engine_pickles_in_parts_and_only_a_shell_takes_members() -> None:
    empty = rejoined(StoryEngine(), 16)
    items = fictional_items(40)
    assert run(empty, items) == run(StoryEngine(), items)
    with pytest.raises(ValueError, match="shell"):
        empty._index.take_members([])


def test_a_one_member_story_keeps_its_restored_founding_time_through_a_snapshot() -> None:
    """A replayed member whose founder was not replayed: its story was founded a day earlier.

    Pickling leaves a one-member story's record out and makes it again from
    its member; the founding time must come back too, since it decides which
    of two merged stories keeps its id.
    """
    title, body = "Quarry choir wins regional prize", "The Brell quarry choir sang at Ostwick hall."
    first = StoryItem("item-alone", title, body, "outlet-3", T0)
    story, founded = "story-from-the-store", T0 - timedelta(days=1)
    original = StoryEngine(state=StoryState({first.id: story}, {}, {story: founded}))
    run(original, [first, *fictional_items(40)])
    assert original.shape(story)[2:] == (1, founded)
    for copy in (pickle.loads(pickle.dumps(original)), rejoined(original, 16)):
        assert copy.shape(story) == original.shape(story)
        assert copy._index.stories == original._index.stories
        assert not copy._index._founded  # every kept time was taken by its story

"""The story engine's snapshot: used when it matches the store, else ignored; same decisions."""

from __future__ import annotations

import pickle
import shutil
from concurrent.futures import Executor
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from feedsvc.assign import AssignResult, assign_stories
from feedsvc.config_types import SourceConfig
from feedsvc.store import Store
from feedsvc.stories import StoryParams
from feedsvc.story_snapshot import SNAPSHOT_KEY, load_snapshot
from feedsvc.types import Article, FetchIntent
from feedsvc.workers import RenewingPool

T0 = datetime(2031, 9, 1, 6, 0, tzinfo=UTC)
OUTLETS = ("north", "south", "east")
# (hours after T0, outlet, title): two events told by several outlets, and unrelated items.
WIRE = [
    (0, "north", "Storm surge floods the harbour road at Kellmouth"),
    (1, "south", "Kellmouth harbour road under water after storm surge"),
    (2, "east", "Council approves new library for Brackley"),
    (3, "north", "Brackley library plan approved by council"),
    (5, "south", "Kellmouth clears the harbour road as the storm surge recedes"),
    (6, "east", "Ferry timetable changes for the winter season"),
    (8, "north", "Winter ferry timetable published"),
    (9, "south", "Orchard festival returns to Pennick"),
]


def article(n: int, hours: float, outlet: str, title: str) -> Article:
    text = f"{title}. Reported by our {outlet} desk."
    return Article(
        source=outlet, id=f"{outlet}-{n}", url=f"https://{outlet}.test/{n}", title=title,
        summary="", content_html=f"<p>{text}</p>", text=text,
        published=T0 + timedelta(hours=hours), updated=None, date_estimated=False,
        content_hash=f"h{n}",
    )  # fmt: skip


def open_store(directory: Path) -> Store:
    store = Store.open(f"sqlite:///{directory / 'db.sqlite3'}")
    configs = [SourceConfig(o, o.title(), "feed", url=f"https://{o}.test/") for o in OUTLETS]
    store.sync_sources(configs, T0)
    return store


def ingest(store: Store, rows: list[tuple[int, float, str, str]]) -> None:
    for outlet in OUTLETS:
        batch = [article(*row) for row in rows if row[2] == outlet]
        if batch:
            store.save_batch(outlet, batch, FetchIntent(outlet, T0, "ok", T0))


def rounds(
    directory: Path, *, keep_snapshot: bool, pool: Executor | None = None
) -> tuple[list[AssignResult], dict[str, str]]:
    """Two story rounds (the second with newer articles); the stories of every article."""
    rows = [(n, *item) for n, item in enumerate(WIRE)]
    snapshot = directory / "stories.snapshot"
    results = []
    with open_store(directory) as store:
        for part in (rows[:5], rows[5:]):
            ingest(store, part)
            if not keep_snapshot:
                snapshot.unlink(missing_ok=True)
            now = T0 + timedelta(hours=10)
            results.append(
                assign_stories(
                    store, StoryParams(), now, sources=OUTLETS, snapshot=snapshot, pool=pool
                )
            )
        stories = {
            f"{o}-{n}": store.story_of(o, f"{o}-{n}") or "" for n, (_, o, _) in enumerate(WIRE)
        }
    return results, stories


def test_a_snapshot_continues_the_window_with_the_same_decisions(tmp_path: Path) -> None:
    (tmp_path / "kept").mkdir()
    (tmp_path / "rebuilt").mkdir()
    kept, with_snapshot = rounds(tmp_path / "kept", keep_snapshot=True)
    rebuilt, without = rounds(tmp_path / "rebuilt", keep_snapshot=False)
    assert [r.rebuilt for r in kept] == [True, False]
    assert [r.rebuilt for r in rebuilt] == [True, True]
    assert with_snapshot == without
    assert with_snapshot["north-0"] == with_snapshot["south-1"] == with_snapshot["south-4"]
    assert with_snapshot["east-5"] == with_snapshot["north-6"]
    assert with_snapshot["south-7"] not in {with_snapshot["north-0"], with_snapshot["east-5"]}


def test_an_engine_in_a_process_of_its_own_decides_and_snapshots_alike(tmp_path: Path) -> None:
    (tmp_path / "here").mkdir()
    (tmp_path / "there").mkdir()
    here, local = rounds(tmp_path / "here", keep_snapshot=True)
    with RenewingPool(2) as pool:
        there, remote = rounds(tmp_path / "there", keep_snapshot=True, pool=pool)
        assert pool.processes() == []  # the pool's workers were not kept beside the engine
    assert [r.rebuilt for r in there] == [True, False]  # its snapshot is used by the next round
    assert there == here
    assert remote == local
    here_snapshot, there_snapshot = (
        load_snapshot(d / "stories.snapshot", StoryParams(), OUTLETS, token_of(d))
        for d in (tmp_path / "here", tmp_path / "there")
    )
    assert here_snapshot is not None and there_snapshot is not None
    assert there_snapshot.state() == here_snapshot.state()


def token_of(directory: Path) -> str | None:
    with open_store(directory) as store:
        return store.service_state(SNAPSHOT_KEY)


def second_round(directory: Path, rows: list[tuple[int, float, str, str]]) -> AssignResult:
    with open_store(directory) as store:
        ingest(store, rows)
        return assign_stories(
            store,
            StoryParams(),
            T0 + timedelta(hours=40),
            sources=OUTLETS,
            snapshot=directory / "stories.snapshot",
        )


@pytest.fixture
def after_one_round(tmp_path: Path) -> Path:
    with open_store(tmp_path) as store:
        ingest(store, [(n, *item) for n, item in enumerate(WIRE[:5])])
        first = assign_stories(
            store, StoryParams(), T0, sources=OUTLETS, snapshot=tmp_path / "stories.snapshot"
        )
    assert first.rebuilt and (tmp_path / "stories.snapshot").is_file()
    return tmp_path


NEWER = [(20, 12.0, "east", "Pennick orchard festival draws record crowds")]


def test_the_snapshot_is_used_when_everything_matches(after_one_round: Path) -> None:
    assert not second_round(after_one_round, NEWER).rebuilt


def test_a_snapshot_from_another_round_is_ignored(after_one_round: Path) -> None:
    old = after_one_round / "old.snapshot"
    shutil.copy(after_one_round / "stories.snapshot", old)
    assert not second_round(after_one_round, NEWER).rebuilt  # writes a new token
    shutil.copy(old, after_one_round / "stories.snapshot")
    later = [(21, 13.0, "north", "Record crowds at the Pennick orchard festival")]
    assert second_round(after_one_round, later).rebuilt


def test_an_unreadable_snapshot_is_ignored(after_one_round: Path) -> None:
    path = after_one_round / "stories.snapshot"
    path.write_bytes(path.read_bytes()[:200])
    assert second_round(after_one_round, NEWER).rebuilt


def test_a_snapshot_cut_between_its_parts_is_ignored(after_one_round: Path) -> None:
    # every part is a whole pickle: a file that ends after one of them (a
    # full disk) must still read as incomplete, not as a smaller window
    path = after_one_round / "stories.snapshot"
    ends = []
    with path.open("rb") as handle:
        while pickle.load(handle) is not None:
            ends.append(handle.tell())
    assert len(ends) >= 3  # the header, the engine without its members, its members
    path.write_bytes(path.read_bytes()[: ends[-1]])
    assert second_round(after_one_round, NEWER).rebuilt


def test_other_parameters_or_sources_ignore_the_snapshot(after_one_round: Path) -> None:
    with open_store(after_one_round) as store:
        ingest(store, NEWER)
        snapshot = after_one_round / "stories.snapshot"
        params = replace(StoryParams(), window=timedelta(days=2))
        assert assign_stories(store, params, T0, sources=OUTLETS, snapshot=snapshot).rebuilt
        ingest(store, [(22, 14.0, "south", "Orchard festival ends")])
        fewer = OUTLETS[:2]
        assert assign_stories(store, params, T0, sources=fewer, snapshot=snapshot).rebuilt


def test_a_late_article_is_placed_with_the_snapshot_as_a_rebuild_places_it(
    after_one_round: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    # The snapshot has seen articles up to T0+5h; these are a day and more older.
    late = [
        (23, -20.0, "east", "Kellmouth prepares sandbags before the storm"),
        (24, -26.0, "south", "Storm surge floods the harbour road at Kellmouth"),  # a reprint
    ]
    rebuilt = tmp_path_factory.mktemp("rebuilt")
    shutil.copytree(after_one_round, rebuilt, dirs_exist_ok=True)
    (rebuilt / "stories.snapshot").unlink()
    assert not second_round(after_one_round, late).rebuilt
    assert second_round(rebuilt, late).rebuilt
    stories = []
    for directory in (after_one_round, rebuilt):
        with open_store(directory) as store:
            rows = [(n, *item) for n, item in enumerate(WIRE[:5])] + late
            stories.append({f"{o}-{n}": store.story_of(o, f"{o}-{n}") for n, _, o, _ in rows})
    assert stories[0] == stories[1]
    assert stories[0]["south-24"] == stories[0]["north-0"]  # it met the snapshot's window


def test_a_round_with_nothing_to_place_still_removes_a_killed_snapshot_write(
    tmp_path: Path,
) -> None:
    left = tmp_path / ".stories.snapshot.4242.zz9y8x.tmp"  # its writer was killed mid-write
    left.write_bytes(b"half a pickle")
    with open_store(tmp_path) as store:
        result = assign_stories(store, StoryParams(), T0, snapshot=tmp_path / "stories.snapshot")
    assert result == AssignResult()
    assert not left.exists()

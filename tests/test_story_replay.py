"""A rebuilt window replays a window before the newest stored article at most, however late."""

from __future__ import annotations

import gc
import random
import shutil
from collections.abc import Callable, Iterable
from contextlib import ExitStack
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from feedsvc import assign, placing
from feedsvc.assign import assign_stories, explain_pair, restored_engine
from feedsvc.config_types import SourceConfig
from feedsvc.late_articles import late_before, late_reach, late_segments, sweep
from feedsvc.placing import (
    add_in_order,
    item_key,
    replay_from,
    story_item,
)
from feedsvc.store import Store
from feedsvc.stories import StoryEngine, StoryItem, StoryParams
from feedsvc.story_snapshot import SNAPSHOT_KEY, load_snapshot
from feedsvc.types import Article, FetchIntent
from feedsvc.workers import RenewingPool
from tests.support.bridge import BRIDGE, bar_between, hand_model
from tests.support.bridge import T0 as BRIDGE_T0

T0 = datetime(2031, 3, 1, 8, 0, tzinfo=UTC)
DAYS = 21
OUTLETS = ("harbour", "valley", "coast")
PARAMS = StoryParams()
NOW = T0 + timedelta(days=DAYS)
SYLLABLES = ("bra", "kel", "mon", "tiv", "sar", "dul", "pen", "ros", "gav", "lim", "ter", "quo")
WINDOW = PARAMS.window


def test_replay_starts_a_window_before_the_newest_article_at_the_earliest() -> None:
    newest = T0 + timedelta(days=20)
    late = T0 + timedelta(days=1) - WINDOW
    assert replay_from(late, newest, NOW, WINDOW) == newest - WINDOW
    newer = newest + timedelta(hours=2) - WINDOW  # pending articles newer than any stored
    assert replay_from(newer, newest, NOW, WINDOW) == newer
    assert replay_from(late, None, NOW, WINDOW) == late  # nothing stored in a story yet
    future = NOW + timedelta(days=5)  # a stored date past the clock counts as now
    assert replay_from(late, future, NOW, WINDOW) == NOW - WINDOW


def test_late_articles_come_in_segments_before_the_first_on_time() -> None:
    newest = T0 + timedelta(days=20)
    before = late_before(newest, NOW, WINDOW)
    assert before == newest - WINDOW
    assert late_before(None, NOW, WINDOW) is None  # nothing stored: nothing is late
    assert late_before(NOW + timedelta(days=5), NOW, WINDOW) == NOW - WINDOW  # clamped to now
    assert before is not None
    days = [0.0, 5.9, 6.0, 6.1, 12.2, 16.0, 16.99, 17.0, 17.5, 1.0]
    pending = [report("coast", n, day, event_words(0)) for n, day in enumerate(days)]
    segments = list(late_segments(pending, before, WINDOW, 3))
    assert [[a.id for a in segment] for segment in segments] == [
        ["coast-0", "coast-1", "coast-2"],  # two windows apart at most, three at most
        ["coast-3"],
        ["coast-4", "coast-5", "coast-6"],  # 12.2 is more than two windows after 6.1
        # day 17 is a window before day 20: on time, and all after it
    ]
    assert list(late_segments([], before, WINDOW, 3)) == []
    # a late article's engine holds a reach either side of it: one window, as the round's
    assert 2 * late_reach(WINDOW) == WINDOW


def test_a_late_article_is_placed_between_what_it_meets_and_what_it_does_not() -> None:
    """Each is placed after the stored articles up to a window after it, before the rest."""
    stored = [report("harbour", n, day, event_words(0)) for n, day in enumerate(range(10))]
    late = [report("coast", 100 + n, day, event_words(0)) for n, day in enumerate([1.5, 2.5, 9.0])]
    steps = [(kind, [a.id for a in articles]) for kind, articles in sweep(stored, late, WINDOW, 2)]
    assert steps == [
        ("replay", ["harbour-0", "harbour-1"]),
        ("replay", ["harbour-2", "harbour-3"]),
        ("replay", ["harbour-4"]),  # day 4: up to a window after day 1.5
        ("place", ["coast-100"]),
        ("replay", ["harbour-5"]),
        ("place", ["coast-101"]),
        ("replay", ["harbour-6", "harbour-7"]),
        ("replay", ["harbour-8", "harbour-9"]),
        ("place", ["coast-102"]),  # nothing stored after it: placed at the end
    ]
    assert [kind for kind, _ in sweep([], late, WINDOW, 2)] == ["place", "place"]


def event_words(day: int) -> list[str]:
    """Made-up words of the day's event: no two days share one."""
    rng = random.Random(f"replay-{day}")
    made = {"".join(rng.sample(SYLLABLES, 3)) for _ in range(12)}
    return sorted(made)[:8]


def report(outlet: str, n: int, day: float, words: list[str]) -> Article:
    title = f"{words[0].title()} {words[1]} {words[2]} at {words[3].title()} {words[4]}"
    text = f"{title}. The {words[5]} of {words[6].title()} {words[7]} said so today."
    return Article(
        source=outlet, id=f"{outlet}-{n}", url=f"https://{outlet}.test/{n}", title=title,
        summary="", content_html=f"<p>{text}</p>", text=text,
        published=T0 + timedelta(days=day), updated=None, date_estimated=False,
        content_hash=f"{outlet}-{n}",
    )  # fmt: skip


def daily_reports(days: Iterable[int] = range(DAYS)) -> list[Article]:
    """Two reports of each day's event, harbour's then valley's a tenth of a day later."""
    return [
        report(OUTLETS[n % 2], n, day + 0.1 * (n % 2), event_words(day))
        for day in days
        for n in (2 * day, 2 * day + 1)
    ]


def save(store: Store, articles: list[Article]) -> None:
    for outlet in OUTLETS:
        mine = [a for a in articles if a.source == outlet]
        if mine:
            store.save_batch(outlet, mine, FetchIntent(outlet, NOW, "ok", NOW))


def open_store(path: Path | str, names: tuple[str, ...] = OUTLETS) -> Store:
    """The store at ``path`` (a SQLite file) or at a database URL, with ``names`` configured."""
    store = Store.open(path if isinstance(path, str) else f"sqlite:///{path}")
    configs = [SourceConfig(o, o.title(), "feed", url=f"https://{o}.test/") for o in names]
    store.sync_sources(configs, T0)
    return store


@pytest.mark.parametrize(
    ("batch", "processes", "kept"),
    [(1000, False, False), (3, False, False), (3, True, False), (1000, False, True)],
    ids=["one-batch", "batches-of-3", "batches-of-3-in-a-process", "with-the-snapshot"],
)
def test_late_and_recent_reports_meet_their_events_with_or_without_the_snapshot(
    tmp_path: Path, batch: int, processes: bool, kept: bool
) -> None:
    """Three weeks of daily events are stored; then reports dated day 1 and day 18 arrive.

    The window is replayed ``batch`` articles at a time (a message each when
    the engine works in a process of its own), or the snapshot serves as it
    is: the same decisions. The report of day 1, older than the window, is
    placed apart among the stories of its own days (``late_articles``): it
    joins day 1's story, which the round's window left long ago.
    """
    database, snapshot = tmp_path / "db.sqlite3", tmp_path / "stories.snapshot"
    daily = daily_reports()
    late = [
        report("coast", 1001, 1.3, event_words(1)),  # its event left the window long ago
        report("coast", 1018, 18.4, event_words(18)),  # its event is still in the window
    ]
    with open_store(database) as store:
        save(store, daily)
        first = assign_stories(store, PARAMS, NOW, sources=OUTLETS, snapshot=snapshot)
        assert first.assigned == len(daily)
        save(store, late)
    reference = tmp_path / "reference.sqlite3"
    shutil.copyfile(database, reference)

    if not kept:
        snapshot.unlink()  # as after a change of sources: the round rebuilds the window
    with open_store(database) as store, ExitStack() as stack:
        pool = stack.enter_context(RenewingPool(1)) if processes else None
        result = assign_stories(
            store, PARAMS, NOW, sources=OUTLETS, snapshot=snapshot, batch=batch, pool=pool
        )
        placed = {item_key(a.source, a.id): store.story_of(a.source, a.id) for a in late}
        joined = store.story_of("harbour", "harbour-36")  # day 18's first report
        gone = store.story_of("harbour", "harbour-2")  # day 1's first report

    assert result.assigned == 2 and result.rebuilt is not kept  # the snapshot serves, however late
    assert result.late == 1  # day 1.3's report; day 18.4's is in the window
    newest = max(a.published for a in daily)
    in_window = [a for a in daily if a.published >= newest - WINDOW]
    assert len(in_window) == 7  # days 17.1 to 20.1, not the 42 since day 1
    assert result.replayed == (0 if kept else len(in_window))

    # the same round as before the bound: everything since a window before day 1.3 replayed
    with open_store(reference) as store:
        pending = store.unassigned_texts()
        since = pending[0].published - WINDOW
        engine = restored_engine(store, PARAMS, since)
        waiting = {item_key(a.source, a.id) for a in pending}
        known = [a for a in store.texts_since(since) if item_key(a.source, a.id) not in waiting]
        assert len(known) == len(daily)
        done = add_in_order(engine, known, pending)
    expected = {d.item_id: engine.resolve(d.story_id) for d in done.decisions}
    assert placed["coast:coast-1018"] == expected["coast:coast-1018"]
    assert placed["coast:coast-1018"] == joined  # its event's story is still in the window
    # the full replay met day 1.3's report with a window that had moved past day 1 ...
    assert expected["coast:coast-1001"] != gone
    # ... the round placed it among the stories of its own days: day 1's
    assert placed["coast:coast-1001"] == gone


def test_a_late_report_joining_a_story_still_in_the_window_leaves_the_snapshot_as_it_is(
    tmp_path: Path, store_url: str
) -> None:
    """Day 15's story has a copy dated day 17.5, still in the window when a report of day 15 comes.

    The late report is placed apart, among its own days' stories, and joins
    day 15's story. The snapshot's engine holds that story without it, as a
    window rebuilt from the store would (the report is older than the window):
    the snapshot serves, and a later copy still finds the story.
    """
    database, snapshot = store_url, tmp_path / "stories.snapshot"
    daily = daily_reports()
    first = next(a for a in daily if a.id == "harbour-30")  # day 15's first report
    copy = replace(report("coast", 2000, 17.5, event_words(15)), url=first.url)
    with open_store(database) as store:
        save(store, [*daily, copy])
        assign_stories(store, PARAMS, NOW, sources=OUTLETS, snapshot=snapshot)
        story = store.story_of("harbour", "harbour-30")
        assert story is not None and store.story_of("coast", "coast-2000") == story

        late = report("coast", 1015, 15.05, event_words(15))
        recent = report("coast", 1020, 20.2, event_words(20))
        save(store, [late, recent])
        result = assign_stories(store, PARAMS, NOW, sources=OUTLETS, snapshot=snapshot)
        assert (result.assigned, result.late, result.rebuilt) == (2, 1, False)
        assert store.story_of("coast", "coast-1015") == story
        assert store.story_of("coast", "coast-1020") == store.story_of("harbour", "harbour-40")

        again = replace(report("valley", 2001, 20.3, event_words(15)), url=first.url)
        save(store, [again])
        result = assign_stories(store, PARAMS, NOW, sources=OUTLETS, snapshot=snapshot)
        assert (result.assigned, result.late, result.rebuilt) == (1, 0, False)
        assert store.story_of("valley", "valley-2001") == story


def test_after_a_late_join_the_snapshot_decides_as_a_rebuilt_window(tmp_path: Path) -> None:
    """Late reports join stories still in the window; the next round, with the snapshot or rebuilt.

    A window rebuilt from the store does not hold the late reports either
    (they are older than it), so the snapshot kept after their joins and a
    window rebuilt from the store place the next reports alike.
    """
    database, snapshot = tmp_path / "db.sqlite3", tmp_path / "stories.snapshot"
    daily = daily_reports()
    firsts = {day: next(a for a in daily if a.id == f"harbour-{2 * day}") for day in (15, 16)}
    copies = [
        replace(report("coast", 2000 + day, 17.5, event_words(day)), url=firsts[day].url)
        for day in (15, 16)
    ]
    late = [report("coast", 1000 + day, day + 0.05, event_words(day)) for day in (15, 16)]
    following = [
        replace(report("valley", 3015, 20.3, event_words(15)), url=firsts[15].url),
        report("valley", 3019, 19.3, event_words(19)),
        report("coast", 3020, 20.4, event_words(20)),
        report("coast", 3099, 20.45, event_words(99)),  # an event of its own
    ]
    with open_store(database) as store:
        save(store, [*daily, *copies])
        assign_stories(store, PARAMS, NOW, sources=OUTLETS, snapshot=snapshot)
        save(store, late)
        result = assign_stories(store, PARAMS, NOW, sources=OUTLETS, snapshot=snapshot)
        assert (result.assigned, result.late, result.rebuilt, result.merges) == (2, 2, False, 0)
        for day in (15, 16):
            story = store.story_of("harbour", firsts[day].id)
            assert store.story_of("coast", f"coast-{1000 + day}") == story  # joined
            assert store.story_of("coast", f"coast-{2000 + day}") == story  # in the window
        save(store, following)
    rebuilt = tmp_path / "rebuilt.sqlite3"
    shutil.copyfile(database, rebuilt)

    placed = {}
    for path, kept in ((database, True), (rebuilt, False)):
        if not kept:
            snapshot.unlink()
        with open_store(path) as store:
            result = assign_stories(store, PARAMS, NOW, sources=OUTLETS, snapshot=snapshot)
            assert (result.assigned, result.rebuilt) == (len(following), not kept)
            placed[kept] = {a.id: store.story_of(a.source, a.id) for a in [*daily, *following]}
    assert placed[True] == placed[False]
    stories = placed[True]
    assert stories["valley-3015"] == stories["harbour-30"]  # the copy of day 15's first report
    assert stories["valley-3019"] == stories["harbour-38"]
    assert list(stories.values()).count(stories["coast-3099"]) == 1


def test_a_late_join_keeps_the_founding_time_of_a_story_whose_earlier_member_came_later(
    tmp_path: Path,
) -> None:
    """Day 17.5's report founds a story; day 17.0's joins it a round later; then day 16.9's, late.

    The late report's engine replays day 17.0's report before day 17.5's, but
    the story was founded at 17.5, and stays so in the store, as in the
    snapshot's engine, which a late join leaves as it is (founding times decide
    which of two merged stories keeps its id).
    """
    snapshot = tmp_path / "stories.snapshot"
    words = event_words(17)
    founder = report("harbour", 1, 17.5, words)
    earlier = report("valley", 2, 17.0, words)  # published before it, fetched after it
    late = report("coast", 3, 16.9, words)
    with open_store(tmp_path / "db.sqlite3") as store:
        for batch in ([founder], [earlier], [report("harbour", 4, 20.2, event_words(20))]):
            save(store, batch)
            assign_stories(store, PARAMS, NOW, sources=OUTLETS, snapshot=snapshot)
        story = store.story_of("harbour", "harbour-1")
        assert story is not None and store.story_of("valley", "valley-2") == story
        since = T0 + timedelta(days=16)
        assert store.stories_founded(since)[story] == founder.published

        save(store, [late])
        result = assign_stories(store, PARAMS, NOW, sources=OUTLETS, snapshot=snapshot)
        assert (result.assigned, result.late, result.rebuilt) == (1, 1, False)
        assert store.story_of("coast", "coast-3") == story
        assert store.stories_founded(since)[story] == founder.published


def test_a_late_report_merging_a_story_still_in_the_window_makes_the_snapshot_stale(
    tmp_path: Path,
) -> None:
    """c1 (late) bridges a1's story and b1's, whose copy b2 is still in the round's window.

    The merge moves b2 to a1's story, founded first; the snapshot's engine
    still holds b2 in b1's story, now merged away. So the save that merges
    makes the snapshot stale, the round rebuilds its window from the store,
    and a later copy of b1 (same URL as b2) joins a1's story, not the
    merged-away one.
    """
    a1, b1, c1 = BRIDGE
    sources = ("outlet-a", "outlet-b", "outlet-c", "outlet-d", "outlet-e", "outlet-z")
    b_url = "https://outlet-b.test/hallan"

    def article(item: StoryItem, source: str, hours: float, url: str | None = None) -> Article:
        return Article(
            source=source, id=item.id, url=url or f"https://{source}.test/{item.id}",
            title=item.title, summary="", content_html=f"<p>{item.text}</p>", text=item.text,
            published=BRIDGE_T0 + timedelta(hours=hours), updated=None, date_estimated=False,
            content_hash=f"{source}-{item.id}",
        )  # fmt: skip

    def stored(store: Store, *articles: Article) -> None:
        for a in articles:
            store.save_batch(a.source, [a], FetchIntent(a.source, now, "ok", now))

    unrelated = StoryItem(
        "z1", "Ferry fares rise on the Tarrow line",
        "Fares on the Tarrow ferry line rise by a tenth from June, the operator said.",
        "Z", BRIDGE_T0,
    )  # fmt: skip
    first = [article(a1, "outlet-a", 0), article(b1, "outlet-b", 0.5, b_url)]
    b2 = article(replace(b1, id="b2"), "outlet-d", 60, b_url)  # 2.5 days on: joins by URL
    z1 = article(unrelated, "outlet-z", 110)  # the newest: b2 is still in the window after it
    late = article(c1, "outlet-c", 1)  # older than that window: placed apart
    b3 = article(replace(b1, id="b3"), "outlet-e", 112, b_url)
    now = BRIDGE_T0 + timedelta(days=5)
    probe = StoryEngine(StoryParams(model=hand_model()))
    decided = [probe.add(story_item(a)) for a in [*first, late]]
    keys = [item_key(a.source, a.id) for a in (*first, late)]
    bridge = min(probe.explain(keys[0], keys[2]).score, probe.explain(keys[1], keys[2]).score)
    params = StoryParams(model=bar_between(decided[1].score, bridge))

    snapshot = tmp_path / "stories.snapshot"
    with open_store(tmp_path / "db.sqlite3", sources) as store:
        stored(store, *first, b2)
        assign_stories(store, params, now, sources=sources, snapshot=snapshot)
        story_a, story_b = (store.story_of(a.source, a.id) for a in first)
        assert story_a and story_b and story_a != story_b
        assert store.story_of("outlet-d", "b2") == story_b  # b1's copy: its URL
        stored(store, z1)
        assign_stories(store, params, now, sources=sources, snapshot=snapshot)

        stored(store, late, b3)
        result = assign_stories(store, params, now, sources=sources, snapshot=snapshot)
        assert store.story_aliases() == {story_b: story_a}
        members = [("outlet-b", "b1"), ("outlet-d", "b2"), ("outlet-c", "c1"), ("outlet-e", "b3")]
        assert {store.story_of(source, id_) for source, id_ in members} == {story_a}
        assert (result.assigned, result.late, result.merges, result.rebuilt) == (2, 1, 1, True)
        # the rebuilt window restored no alias (the store moved b's members to a's story):
        # the engine and its snapshot hold only merges of their own, not the archive's
        token = store.service_state(SNAPSHOT_KEY)
        engine = load_snapshot(snapshot, params, sources, token)
        assert engine is not None and engine.state().aliases == {}


@pytest.mark.parametrize("kept", [True, False], ids=["with-the-snapshot", "rebuilt"])
def test_a_late_copy_of_an_article_in_the_window_joins_its_story(
    tmp_path: Path, store_url: str, kept: bool
) -> None:
    """A report dated day 15.5 has the URL of day 19's first report, which the window holds.

    Its own days' engine ends at day 18.5 and would not meet that report: it
    is left to the round's engine, whose window holds the copy's key, and
    joins day 19's story as it did before late articles were placed apart.
    """
    snapshot = tmp_path / "stories.snapshot"
    daily = daily_reports()
    with open_store(store_url) as store:
        save(store, daily)
        assign_stories(store, PARAMS, NOW, sources=OUTLETS, snapshot=snapshot)
        if not kept:
            snapshot.unlink()
        target = next(a for a in daily if a.id == "harbour-38")  # day 19's first report
        copy = replace(report("coast", 1015, 15.5, event_words(19)), url=target.url)
        other = report("coast", 1016, 15.6, event_words(15))  # late, no copy in the window
        save(store, [copy, other])
        result = assign_stories(store, PARAMS, NOW, sources=OUTLETS, snapshot=snapshot)
        assert (result.assigned, result.late, result.rebuilt) == (2, 1, not kept)
        assert store.story_of("coast", "coast-1015") == store.story_of("harbour", "harbour-38")
        assert store.story_of("coast", "coast-1016") == store.story_of("harbour", "harbour-30")


def test_a_long_late_archive_restores_and_replays_a_few_windows_at_a_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An outlet's archive of two months, a report every two days, comes after ten weeks of news.

    Its reports follow each other by less than two windows, yet no engine
    restores the stored decisions of the two months at once: each segment
    spans at most four windows, so each restores at most six, and each stored
    article is replayed twice at most. The reports still join their days' stories.
    """
    days, now = 70, T0 + timedelta(days=70)
    daily = daily_reports(range(days))
    archive = [report("coast", 1000 + day, day + 0.3, event_words(day)) for day in range(0, 60, 2)]
    spans: list[timedelta] = []
    replays: dict[str, int] = {}
    restore, replay = assign.stored_state, assign.Placer.replay

    def stored_state(store: Store, since: datetime, until: datetime | None = None) -> object:
        if until is not None:
            spans.append(until - since)
        return restore(store, since, until)

    def counted(placer: assign.Placer, known: list[Article]) -> int:
        for article in known:
            replays[article.id] = replays.get(article.id, 0) + 1
        return replay(placer, known)

    with open_store(tmp_path / "db.sqlite3") as store:
        save(store, daily)
        assign_stories(store, PARAMS, now, sources=OUTLETS)
        save(store, archive)
        monkeypatch.setattr(assign, "stored_state", stored_state)
        monkeypatch.setattr(assign.Placer, "replay", counted)
        result = assign_stories(store, PARAMS, now, sources=OUTLETS)
        joined = [
            store.story_of("coast", a.id) == store.story_of(OUTLETS[0], f"harbour-{2 * d}")
            for d, a in zip(range(0, 60, 2), archive, strict=True)
        ]
    assert result.late == len(archive) and all(joined)
    assert len(spans) > 1 and max(spans) <= 6 * WINDOW
    assert max(replays.values()) <= 2


def test_the_late_articles_engine_is_let_go_before_the_snapshot_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The engine that placed a late report is let go before the snapshot's engine is read.

    It holds two windows of the archive: held meanwhile, the round's
    peak would be two engines instead of one.
    """
    snapshot = tmp_path / "stories.snapshot"
    daily = daily_reports()
    alive: list[int] = []
    load = placing.load_snapshot

    def counted(*args: object, **kwargs: object) -> StoryEngine | None:
        gc.collect()
        alive.append(sum(isinstance(o, StoryEngine) for o in gc.get_objects()))
        return load(*args, **kwargs)  # type: ignore[arg-type]

    with open_store(tmp_path / "db.sqlite3") as store:
        save(store, daily)
        assign_stories(store, PARAMS, NOW, sources=OUTLETS, snapshot=snapshot)
        save(store, [report("coast", 1015, 15.05, event_words(15))])
        save(store, [report("coast", 1020, 20.2, event_words(20))])
        monkeypatch.setattr(placing, "load_snapshot", counted)
        result = assign_stories(store, PARAMS, NOW, sources=OUTLETS, snapshot=snapshot)
    assert (result.late, result.rebuilt) == (1, False)
    assert alive == [0]


def test_a_late_article_meets_no_more_than_a_window_before_it(tmp_path: Path) -> None:
    """Two late reports 4.5 days apart, the second with the first's URL, nothing stored between.

    Their segment's engine holds two windows, and its clock is the newest
    article it was given: day 5's report was still in it when day 9.5's came.
    Each meets a window before it, as it would have on time: two stories, as
    a replay of every article in order decides.
    """
    stored = daily_reports((*range(4), *range(16, DAYS)))
    first = report("coast", 1005, 5.0, event_words(5))
    again = replace(report("coast", 1009, 9.5, event_words(9)), url=first.url)
    with open_store(tmp_path / "db.sqlite3") as store:
        save(store, stored)
        assign_stories(store, PARAMS, NOW, sources=OUTLETS)
        save(store, [first, again])
        result = assign_stories(store, PARAMS, NOW, sources=OUTLETS)
        placed = [store.story_of("coast", a.id) for a in (first, again)]
    engine = StoryEngine(PARAMS)
    decided = add_in_order(engine, [], [*stored, first, again]).decisions
    expected = [d for d in decided if d.item_id.startswith("coast:")]
    assert [d.layer for d in expected] == ["new", "new"]  # on time: day 5 left day 9.5's window
    assert result.late == 2 and placed[0] != placed[1]


@pytest.mark.parametrize("processes", [False, True], ids=["in-process", "in-a-process"])
@pytest.mark.parametrize("killed_at", [1, 3])
def test_a_round_stopped_between_late_saves_ends_as_one_that_was_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, killed_at: int, processes: bool
) -> None:
    """Late reports of several days and an on-time one; the round stops at its Nth save.

    The next round places what was left: the same stories as a round that
    was not stopped, every member in a story that has a row, none in a
    merged-away one.
    """
    snapshot = tmp_path / "stories.snapshot"
    daily = daily_reports()
    late = [report("coast", 1000 + d, d + 0.05, event_words(d)) for d in (1, 2, 4, 9, 15, 16)]
    late += [report("coast", 1100 + d, d + 0.07, event_words(d)) for d in (1, 2, 15)]
    late += [report("coast", 1200, 20.3, event_words(20))]  # on time
    database, reference = tmp_path / "db.sqlite3", tmp_path / "reference.sqlite3"
    with open_store(database) as store:
        save(store, daily)
        assign_stories(store, PARAMS, NOW, sources=OUTLETS, snapshot=snapshot)
        save(store, late)
    shutil.copyfile(database, reference)
    with open_store(reference) as store:
        assign_stories(store, PARAMS, NOW, sources=OUTLETS)
        expected = {store.story_of(a.source, a.id) for a in late}, store.story_ids()

    saved, save_stories = [0], Store.save_stories

    def stopping(self: Store, *args: object, **kwargs: object) -> None:
        saved[0] += 1
        if saved[0] == killed_at:
            raise KeyboardInterrupt  # as a stop between two saves
        save_stories(self, *args, **kwargs)  # type: ignore[arg-type]

    with open_store(database) as store, ExitStack() as stack:
        pool = stack.enter_context(RenewingPool(1)) if processes else None
        monkeypatch.setattr(Store, "save_stories", stopping)
        with pytest.raises(KeyboardInterrupt):
            assign_stories(store, PARAMS, NOW, sources=OUTLETS, snapshot=snapshot, pool=pool)
        monkeypatch.setattr(Store, "save_stories", save_stories)
        result = assign_stories(store, PARAMS, NOW, sources=OUTLETS, snapshot=snapshot, pool=pool)
        got = {store.story_of(a.source, a.id) for a in late}, store.story_ids()
        members = {store.story_of(a.source, a.id) for a in [*daily, *late]}
        aliases = store.story_aliases()
    # the stopped round saved nothing (stopped at its first save) or some of them
    assert 0 < result.assigned <= len(late)
    assert (result.assigned == len(late)) is (killed_at == 1)
    assert got == expected
    assert members <= set(got[1]) and not members & set(aliases)


def test_an_old_pair_is_explained_within_its_own_window(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two reports of day 1, explained three weeks later, were compared: the engine says how.

    The window before them is read one article at a time; the signals are
    those of a replay of every stored article up to the newer one, read at once.
    """
    monkeypatch.setattr(assign, "BATCH", 1)
    daily = daily_reports()
    with open_store(tmp_path / "db.sqlite3") as store:
        save(store, daily)
        assign_stories(store, PARAMS, NOW, sources=OUTLETS)
        a, b, other = (store.article(*key) for key in (
            ("harbour", "harbour-2"), ("valley", "valley-3"), ("harbour", "harbour-10"),
        ))  # fmt: skip
        assert a is not None and b is not None and other is not None
        restored: list[int] = []
        assignments = store.story_assignments

        def counted(
            since: datetime, until: datetime | None = None, *, key: Callable[[str, str], str]
        ) -> dict[str, str]:
            restored.append(len(found := assignments(since, until, key=key)))
            return found

        monkeypatch.setattr(store, "story_assignments", counted)
        same = explain_pair(store, PARAMS, a, b)
        apart = explain_pair(store, PARAMS, a, other)  # day 1 and day 5: more than a window
        # the decisions of the days up to the pair (day 1.1), not of the three weeks since
        assert restored == [len([t for t in daily if t.published <= b.published])]
        since = a.published - WINDOW
        engine = restored_engine(store, PARAMS, since)
        known = [t for t in store.texts_since(since) if t.published <= b.published]
        add_in_order(engine, [t for t in known if t.id not in {a.id, b.id}], [a, b])
        expected = engine.explain(item_key(a.source, a.id), item_key(b.source, b.id))
    assert same == expected
    assert same.same_story and same.story_a == store_story(tmp_path, "harbour", "harbour-2")
    assert same.signals and "never compared" not in same.reason
    assert not apart.same_story and "never compared" in apart.reason


def store_story(directory: Path, source: str, article_id: str) -> str | None:
    with open_store(directory / "db.sqlite3") as store:
        return store.story_of(source, article_id)


def test_a_rebuilt_round_merges_into_the_story_the_snapshot_would_keep(tmp_path: Path) -> None:
    """A story's founding time is stored with it: a rebuild that does not replay its first member.

    a0 founds story A (a bare date, two days before the rest), b1 founds B an
    hour before a1, a0's copy (same URL), joins A, and a newer report on
    another subject follows. Then c1 bridges A and B: A, founded first, keeps
    its id, with the snapshot or without it (as after a change of sources),
    although the rebuild replays from a window before that newer report only.
    """
    a1, b1, c1 = BRIDGE
    sources = ("outlet-a", "outlet-b", "outlet-c", "outlet-d", "outlet-z")
    url = "https://outlet-a.test/hallan"

    def article(
        item: StoryItem, source: str, published: datetime, link: str | None = None
    ) -> Article:
        return Article(
            source=source, id=item.id, url=link or f"https://{source}.test/{item.id}",
            title=item.title, summary="", content_html=f"<p>{item.text}</p>", text=item.text,
            published=published, updated=None, date_estimated=False, content_hash=item.id,
        )  # fmt: skip

    newer = StoryItem(
        "z1",
        "Ferry fares rise on the Tarrow line",
        "Fares on the Tarrow ferry line rise by a tenth from June, the operator said.",
        "Z",
        BRIDGE_T0,
    )
    first = [
        article(replace(a1, id="a0"), "outlet-a", datetime(2031, 5, 4, tzinfo=UTC), url),
        article(b1, "outlet-b", BRIDGE_T0 - timedelta(hours=1)),
        article(a1, "outlet-d", BRIDGE_T0, url),
        article(newer, "outlet-z", BRIDGE_T0 + timedelta(days=1.5)),
    ]
    bridging = article(c1, "outlet-c", BRIDGE_T0 + timedelta(hours=1))
    now = BRIDGE_T0 + timedelta(days=2)
    probe = StoryEngine(StoryParams(model=hand_model()))
    decided = [probe.add(story_item(a)) for a in [*first[:3], bridging]]
    keys = [item_key(a.source, a.id) for a in (first[2], first[1], bridging)]
    bridge = min(probe.explain(keys[0], keys[2]).score, probe.explain(keys[1], keys[2]).score)
    params = StoryParams(model=bar_between(decided[1].score, bridge))

    database, snapshot = tmp_path / "db.sqlite3", tmp_path / "stories.snapshot"
    with open_store(database, sources) as store:
        for a in first:
            store.save_batch(a.source, [a], FetchIntent(a.source, now, "ok", now))
        assign_stories(store, params, now, sources=sources, snapshot=snapshot)
        story_a, story_b, joined = (store.story_of(a.source, a.id) for a in first[:3])
        store.save_batch("outlet-c", [bridging], FetchIntent("outlet-c", now, "ok", now))
    assert story_a and story_b and story_a != story_b
    assert joined == story_a  # a1 joined a0's story
    rebuilt = tmp_path / "rebuilt.sqlite3"
    shutil.copyfile(database, rebuilt)

    kept = {}
    for path, with_snapshot in ((database, True), (rebuilt, False)):
        if not with_snapshot:
            snapshot.unlink()
        with open_store(path, sources) as store:
            result = assign_stories(store, params, now, sources=sources, snapshot=snapshot)
            assert result.rebuilt is not with_snapshot and result.merges == 1
            assert result.replayed == (0 if with_snapshot else 3)  # b1, a1 and z1: not a0
            kept[with_snapshot] = store.story_of("outlet-c", "c1")
    assert kept == {True: story_a, False: story_a}

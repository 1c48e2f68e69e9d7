"""Tests of the story engine: layers, determinism, window, merges, explanations."""

from __future__ import annotations

import io
import json
import pickle
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from feedsvc.normalise import content_hash
from feedsvc.stories import (
    StoryEngine,
    StoryItem,
    StoryParams,
    StoryState,
    cluster,
    cluster_jsonl,
    final_stories,
    parse_item,
    story_id_for,
)
from feedsvc.stories.evaluate import score, score_by_prefix
from feedsvc.stories.scoring import StoryModel
from feedsvc.stories.text import name_stems, stem, terms
from tests.support.bridge import BRIDGE, bar_between, hand_model

FIXTURES = Path(__file__).parent / "fixtures" / "stories"
T0 = datetime(2031, 5, 6, 8, 0, tzinfo=UTC)


def load_fixture(name: str) -> list[StoryItem]:
    lines = (FIXTURES / name).read_text(encoding="utf-8").splitlines()
    return [parse_item(json.loads(line)) for line in lines if line.strip()]


def run(items: list[StoryItem], params: StoryParams | None = None) -> StoryEngine:
    engine = StoryEngine(params)
    for item in sorted(items, key=lambda i: (i.published, i.id)):
        engine.add(item)
    return engine


@pytest.fixture(scope="module")
def fictional() -> list[StoryItem]:
    return load_fixture("fictional.jsonl")


# --------------------------------------------------------------------------- the seeds


def seed_items(shared: Path) -> list[StoryItem]:
    """The Nara pair and the three teasers of the Korea page, all on one day."""
    page = next((shared / "seeds").glob("000_*.txt")).read_text(encoding="utf-8")
    report = next((shared / "seeds").glob("004_*.txt")).read_text(encoding="utf-8")
    paragraphs = [p.strip() for p in page.split("\n\n") if p.strip()]
    teasers = [(paragraphs[i], paragraphs[i + 1]) for i in (1, 3, 5)]
    start = page.index("Korea-Japan Summit")
    end = page.index("\n", start)
    day = datetime(2026, 1, 13, 9, tzinfo=UTC)
    items = [
        StoryItem(f"teaser-{n}", title, blurb, "korea-page", day + timedelta(hours=n))
        for n, (title, blurb) in enumerate(teasers)
    ]
    items.append(
        StoryItem("nara-page", page[start:end], page[end:], "korea-page", day + timedelta(hours=4))
    )
    items.append(StoryItem("nara-report", "", report, "japan-desk", day + timedelta(hours=5)))
    return items


@pytest.mark.shared
def test_nara_reports_form_one_story_and_teasers_three_others(shared_dir: Path) -> None:
    engine = run(seed_items(shared_dir))
    nara = engine.story_of("nara-page")
    assert engine.story_of("nara-report") == nara
    teaser_stories = {engine.story_of(f"teaser-{n}") for n in range(3)}
    assert len(teaser_stories) == 3
    assert nara not in teaser_stories


@pytest.mark.shared
def test_nara_explanation_names_the_shared_evidence(shared_dir: Path) -> None:
    engine = run(seed_items(shared_dir))
    why = engine.explain("nara-page", "nara-report")
    assert why.same_story
    assert why.signals["shared_names"] >= 3
    assert why.signals["name_variants"] >= 1  # Josei / Chosei
    assert why.score >= engine.params.same_event_threshold
    assert "same-event" in why.reason


# --------------------------------------------------------------------------- the layers


def test_exact_copy_joins_through_the_exact_layer(fictional: list[StoryItem]) -> None:
    engine = StoryEngine()
    by_id = {i.id: i for i in fictional}
    first = engine.add(by_id["wire-1"])
    copy = engine.add(by_id["copy-1"])
    assert first.layer == "new"
    assert copy.layer == "exact"
    assert copy.story_id == first.story_id
    assert copy.matched_item == "wire-1"


def test_same_url_is_an_exact_copy_even_with_other_words() -> None:
    engine = StoryEngine()
    a = StoryItem(
        "u1", "Ferry timetable changes", "Winter ferries.", "A", T0, url="https://x.test/1"
    )
    b = StoryItem("u2", "Something else entirely", "Other text.", "B", T0, url="https://x.test/1")
    engine.add(a)
    assert engine.add(b).layer == "exact"


def _hashed(item_id: str, outlet: str, title: str, text: str) -> StoryItem:
    """An item carrying the content hash the service gives every article."""
    digest = content_hash(title, text)
    return StoryItem(item_id, title, text, outlet, T0, content_hash=digest)


def test_a_short_identical_headline_is_not_an_exact_copy() -> None:
    """Below the fingerprint's eight words, equal text is judged by the scoring layers."""
    engine = StoryEngine()
    engine.add(_hashed("a:1", "A", "Live updates", ""))
    assert engine.add(_hashed("b:1", "B", "Live updates", "")).layer != "exact"


def test_a_copy_of_eight_words_or_more_is_found_by_its_hash() -> None:
    title, text = "Harbour bridge closes", "The old harbour bridge shuts for repairs until spring."
    engine = StoryEngine()
    first = engine.add(_hashed("a:1", "A", title, text))
    copy = engine.add(_hashed("b:1", "B", title.upper(), text))  # equal once case-folded
    assert copy.layer == "exact"
    assert copy.story_id == first.story_id


def test_a_copy_still_in_the_window_answers_for_its_url_once_the_first_left() -> None:
    engine = StoryEngine(StoryParams(window=timedelta(days=3)))
    url = "https://x.test/ferry"
    first = StoryItem("u1", "Ferry timetable changes", "Winter ferries.", "A", T0, url=url)
    copy = StoryItem(
        "u2", "Ferry timetable", "Ferries in winter.", "B", T0 + timedelta(days=2), url=url
    )
    engine.add(first)
    assert engine.add(copy).layer == "exact"
    assert engine.active_stories() == [story_id_for("u1")]
    # the first leaves the window; the copy, two days younger, is still in it
    late = StoryItem(
        "u3", "Harbour crane collapse", "Dock workers hurt.", "C", T0 + timedelta(days=4), url=url
    )
    for engine_now in (engine, pickle.loads(pickle.dumps(engine))):
        decision = engine_now.add(late)
        assert (decision.layer, decision.matched_item) == ("exact", "u2")
        assert decision.story_id == story_id_for("u1")
        with pytest.raises(KeyError):
            engine_now.story_of("u1")


def test_the_copies_of_a_url_answer_for_it_in_the_order_they_came() -> None:
    engine = StoryEngine(StoryParams(window=timedelta(days=3)))
    url = "https://x.test/ferry"

    def copy(item_id: str, days: float, title: str = "Ferry timetable changes") -> StoryItem:
        return StoryItem(
            item_id, title, f"Winter ferries {item_id}.", "A", T0 + timedelta(days=days), url=url
        )

    # u1 first; then, late, a copy published before it (it leaves the window first)
    engine.add(copy("u1", 2))
    assert engine.add(copy("u0", 0)).matched_item == "u1"
    engine.add(copy("u2", 3))
    engine.add(copy("u3", 4))
    engine.add(StoryItem("tick", "Harbour crane", "Dock.", "B", T0 + timedelta(days=4.5)))
    # u0 (day 0) and u1 (day 2) left the window: u2 came before u3 and answers
    assert [engine.add(copy("u4", 5.1, "Crane")).matched_item] == ["u2"]
    with pytest.raises(KeyError):
        engine.story_of("u0")


def test_wire_reprint_with_small_edits_is_a_near_duplicate(fictional: list[StoryItem]) -> None:
    engine = StoryEngine()
    by_id = {i.id: i for i in fictional}
    first = engine.add(by_id["wire-1"])
    reprint = engine.add(by_id["reprint-1"])
    assert reprint.layer == "near-duplicate"
    assert reprint.story_id == first.story_id
    assert reprint.signals["shingle_jaccard"] >= engine.params.near_duplicate_threshold


def test_differently_written_report_joins_as_same_event(fictional: list[StoryItem]) -> None:
    engine = run(fictional)
    decision = next(d for d in cluster(fictional) if d.item_id == "own-1")
    assert decision.layer == "same-event"
    assert engine.story_of("own-1") == engine.story_of("wire-1")


def test_shared_country_name_does_not_merge_unrelated_items(fictional: list[StoryItem]) -> None:
    engine = run(fictional)
    norland = {
        engine.story_of(i) for i in ("norland-tariff", "norland-football", "norland-actress")
    }
    assert len(norland) == 3
    assert engine.story_of("wire-1") not in norland
    assert not engine.explain("norland-tariff", "norland-actress").same_story


def test_same_outlet_needs_stronger_evidence() -> None:
    first = "Velmora council approves new tram line to the harbour district after long debate."
    second = "Trams will reach the harbour district of Velmora by 2034, councillors decided."
    a = StoryItem("o1", "Council approves harbour tram line", first, "Herald", T0)
    b = StoryItem("o2", "Harbour district gets its tram", second, "Herald", T0)
    c = StoryItem("o3", "Harbour district gets its tram", second, "Courier", T0)
    same, other = StoryEngine(), StoryEngine()
    same.add(a)
    other.add(a)
    in_same, in_other = same.add(b), other.add(c)
    assert in_same.layer == in_other.layer == "same-event"
    assert in_same.signals["outlet"] == 1.0
    assert in_other.signals["outlet"] == 0.0
    assert in_same.score < in_other.score
    # the outlet's learned weight is what tells the two apart, in log-odds
    model = StoryParams().model
    weight = model.weights[model.features.index("outlet")]
    assert weight < 0
    logits = [model.logit([d.signals[f] for f in model.features]) for d in (in_same, in_other)]
    assert logits[0] - logits[1] == pytest.approx(weight, abs=1e-9)


# --------------------------------------------------------------------------- identity


def test_same_input_twice_gives_the_same_story_ids(fictional: list[StoryItem]) -> None:
    out1, out2 = io.StringIO(), io.StringIO()
    source = (FIXTURES / "fictional.jsonl").read_text(encoding="utf-8")
    assert cluster_jsonl(io.StringIO(source), out1) == len(fictional)
    cluster_jsonl(io.StringIO(source), out2)
    assert out1.getvalue() == out2.getvalue()
    first = json.loads(out1.getvalue().splitlines()[0])
    assert first == {"id": "wire-1", "story": story_id_for("wire-1")}


def test_input_order_does_not_change_the_stories(fictional: list[StoryItem]) -> None:
    forward = final_stories(cluster(fictional))
    backward = final_stories(cluster(list(reversed(fictional))))
    assert forward == backward


def test_adding_an_item_again_returns_the_first_decision(fictional: list[StoryItem]) -> None:
    engine = StoryEngine()
    first = engine.add(fictional[0])
    assert engine.add(fictional[0]) is first


def test_restart_from_state_keeps_story_ids(fictional: list[StoryItem]) -> None:
    ordered = sorted(fictional, key=lambda i: (i.published, i.id))
    before = run(ordered[:4])
    after = StoryEngine(state=before.state())
    for item in ordered:
        after.add(item)
    for item in ordered[:4]:
        assert after.story_of(item.id) == before.story_of(item.id)
    assert after.story_of("own-1") == before.story_of("wire-1")


# --------------------------------------------------------------------------- window and merges


def test_window_evicts_old_items_and_keeps_memory_flat() -> None:
    params = StoryParams(window=timedelta(days=3))
    engine = StoryEngine(params)
    text = "Velmora harbour crane collapse injures dock workers, Tarrow Logistics says."
    engine.add(StoryItem("old", "Crane collapse at Velmora harbour", text, "A", T0))
    later = T0 + timedelta(days=4)
    decision = engine.add(StoryItem("new", "Crane collapse at Velmora harbour", text, "B", later))
    assert decision.layer == "new"
    assert engine.active_stories() == [story_id_for("new")]
    with pytest.raises(KeyError):
        engine.story_of("old")


def test_many_days_of_items_keep_only_the_window() -> None:
    engine = StoryEngine(StoryParams(window=timedelta(days=2)))
    for n in range(60):
        when = T0 + timedelta(hours=6 * n)
        engine.add(StoryItem(f"i{n}", f"Topic{n} event{n} in town{n}", "", "A", when))
    assert len(engine.active_stories()) <= 9


def test_merge_keeps_the_older_id_and_records_the_alias() -> None:
    # thresholds between the a-b score and the scores of c against a and b:
    # a and b stay apart, then c bridges them (the probe keeps all three apart)
    # a hand-set model, so the test is about merging, not about the fitted weights
    engine = StoryEngine(StoryParams(model=bridging_model()))
    a, b, c = (engine.add(item) for item in BRIDGE)
    assert a.story_id != b.story_id
    assert c.story_id == a.story_id
    assert c.merged == (b.story_id,)
    assert engine.story_of("b1") == a.story_id
    assert engine.state().aliases == {b.story_id: a.story_id}
    assert engine.story(b.story_id).aliases == (b.story_id,)
    assert final_stories([a, b, c]) == {"a1": a.story_id, "b1": a.story_id, "c1": a.story_id}


def bridging_model() -> StoryModel:
    """The hand-set model: a1 and b1 of ``BRIDGE`` stay apart, c1 merges them."""
    probe = run(BRIDGE, StoryParams(model=hand_model()))
    ab = probe.explain("a1", "b1").score
    return bar_between(ab, min(probe.explain("a1", "c1").score, probe.explain("b1", "c1").score))


def founded_first_items() -> tuple[StoryItem, StoryItem, StoryItem, StoryItem]:
    """a0 (a copy of a1 two days before, a bare date), then b1, a1 an hour later, and c1."""
    a1, b1, c1 = BRIDGE
    a0 = replace(a1, id="a0", published=datetime(2031, 5, 4, tzinfo=UTC))
    return a0, replace(b1, published=T0 - timedelta(hours=1)), a1, c1


def founded_first_params() -> StoryParams:
    """A bar that b1 does not reach against a1's story and c1 reaches against both stories."""
    a0, b1, a1, c1 = founded_first_items()
    probe = StoryEngine(StoryParams(model=hand_model()))
    b1_best = [probe.add(item) for item in (a0, b1, a1, c1)][1].score
    bridge = min(probe.explain("a1", "c1").score, probe.explain("b1", "c1").score)
    return StoryParams(model=bar_between(b1_best, bridge))


def test_a_rebuilt_engine_keeps_the_id_the_first_engine_kept_when_stories_merge() -> None:
    """A rebuild that does not replay a story's first member still knows when it was founded.

    a0 (a copy of a1, dated the day before yesterday: a bare date, so it
    does not pull its story's mean time back) founds story A; b1 founds B an
    hour before a1 joins A; c1 merges the two, and A, founded first, keeps its
    id. A rebuild replaying from between a0 and b1 meets A at a1 only.
    """
    a0, b1, a1, c1 = founded_first_items()
    params = founded_first_params()
    first = StoryEngine(params)
    decisions = [first.add(item) for item in (a0, b1, a1, c1)]
    a, b = story_id_for("a0"), story_id_for("b1")
    assert [d.story_id for d in decisions] == [a, b, a, a] and decisions[3].merged == (b,)

    assert first.story(a).founded == a0.published  # what the round stores with the story

    # a rebuild replaying from between a0 and b1 meets A at a1 only
    for founded, keeps in (({a: a0.published}, a), ({}, b)):  # told, A keeps its id; else B
        rebuilt = StoryEngine(params, StoryState({"a1": a, "b1": b}, founded=founded))
        rebuilt.add(b1)
        rebuilt.add(a1)
        merge = rebuilt.add(c1)
        assert (merge.story_id, merge.merged) == (keeps, tuple({a, b} - {keeps}))
        assert rebuilt.story(merge.story_id).founded == (a0.published if founded else b1.published)


def snapshot_in_parts(engine: StoryEngine) -> StoryEngine:
    """The engine as a snapshot writes it (in parts, a member a part) and reads it back."""
    parts = [pickle.dumps(part) for part in engine.snapshot_parts(1)]
    return StoryEngine.from_snapshot_parts(pickle.loads(part) for part in parts)


@pytest.mark.parametrize(
    "copy", [lambda e: pickle.loads(pickle.dumps(e)), snapshot_in_parts], ids=["whole", "parts"]
)
@pytest.mark.parametrize("a1_first", [True, False], ids=["one-member-story", "not-yet-made"])
def test_a_restored_founding_time_decides_a_merge_after_a_snapshot_as_before(
    copy: Callable[[StoryEngine], StoryEngine], a1_first: bool
) -> None:
    """A rebuilt engine told A was founded at a0, pickled, then merging A and B, keeps A's id.

    Either A is one member (a1) when pickled, or a1 is still to come and the
    founding time not yet taken: both travel with the snapshot.
    """
    a0, b1, a1, c1 = founded_first_items()
    a, b = story_id_for("a0"), story_id_for("b1")
    state = StoryState({"a1": a, "b1": b}, founded={a: a0.published})
    original = StoryEngine(founded_first_params(), state)
    original.add(b1)
    rest = [c1]
    if a1_first:
        original.add(a1)
    else:
        rest.insert(0, a1)
    snapshot = copy(original)
    decisions = [original.add(item) for item in rest]
    assert [snapshot.add(item) for item in rest] == decisions
    assert (decisions[-1].story_id, decisions[-1].merged) == (a, (b,))
    assert snapshot.story(a).founded == original.story(a).founded == a0.published


def test_two_grown_stories_are_not_merged_by_one_bridging_item() -> None:
    model = StoryParams().model.with_thresholds(join=0.01, merge=0.01)
    params = StoryParams(model=model, merge_max_members=1)
    engine = StoryEngine(params)
    engine._index.advance(T0)
    a, b, c = (engine.add(item) for item in BRIDGE)
    assert b.story_id == a.story_id  # a low bar: b joins a
    assert c.merged == ()


# ---------------------------------------------------------------- stories and explanations


def test_representative_rules(fictional: list[StoryItem]) -> None:
    earliest = run(fictional).story(story_id_for("wire-1"))
    assert earliest.representative == "wire-1"
    assert set(earliest.members) == {"copy-1", "reprint-1", "own-1"}
    complete = run(fictional, StoryParams(representative="most-complete"))
    assert complete.story(story_id_for("wire-1")).representative == "reprint-1"
    priority = StoryParams(
        representative="source-priority", source_priority=("The Velmora Herald",)
    )
    assert run(fictional, priority).story(story_id_for("wire-1")).representative == "own-1"


@pytest.mark.parametrize(
    "params",
    [
        StoryParams(),
        StoryParams(representative="most-complete"),
        StoryParams(representative="source-priority", source_priority=("The Velmora Herald",)),
    ],
)
def test_a_storys_shape_says_what_the_story_says(
    fictional: list[StoryItem], params: StoryParams
) -> None:
    engine = run(fictional, params)
    assert len(engine.active_stories()) > 1
    for story_id in engine.active_stories():
        story = engine.story(story_id)
        shape = (story.id, story.representative, 1 + len(story.members), story.founded)
        assert engine.shape(story_id) == shape


def test_explain_reports_signals_for_unrelated_items(fictional: list[StoryItem]) -> None:
    why = run(fictional).explain("wire-1", "norland-football")
    assert not why.same_story
    assert set(why.signals) >= {"cosine", "shingle_jaccard", "shared_names", "gap_hours"}
    assert why.score < StoryParams().same_event_threshold
    assert why.reason.startswith("different stories")


# --------------------------------------------------------------------------- text and scoring


def test_stemmer_and_names() -> None:
    assert stem("tariffs") == stem("tariff")
    assert stem("collapsed") == stem("collapse") or stem("collapsed") == "collaps"
    assert terms("The Crane's collapse: 1,360 dead") == ("crane", "collapse", "#1360", "dead")
    names = name_stems("Harbour master Ilse Brandvik said the NATO crane fell.", title_case=False)
    assert names == {"ilse", "brandvik", "nato"}


def test_scores_match_the_reference_definitions() -> None:
    gold = {"x-1": "a", "x-2": "a", "x-3": "b", "y-1": "c"}
    perfect = score(gold, gold)
    assert (perfect.b3_p, perfect.b3_r, perfect.pair_f1) == (1.0, 1.0, 1.0)
    lumped = score(gold, {"x-1": "s", "x-2": "s", "x-3": "s", "y-1": "s"})
    assert lumped.b3_r == 1.0
    assert lumped.b3_p == pytest.approx((2 / 4 * 2 + 1 / 4 + 1 / 4) / 4)
    assert lumped.pair_p == pytest.approx(1 / 6)
    parts = score_by_prefix(gold, {})
    assert set(parts) == {"all", "x", "y"}
    assert parts["x"].b3_r == pytest.approx((1 / 2 + 1 / 2 + 1) / 3)

"""The Nara pair's hard parts as signals: spelling variants, name order, disagreeing numbers.

Every text here is fictional. Each test compares an item with variants of a
second item that differ in one respect only, so the difference in score is
that respect's doing.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from feedsvc.stories import StoryEngine, StoryItem
from feedsvc.stories.candidates import Candidate
from feedsvc.stories.signals import (
    Profile,
    cosine,
    spelling_variant,
    variant_names,
    variants,
    variants_among,
)

T0 = datetime(2031, 3, 4, 9, 0, tzinfo=UTC)

COLLIERY_A = StoryItem(
    "colliery-a",
    "Remains recovered from flooded Shimaura colliery",
    "Divers working for the Kessel provincial government recovered human remains from the "
    "flooded Shimaura colliery on Monday, eighty years after the undersea shaft collapsed. "
    "Governor Anneli Varro said DNA testing would begin at the Orlen institute, and that "
    "families of the miners would be told first.",
    "Kessel Courier",
    T0,
)

COLLIERY_B = (
    "Families of miners lost in the {mine} pit disaster may finally learn their fate",
    "Kessel's governor Anneli Varro confirmed that remains brought up by divers from the "
    "{mine} mine will be sent to the Orlen institute for DNA identification. The shaft "
    "flooded in wartime, killing {toll} workers, many of them conscripted labourers.",
)


def colliery_b(mine: str, toll: str = "", item_id: str = "colliery-b") -> StoryItem:
    title, text = COLLIERY_B
    body = text.format(mine=mine, toll=toll).replace("  ", " ")
    return StoryItem(item_id, title.format(mine=mine), body, "Orlen Post", T0 + timedelta(hours=3))


def pair_score(a: StoryItem, b: StoryItem) -> tuple[float, dict[str, float]]:
    engine = StoryEngine()
    engine.add(a)
    engine.add(b)
    why = engine.explain(a.id, b.id)
    return why.score, dict(why.signals)


def alone(item: StoryItem) -> Profile:
    """The profile of an item analysed by a fresh engine (the same idf for any item)."""
    engine = StoryEngine()
    engine.add(item)
    return engine._index.members[item.id].profile


def profiles(a: StoryItem, b: StoryItem) -> tuple[Profile, Profile]:
    engine = StoryEngine()
    engine.add(a)
    engine.add(b)
    members = engine._index.members
    return members[a.id].profile, members[b.id].profile


# --------------------------------------------------------------------------- spelling variants


def test_a_name_spelled_differently_counts_as_a_shared_name() -> None:
    variant, signals = pair_score(COLLIERY_A, colliery_b("Simaura"))
    other, _ = pair_score(COLLIERY_A, colliery_b("Tarvik"))
    same, _ = pair_score(COLLIERY_A, colliery_b("Shimaura"))
    assert signals["name_variants"] == 1
    assert other < variant
    # (not exactly `same`: a name seen before weighs less, as its idf fell)
    assert variant >= 0.9 * same


def test_the_variant_adds_to_the_similarity_of_the_two_items() -> None:
    a, b = profiles(COLLIERY_A, colliery_b("Simaura"))
    gained, pairs = variants(a, b)
    assert pairs == 1
    assert gained == pytest.approx(a.vector["shimaura"] * b.vector["simaura"])
    assert gained > 0


def test_the_variant_pair_joins_one_story() -> None:
    engine = StoryEngine()
    first = engine.add(COLLIERY_A)
    second = engine.add(colliery_b("Simaura"))
    assert second.story_id == first.story_id
    assert second.layer == "same-event"


def test_ordinary_words_spelled_alike_are_never_variants() -> None:
    a = StoryItem("w1", "Harbour colour festival", "The harbour colour festival opens.", "A", T0)
    b = StoryItem("w2", "Harbour color festival", "The harbour color festival opens.", "B", T0)
    pa, pb = profiles(a, b)
    assert "colour" in pa.vector and "color" in pb.vector
    assert variants(pa, pb) == (0.0, 0)
    # the same words as names would be variants: the difference is the capital
    c = StoryItem("w3", "Festival in Harbour", "Festival in the town of Coulourne opens.", "A", T0)
    d = StoryItem("w4", "Festival in Harbour", "Festival in the town of Colourne opens.", "B", T0)
    assert variants(*profiles(c, d))[1] == 1


def test_short_or_distant_names_are_not_variants() -> None:
    a = StoryItem("n1", "Talks", "Delegates met Governor Lohan in the capital.", "A", T0)
    b = StoryItem("n2", "Talks", "Delegates met Governor Logan in the capital.", "B", T0)
    assert variants(*profiles(a, b)) == (0.0, 0)


# --------------------------------------------------------------------------- name order


def test_name_order_does_not_matter() -> None:
    text = "Prime Minister {} welcomed the delegation to Orlen on Tuesday for trade talks."
    a = StoryItem("o1", "Trade talks in Orlen", text.format("Takara Ilse"), "A", T0)
    b = StoryItem("o2", "Trade talks in Orlen", text.format("Ilse Takara"), "B", T0)
    pa, pb = alone(a), alone(b)
    assert "ilse_minister" in pa.vector  # a run of names makes phrases in alphabetical order
    assert pa.vector == pytest.approx(pb.vector)


def test_word_order_of_ordinary_words_still_matters() -> None:
    a = StoryItem("p1", "Talks", "The harbour crane fell onto the quay in Orlen.", "A", T0)
    b = StoryItem("p2", "Talks", "The crane harbour fell onto the quay in Orlen.", "B", T0)
    pa, pb = alone(a), alone(b)
    assert "harbour_crane" in pa.vector and "harbour_crane" not in pb.vector
    assert cosine(pa.vector, pb.vector) < 0.999


# --------------------------------------------------------------------------- numbers


def test_numbers_that_disagree_do_not_count_against_a_match() -> None:
    disagree, signals = pair_score(COLLIERY_A, colliery_b("Shimaura", "183"))
    absent, _ = pair_score(COLLIERY_A, colliery_b("Shimaura", ""))
    agree_a = StoryItem(
        COLLIERY_A.id, COLLIERY_A.title, COLLIERY_A.text + " The flood killed 183 workers.",
        COLLIERY_A.outlet, COLLIERY_A.published,
    )  # fmt: skip
    agree, agree_signals = pair_score(agree_a, colliery_b("Shimaura", "183"))
    other_a = StoryItem(
        COLLIERY_A.id, COLLIERY_A.title, COLLIERY_A.text + " The flood killed 136 workers.",
        COLLIERY_A.outlet, COLLIERY_A.published,
    )  # fmt: skip
    differ, _ = pair_score(other_a, colliery_b("Shimaura", "183"))
    assert signals["shared_numbers"] == 0
    assert disagree == pytest.approx(absent)
    assert agree_signals["shared_numbers"] == 1
    assert differ <= agree
    assert differ == pytest.approx(pair_score(other_a, colliery_b("Shimaura", ""))[0])


# --------------------------------------------------------------------------- a negative


def test_two_events_sharing_a_generic_word_stay_apart() -> None:
    strike = StoryItem(
        "g1", "Dock workers strike at Port Velmora",
        "Dock workers at Port Velmora walked out on Monday over pay, halting container "
        "traffic, the Velmora dockers' union said.", "Velmora Herald", T0,
    )  # fmt: skip
    lightning = StoryItem(
        "g2", "Lightning strike starts forest fire near Orlen",
        "A lightning strike set fire to pine forest north of Orlen on Monday evening; "
        "firefighters from three districts were called out.", "Orlen Post",
        T0 + timedelta(hours=1),
    )  # fmt: skip
    engine = StoryEngine()
    engine.add(strike)
    decision = engine.add(lightning)
    assert decision.layer == "new"
    assert engine.story_of("g1") != engine.story_of("g2")
    assert decision.score < engine.params.same_event_threshold


def test_candidate_records_the_model_signals() -> None:
    engine = StoryEngine()
    engine.add(COLLIERY_A)
    decision = engine.add(colliery_b("Simaura"))
    assert {"centroid", "best", "p_same", "time_prior", "score"} <= set(decision.signals)
    assert decision.signals["score"] == pytest.approx(decision.score, abs=1e-4)
    assert Candidate.__name__ == "Candidate"


# --------------------------------------------------------------------------- explanations


def test_explanation_contributions_add_up_to_the_model_probability() -> None:
    engine = StoryEngine()
    engine.add(COLLIERY_A)
    engine.add(colliery_b("Chimaura", "183"))
    why = engine.explain(COLLIERY_A.id, "colliery-b")
    parts = {k: v for k, v in why.signals.items() if k.startswith("model.")}
    assert set(parts) == {"model.bias", *(f"model.{f}" for f in engine.params.model.features)}
    logit = sum(parts.values())
    assert 1 / (1 + math.exp(-logit)) == pytest.approx(why.signals["p_same"], abs=1e-3)
    assert why.score == pytest.approx(why.signals["p_same"] * why.signals["time_prior"], abs=1e-3)


# ------------------------------------------------------------ variants among many names

NAME_LETTERS = "aeiouchjsnrt"


@settings(max_examples=200, deadline=None)
@given(st.sets(st.text(alphabet=NAME_LETTERS, min_size=3, max_size=9), max_size=40))
def test_variants_among_many_names_are_the_pairs_spelling_variant_finds(names: set[str]) -> None:
    fixed = {"Josei", "Chosei", "Jo5ei", "Seoul", "Takaic", "Takaichi", "Takaichiya"}
    written = {name.capitalize() for name in names} | fixed
    candidates = variant_names(written)
    expected = {
        x: frozenset(y for y in candidates if y != x and spelling_variant(x, y)) for x in candidates
    }
    found = variants_among(written)
    assert found == expected
    assert list(found) == candidates  # in sorted order, as the comparison lists them
    assert "Chosei" in found["Josei"] and "Jo5ei" not in found
    assert found["Takaichi"] >= {"Takaic", "Takaichiya"}  # two letters apart, either way

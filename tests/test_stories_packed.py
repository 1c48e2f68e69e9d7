"""The window keeps each member's vector packed, and compares it to the last bit as a dict.

A member's vector is a tuple of terms and an array of doubles (``Packed``), not
a dict of float objects; a one-member story shares it as its sum. These tests
hold the packed form to the dict it came from, and the window to that shape.
"""

from __future__ import annotations

import pickle
from array import array
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from feedsvc.stories import StoryEngine, StoryItem
from feedsvc.stories.index import ActiveIndex, Member
from feedsvc.stories.model import Decision
from feedsvc.stories.signals import Packed, Profile, cosine, cosine_words
from feedsvc.stories.text import shingles

T0 = datetime(2031, 3, 2, 8, 0, tzinfo=UTC)
TERMS = st.sampled_from([f"t{n}" for n in range(30)] + ["lake_ferry", "ferry_crash", "orvin"])
WEIGHTS = st.floats(min_value=1e-6, max_value=1.0, allow_nan=False)
VECTORS = st.dictionaries(TERMS, WEIGHTS, max_size=24)


@given(VECTORS, VECTORS)
def test_a_packed_vector_compares_exactly_as_its_dict(
    a: dict[str, float], b: dict[str, float]
) -> None:
    packed = Packed.of(b)
    assert cosine_words(a, packed) == cosine_words(a, b)
    assert cosine_words(packed, Packed.of(a)) == cosine_words(b, a)
    assert cosine(a, packed) == cosine(a, b)


@given(VECTORS)
def test_a_packed_vector_is_the_same_mapping_in_the_same_order(vector: dict[str, float]) -> None:
    packed = Packed.of(vector)
    assert list(packed) == list(vector)
    assert list(packed.pairs()) == list(vector.items())
    assert packed.unpacked() == vector and dict(packed) == vector
    assert len(packed) == len(vector)
    assert all(packed[t] == w and t in packed for t, w in vector.items())
    assert "absent" not in packed and packed.get("absent") is None
    with pytest.raises(KeyError):
        packed["absent"]
    copy = pickle.loads(pickle.dumps(packed))
    assert copy == packed and copy.terms == packed.terms


def test_terms_and_weights_must_pair_up() -> None:
    with pytest.raises(ValueError, match="2 terms but 1 weights"):
        Packed(("a", "b"), array("d", [0.5]))


LAKE = "Rescuers searched the lake through the night, officials said."
VOTE = "Members voted late on Thursday after a long debate on fares."


def story_item(n: int, title: str, body: str, hours: float = 0.0) -> StoryItem:
    return StoryItem(f"i{n}", title, f"{title}. {body}", f"outlet-{n}", T0 + timedelta(hours=hours))


def test_the_window_holds_packed_vectors_and_a_lone_member_is_its_storys_sum() -> None:
    engine = StoryEngine()
    crash = "Ferry capsizes on Lake Orvin after storm, dozens missing"
    engine.add(story_item(1, crash, LAKE))
    engine.add(story_item(2, crash.replace("dozens", "forty"), LAKE))
    engine.add(story_item(3, "Parliament of Veska passes budget for coastal railway", VOTE))
    index = engine._index
    assert all(isinstance(m.profile.vector, Packed) for m in index.members.values())
    joined = index.stories[engine.story_of("i1")]
    lone = index.stories[engine.story_of("i3")]
    assert engine.story_of("i2") == joined.id != lone.id
    # one member: the story's sum is that member's own packed vector, shared
    assert lone.alone is index.members["i3"].profile.vector and lone.total == {}
    # two members: a sum of its own, the two vectors added term by term
    assert joined.alone is None
    expected: dict[str, float] = {}
    for member in ("i1", "i2"):
        for term, weight in index.members[member].profile.vector.items():
            expected[term] = expected.get(term, 0.0) + weight
    assert joined.total == pytest.approx(expected)
    # the window moves on: every story and posting goes with its members
    engine.add(story_item(4, "Veska railway budget vote delayed", VOTE, hours=24 * 4))
    assert set(index.members) == {"i4"}
    assert set(index.stories) == {engine.story_of("i4")}


def test_the_index_refuses_a_member_whose_vector_is_not_packed() -> None:
    index = ActiveIndex(timedelta(days=3), 100, 16, {})
    profile = Profile("x", "o", T0, {"lake": 1.0}, frozenset(), frozenset(), shingles([]), 1)
    member = Member(profile, "story-x", (), Decision("x", "story-x", "new", 0.0))
    with pytest.raises(TypeError, match="member x must hold a packed vector"):
        index.insert(member, ())
    index.insert(Member(profile.packed(), "story-x", (), member.decision), ())
    assert index.stories["story-x"].alone == Packed.of({"lake": 1.0})

"""Three reports of one event: a hand-set model keeps the first two apart, the third bridges them.

The model is set by hand (not the fitted weights), so that tests about merging
are about merging; a test sets its join and merge bar between the scores it
wants apart and those it wants joined (``bar_between``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from feedsvc.stories import StoryItem
from feedsvc.stories.scoring import FEATURES, StoryModel

T0 = datetime(2031, 5, 6, 8, 0, tzinfo=UTC)

BRIDGE = [
    StoryItem(
        "a1", "Velmora council votes to close Hallan bridge",
        "Velmora city council voted to close the Hallan bridge to traffic after engineers "
        "found cracks in its main span.", "Outlet A", T0,
    ),
    StoryItem(
        "b1", "Engineers find cracks in span of Hallan bridge",
        "Inspectors from the regional roads agency reported cracks in the main span of the "
        "Hallan bridge in Velmora.", "Outlet B", T0 + timedelta(minutes=30),
    ),
    StoryItem(
        "c1", "Hallan bridge closure: council cites cracks found by engineers",
        "Velmora's council closed the Hallan bridge after engineers from the roads agency "
        "found cracks in the main span, the council and the agency said.",
        "Outlet C", T0 + timedelta(hours=1),
    ),
]  # fmt: skip


def hand_model() -> StoryModel:
    """The hand-set model, with a bar nothing reaches (a probe: every item apart)."""
    hand = {"centroid": 6.0, "best": 4.0, "second": 1.0, "names": 0.3, "numbers": 0.3}
    hand |= {"words": 0.8, "outlet": -0.5, "size": 0.1, "evidence": -0.2}
    weights = tuple(hand[f] for f in FEATURES)
    return StoryModel(bias=-4.0, weights=weights, join_threshold=0.9999, merge_threshold=0.9999)


def bar_between(apart: float, joined: float) -> StoryModel:
    """The hand-set model joining and merging at the midpoint of two scores (``apart`` lower)."""
    assert apart < joined, (apart, joined)
    bar = (apart + joined) / 2
    return hand_model().with_thresholds(join=bar, merge=bar)

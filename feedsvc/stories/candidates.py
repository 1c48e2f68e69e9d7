"""The same-event layer's candidates: which active stories an item is scored against, and how.

``find_candidates`` finds the stories that share heavy terms with an item
through the window's inverted indexes (``index.py``), ranks them by a cheap
partial similarity and scores the best few exactly: the model's signals
(``scoring.FEATURES``) against each, its probability, and the fixed time prior
(``TimePrior``). ``pair_features`` gives the same signals for two items, as
``StoryEngine.explain`` shows them. Pure: no I/O, and nothing here changes the
index; the engine (``engine.py``) decides with what it returns.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass
from datetime import datetime
from itertools import islice
from operator import itemgetter

from feedsvc.stories.index import ActiveIndex, StoryRecord
from feedsvc.stories.model import Signals, StoryParams
from feedsvc.stories.scoring import FEATURES, sigmoid
from feedsvc.stories.signals import Profile, cosine_words, is_date_only, variants

_LN2 = math.log(2.0)
_DAY = 86400.0
# A story whose partial similarity to the item is below this is not scored.
_MIN_PROXY = 0.01
# Stories are ranked through the members with the largest partial dot products:
# members are visited best first until this many stories are found, or this many
# members were visited.
_LEADING_STORIES = 16
_LEADING_WALK = 96


@dataclass(slots=True)
class Candidate:
    """A story scored against the incoming item: its signals, probability and score."""

    story: str
    score: float
    probability: float
    decay: float
    features: tuple[float, ...]
    best: float
    best_member: str | None

    def signals(self) -> Signals:
        """The signals of a decision: each feature, the probability, time prior and score."""
        signals = {name: round(v, 4) for name, v in zip(FEATURES, self.features, strict=True)}
        signals.update(
            {"p_same": round(self.probability, 4), "time_prior": round(self.decay, 4),
             "score": round(self.score, 4)}
        )  # fmt: skip
        return Signals(signals)


@dataclass(frozen=True, slots=True)
class TimePrior:
    """The fixed time factor of the score: halves with every ``time_half_life`` of gap."""

    rate: float  # ln 2 per second of half-life
    grace: float  # seconds taken off the gap between two bare dates
    free: float  # seconds of gap that are free between two full texts
    full_text_terms: int  # word terms each of two items needs to count as a full text

    @classmethod
    def of(cls, params: StoryParams) -> TimePrior:
        """The time prior configured by ``params``."""
        return cls(
            _LN2 / params.time_half_life.total_seconds(),
            params.date_only_grace.total_seconds(),
            params.time_grace.total_seconds(),
            params.full_text_terms,
        )

    def decay(
        self, when: float, other: datetime | float, other_dated: bool, full: bool = False
    ) -> float:
        """Return the time prior between a time and another (a story's mean, or an item's).

        It halves with every ``time_half_life`` of gap; between two ``full``
        texts the first ``time_grace`` of gap is free. Between two bare dates
        (outlets that date by the day follow an event day after day) the gap is
        reduced by ``date_only_grace``; between a bare date and a time, by the
        one day the date stands for.
        """
        if isinstance(other, datetime):
            other_dated = is_date_only(other)
            other = other.timestamp()
        gap = abs(when - other) - (self.free if full else 0.0)
        when_dated = when % _DAY == 0
        if other_dated and when_dated:
            gap -= self.grace
        elif other_dated or when_dated:
            gap -= _DAY  # a bare date against a time: the date stands for its whole day
        return math.exp(-self.rate * max(0.0, gap))

    def full_texts(self, terms: int, other: Profile | None) -> bool:
        """Whether an item of ``terms`` word terms and ``other`` are both full texts, not headlines.

        A headline alone is thin evidence, and time does most of the work; two
        articles carry enough content for a follow-up hours later to be judged
        on it, so the time prior's grace applies between them only.
        """
        if other is None:
            return False
        return min(terms, other.terms) >= self.full_text_terms

    def to_story(self, when: float, rec: StoryRecord, full: bool) -> float:
        """Return the time prior between an item's time and a story.

        The gap runs to the story's mean publication time, so a story does not
        drift along with its latest members. Bare dates (outlets that date by
        the day, like print) follow up day after day: when the item or every
        member of the story carries a bare date, the story's latest date
        counts too, whichever is nearer.
        """
        dated = rec.date_only()
        prior = self.decay(when, rec.mean_time(), dated, full)
        if (dated or when % 86400 == 0) and rec.last is not None:
            prior = max(prior, self.decay(when, rec.last.timestamp(), dated, full))
        return prior


def _evidence(terms: int, other: Profile | None) -> float:
    """The ``evidence`` feature: how much text the shorter of the two compared items has.

    Symmetric, so two items decide alike whichever arrives first.
    """
    if other is not None:
        terms = min(terms, other.terms)
    return math.log1p(terms)


def find_candidates(
    profile: Profile, index: ActiveIndex, params: StoryParams, prior: TimePrior
) -> list[Candidate]:
    """Score the stories that share heavy terms with the item, best first.

    Stories and members are found through the item's ``lookup_terms``
    heaviest terms; the ``scored_candidates`` stories with the largest
    partial similarity (summed vector plus best member) are then scored
    exactly.
    """
    p = params
    vector = profile.vector
    heavy = list(islice(vector.items(), p.lookup_terms))  # the vector is heaviest first
    story_dots, member_dots = index.lookup(heavy)
    best = index.leading_members(member_dots, _LEADING_STORIES, _LEADING_WALK)
    stories = index.stories
    # partial similarity: summed vector plus best member; a story whose best
    # member is not among the leading members counts its sum twice, as a
    # one-member story (not in the story index) counts its member twice
    centroids = {s: d * stories[s].inv_norm for s, d in story_dots.items()}
    proxy = {s: c + c for s, c in centroids.items()}
    for s, top in best.items():
        lead = top[0][0]
        proxy[s] = centroids.get(s, lead) + lead
    ranked = heapq.nlargest(p.scored_candidates, proxy.items(), key=itemgetter(1, 0))
    wanting = [s for s, _ in ranked if len(best.get(s, ())) < min(2, len(stories[s].members))]
    if wanting:
        best.update(index.best_members(member_dots, set(wanting)))
    when = profile.published.timestamp()
    terms = profile.terms
    scored = [
        _score(profile, s, best.get(s, []), when, terms, index, params, prior)
        for s, value in ranked
        if value >= _MIN_PROXY
    ]
    return sorted(scored, key=lambda c: (-c.score, c.story))


def _score(
    profile: Profile,
    story: str,
    found: list[tuple[float, str]],
    when: float,
    terms: int,
    index: ActiveIndex,
    params: StoryParams,
    prior: TimePrior,
) -> Candidate:
    """Compute the signals of an item against one story, and the model's score."""
    rec = index.stories[story]
    members = index.members
    single = len(rec.members) == 1
    if single:
        found = [(0.0, next(iter(rec.members)))]
        centroid = 0.0  # the member's cosine, below
    else:
        centroid = index.centroid_dot(profile.vector, rec)
    best = second = 0.0
    best_member: str | None = None
    names = numbers = words = 0
    for _, member in found:
        other = members[member].profile
        cos, shared = cosine_words(profile.vector, other.vector)
        if single:
            centroid = cos
        gained, variant_pairs = variants(profile, other)
        sim = cos + gained
        if best_member is None or (sim, member) > (best, best_member):
            second = best
            best, best_member = sim, member
            names = len(profile.names & other.names) + variant_pairs
            numbers = len(profile.numbers & other.numbers)
            words = shared
        else:
            second = sim
    nearest = members[best_member].profile if best_member else None
    features = (
        centroid,
        best,
        second,
        math.log1p(names),
        math.log1p(numbers),
        math.log1p(words),
        1.0 if profile.outlet in rec.outlets else 0.0,
        math.log1p(len(rec.members)),
        _evidence(terms, nearest),
    )
    probability = sigmoid(params.model.logit(features))
    decay = prior.to_story(when, rec, prior.full_texts(terms, nearest))
    return Candidate(story, probability * decay, probability, decay, features, best, best_member)


def pair_features(item: Profile, other: Profile) -> tuple[float, ...]:
    """The model's signals for an item against another item taken as a one-member story."""
    cos, shared = cosine_words(item.vector, other.vector)
    gained, pairs = variants(item, other)
    return (
        cos,
        cos + gained,
        0.0,
        math.log1p(len(item.names & other.names) + pairs),
        math.log1p(len(item.numbers & other.numbers)),
        math.log1p(shared),
        1.0 if item.outlet == other.outlet else 0.0,
        math.log1p(1),
        _evidence(item.terms, other),
    )

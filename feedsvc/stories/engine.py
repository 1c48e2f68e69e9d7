"""The incremental story engine: assigns each new item to a story, cheapest layer first.

Layers, in order: (1) exact copies: same item id or URL, or the same text
(content hash or normalised words) of 8 words or more; (2) near-duplicate
reprints: estimated word-3-shingle Jaccard >= 0.60 with a candidate's best
member; (3) same event:
a learned score against the candidate stories found through an inverted
index. Otherwise the item founds a new story whose id is derived from the item
id, so re-running over the same items gives the same ids.

The same-event score of an item against a candidate story (found and scored
in ``candidates.py``) is::

    P(same story | signals) x 2^(-gap / 1 day)

P is a logistic model (``scoring.py``: weights fitted on the development data
by ``bench/fit_story_model.py``, shipped in ``weights.json``) over the
signals of ``scoring.FEATURES``: cosines with the story's summed vector and
its two best members (names spelled differently counting as shared), shared
names, numbers and words, outlet, story size and how much text the item has.
The second factor is a fixed time prior, not learned: the gap runs to the
story's mean publication time, less two days when a timestamp is a bare date.
The item joins the best story whose score reaches the calibrated
``join_threshold``. Stories merge, keeping the oldest id and recording the
others as aliases, when one item scores ``merge_threshold`` against several
and all but the largest hold at most ``merge_max_members`` members (a merge
repairs a story that began as fragments). ``docs/stories.md`` tells how all
of it was chosen, with the cross-validated figures.

Only stories active in the time window are held, in ``index.py``; older members
are evicted as time moves on, so one item costs the same however large the
archive. The engine holds no SQL and does no I/O: the store persists the
``Decision`` records (and ``state()``) it returns. It pickles, and decides the
same after a round trip, in any process.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from typing import cast

from feedsvc.stories.candidates import Candidate, TimePrior, find_candidates, pair_features
from feedsvc.stories.idf import DocFreq
from feedsvc.stories.index import ActiveIndex, Member
from feedsvc.stories.model import (
    Decision,
    Explanation,
    Signals,
    Story,
    StoryItem,
    StoryParams,
    StoryState,
)
from feedsvc.stories.signals import (
    Profile,
    build_vector,
    counted_terms,
    pair_signals,
    spelled_names,
)
from feedsvc.stories.stored import read_features
from feedsvc.stories.text import WordCache, analyse, hash_text, sketch_jaccard

log = logging.getLogger("feedsvc.stories.engine")

# A reprint with small edits shares almost all weighted terms; below this cosine
# the (costlier) shingle comparison is not even tried.
_NEAR_DUPLICATE_MIN_COSINE = 0.5


def word_terms(vector: Mapping[str, float]) -> int:
    """How many single-word terms (not phrases) a vector holds: how much text an item has."""
    return sum(1 for term in vector if "_" not in term)


def story_id_for(item_id: str) -> str:
    """Return the stable id of a story founded by ``item_id``."""
    return f"story-{hash_text(item_id):016x}"


class StoryEngine:
    """Groups items into stories incrementally and deterministically.

    The engine pickles: ``pickle.loads(pickle.dumps(engine))`` continues with
    the same decisions as the engine it was taken from.
    """

    def __init__(self, params: StoryParams | None = None, state: StoryState | None = None) -> None:
        self.params = params or StoryParams()
        self._idf = DocFreq(self.params.idf_half_life_items, self.params.idf_prior_docs)
        aliases = dict(state.aliases) if state else {}
        p = self.params
        founded = state.founded if state else {}
        self._index = ActiveIndex(p.window, p.max_postings, p.member_terms, aliases, founded)
        self._known: dict[str, str] = dict(state.assignments) if state else {}
        self._words = WordCache()
        self._prior = TimePrior.of(p)

    # ------------------------------------------------------------------ public

    def add(self, item: StoryItem) -> Decision:
        """Assign ``item`` to a story and return the decision (idempotent per id)."""
        if item.id in self._index.members:
            return self._index.members[item.id].decision
        self._index.advance(item.published)
        profile, fingerprint = self._profile(item)
        keys = _exact_keys(item, fingerprint)
        decision = self._decide(item, profile, keys)
        self._count_terms(profile.vector, decision.story_id)
        member = Member(profile.packed(), decision.story_id, keys, decision, item.url is not None)
        self._index.insert(member, decision.merged)
        log.debug(
            "story decision item=%s story=%s layer=%s score=%.3f",
            item.id, decision.story_id, decision.layer, decision.score,
        )  # fmt: skip
        return decision

    def advance(self, now: datetime) -> None:
        """Move the clock to ``now`` (never back), as an item published then would.

        What is older than the window before ``now`` leaves it; ``add`` does
        this with each item's publication time.
        """
        self._index.advance(now)

    def story_of(self, item_id: str) -> str:
        """Return the current story id of an item in the window or in the restored state.

        Raises KeyError for an item evicted from the window (the store knows it).
        """
        member = self._index.members.get(item_id)
        story = member.story if member else self._known.get(item_id)
        if story is None:
            raise KeyError(item_id)
        return self.resolve(story)

    def resolve(self, story_id: str) -> str:
        """Follow aliases from a merged-away story id to the id that absorbed it."""
        return self._index.resolve(story_id)

    def story(self, story_id: str) -> Story:
        """Return an active story with its representative chosen by the configured rule."""
        found, rep, _, founded = self.shape(story_id)
        rec = self._index.stories[found]
        members = sorted(rec.members, key=lambda m: (self._index.members[m].profile.published, m))
        aliases = tuple(sorted(rec.aliases))
        return Story(found, rep, tuple(m for m in members if m != rep), aliases, founded)

    def shape(self, story_id: str) -> tuple[str, str, int, datetime]:
        """An active story's id, representative, member count and founding time.

        What ``story`` says of it, without putting its members in order: a
        round asks this after every decision, and a story of hundreds of
        members would be sorted again each time.
        """
        rec = self._index.stories[self.resolve(story_id)]
        rep = min(rec.members, key=self._representative_key)
        return rec.id, rep, len(rec.members), rec.founded

    def active_stories(self) -> list[str]:
        """Return the ids of the stories held in the window, sorted."""
        return sorted(self._index.stories)

    def state(self) -> StoryState:
        """Return what the store must keep: assignments and aliases so far."""
        known = dict(self._known)
        known.update({m: rec.story for m, rec in self._index.members.items()})
        return StoryState(assignments=known, aliases=dict(self._index.aliases))

    def snapshot_parts(self, members_per_part: int = 2000) -> Iterator[object]:
        """The engine in parts to pickle one at a time: all but its members, then its members.

        Pickled apart, each part's pickler remembers only that part's objects:
        writing a window needs a few MB beside it, not a fifth of it more.
        ``from_snapshot_parts`` puts the parts back together.
        """
        shell = copy.copy(self)
        shell._index = self._index.shell()
        yield shell
        yield from self._index.member_slices(members_per_part)

    @staticmethod
    def from_snapshot_parts(parts: Iterable[object]) -> StoryEngine:
        """The engine whose ``snapshot_parts`` were unpickled as ``parts``, in order."""
        pieces = iter(parts)
        engine = next(pieces, None)
        if not isinstance(engine, StoryEngine):
            raise ValueError("snapshot parts must begin with an engine")
        engine._index.take_members(cast("Iterator[list[tuple[str, Member]]]", pieces))
        return engine

    def drop_caches(self) -> None:
        """Free what the engine keeps only to go faster (the memo of text it has read).

        Decisions do not depend on it: a pickled engine starts without it too.
        Worth doing before pickling, which needs memory of its own.
        """
        self._words.clear()

    def explain(self, a_id: str, b_id: str) -> Explanation:
        """Compare two active items: signals, the model's view, and why they share a story or not.

        The signals compare the two items as if the earlier were a one-member
        story; ``model.*`` entries are each signal's contribution to the
        log-odds, ``p_same`` the model's probability and ``time_prior`` the
        time factor; their product is the score set against the threshold.
        """
        a, b = self._index.members[a_id], self._index.members[b_id]
        first, later = sorted((a, b), key=lambda m: (m.profile.published, m.profile.item_id))
        signals = pair_signals(a.profile, b.profile)
        values = pair_features(later.profile, first.profile)
        model = self.params.model
        probability = model.probability(values)
        full = self._prior.full_texts(later.profile.terms, first.profile)
        decay = self._prior.decay(
            later.profile.published.timestamp(), first.profile.published, False, full
        )
        score = probability * decay
        signals.update({"p_same": round(probability, 4), "time_prior": round(decay, 4)})
        contributions = model.contributions(values).items()
        signals.update({f"model.{k}": round(v, 4) + 0.0 for k, v in contributions})
        story_a, story_b = self.resolve(a.story), self.resolve(b.story)
        same = story_a == story_b
        reason = self._reason(later, same, score, probability, decay)
        return Explanation(a_id, b_id, same, story_a, story_b, signals, round(score, 4), reason)

    # ------------------------------------------------------------------ deciding

    def _profile(self, item: StoryItem) -> tuple[Profile, str | None]:
        """Analyse an item (or read its stored analysis) into its profile and text fingerprint."""
        p = self.params
        analysed = read_features(item.features, item.title, item.text, p.lead_words)
        if analysed is None:
            analysed = analyse(item.title, item.text, p.lead_words, self._words)
        vector = build_vector(analysed, self._idf, p)
        profile = Profile(
            item.id, item.outlet, item.published, vector, analysed.names, analysed.numbers,
            analysed.shingles, analysed.length, spelled_names(analysed.names, vector),
            word_terms(vector),
        )  # fmt: skip
        return profile, analysed.fingerprint if analysed.words >= 8 else None

    def _decide(self, item: StoryItem, profile: Profile, keys: tuple[str, ...]) -> Decision:
        """Run the three layers in order and return the first that places the item."""
        known = self._known.get(item.id)
        if known is not None:
            return Decision(item.id, self.resolve(known), "exact", 1.0, None, {"restored": 1.0})
        for key in keys:
            other = self._index.key_holder(key)
            if other is not None:
                story = self.resolve(self._index.members[other].story)
                return Decision(item.id, story, "exact", 1.0, other, {"key": 1.0})
        candidates = self._candidates(profile)
        return self._near_duplicate(profile, candidates) or self._same_event(profile, candidates)

    def _near_duplicate(self, profile: Profile, candidates: list[Candidate]) -> Decision | None:
        """Return a near-duplicate decision if a candidate's best member shares most shingles."""
        if len(profile.shingles) < 5:
            return None
        for cand in candidates:
            if cand.best_member is None or cand.best < _NEAR_DUPLICATE_MIN_COSINE:
                continue
            other = self._index.members[cand.best_member].profile
            overlap = sketch_jaccard(profile.shingles, other.shingles)
            if overlap >= self.params.near_duplicate_threshold and len(other.shingles) >= 5:
                signals = Signals(
                    {"shingle_jaccard": round(overlap, 4), "cosine": round(cand.best, 4)}
                )
                return Decision(
                    profile.item_id, cand.story, "near-duplicate", overlap, other.item_id, signals
                )
        return None

    def _same_event(self, profile: Profile, candidates: list[Candidate]) -> Decision:
        """Join the best story above threshold (merging others above the merge bar) or found one."""
        p = self.params
        above = [c for c in candidates if c.score >= p.same_event_threshold]
        if not above:
            best = candidates[0].score if candidates else 0.0
            return Decision(profile.item_id, story_id_for(profile.item_id), "new", best)
        top = above[0]
        merging = [c.story for c in above if c.score >= p.merge_threshold]
        if len(merging) > 1:
            merging = self._mergeable(top.story, merging)
        target = self._oldest([top.story, *merging])
        merged = tuple(sorted(s for s in {top.story, *merging} if s != target))
        return Decision(
            profile.item_id, target, "same-event", top.score, top.best_member,
            top.signals(), merged,
        )  # fmt: skip

    def _mergeable(self, top: str, stories: list[str]) -> list[str]:
        """Keep the stories a bridging item may merge: all but the largest must be small.

        A merge repairs a story that began as fragments. Two stories that each
        grew past ``merge_max_members`` members without their members meeting
        are two stories, whatever one item that resembles both says.
        """
        records = self._index.stories
        largest = max(stories, key=lambda s: (len(records[s].members), s == top, s))
        limit = self.params.merge_max_members
        return [s for s in stories if s == largest or len(records[s].members) <= limit]

    def _oldest(self, story_ids: list[str]) -> str:
        """Return the story founded first (ties broken by id)."""
        return min(story_ids, key=lambda s: (self._index.stories[s].founded, s))

    def _candidates(self, profile: Profile) -> list[Candidate]:
        """Score the stories that share heavy terms with the item, best first.

        The work is ``candidates.find_candidates``'s; this method is the hook a
        subclass wraps to see every candidate (``bench/fit_story_model.py``).
        """
        return find_candidates(profile, self._index, self.params, self._prior)

    def _reason(
        self, later: Member, same: bool, score: float, probability: float, decay: float
    ) -> str:
        """Say in words why two items do or do not share a story."""
        threshold = self.params.same_event_threshold
        pair = (
            f"pair score {score:.3f} (P(same) {probability:.3f} x time prior {decay:.3f}) "
            f"vs threshold {threshold:.3f}"
        )
        if not same:
            return f"different stories: {pair}"
        d = later.decision
        via = f" via {d.matched_item}" if d.matched_item else ""
        return (
            f"same story: {later.profile.item_id} joined by {d.layer} "
            f"({d.score:.3f} against its story){via}; {pair}"
        )

    def _representative_key(self, member_id: str) -> tuple[float, float, datetime, str]:
        """Sort key that puts the representative first under the configured rule.

        Under every rule a member with a public URL goes before one without (a
        local text drop), so the story's feed entry links somewhere.
        """
        member = self._index.members[member_id]
        prof, unlinked = member.profile, 0.0 if member.linked else 1.0
        rule = self.params.representative
        if rule == "most-complete":
            return (unlinked, -float(prof.length), prof.published, member_id)
        if rule == "source-priority":
            order = self.params.source_priority
            rank = order.index(prof.outlet) if prof.outlet in order else len(order)
            return (unlinked, float(rank), prof.published, member_id)
        return (unlinked, 0.0, prof.published, member_id)

    # ------------------------------------------------------------------ bookkeeping

    def _count_terms(self, vector: Mapping[str, float], story_id: str) -> None:
        """Count in the idf table the terms this item brings to its story (once per story)."""
        rec = self._index.stories.get(story_id)
        terms = counted_terms(vector)
        if rec is None or not self.params.idf_per_story:
            self._idf.add(terms)
        else:
            summed = rec.alone.unpacked() if rec.alone is not None else rec.total
            self._idf.add(t for t in terms if t not in summed)


def _exact_keys(item: StoryItem, fingerprint: str | None) -> tuple[str, ...]:
    """Return the exact-copy keys of an item: URL, and content hash and text fingerprint.

    The text's keys only when it has the fingerprint's eight words: two outlets'
    equal bare headlines ("Live updates") or empty entries are not copies.
    """
    keys = [f"fp:{fingerprint}"] if fingerprint else []
    if item.url:
        keys.append(f"url:{item.url}")
    if item.content_hash and fingerprint:
        keys.append(f"hash:{item.content_hash}")
    return tuple(keys)

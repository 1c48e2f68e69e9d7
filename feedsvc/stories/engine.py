"""The incremental story engine: assigns each new item to a story, cheapest layer first.

Layers, in order: (1) exact copies: same item id, URL, content hash or
normalised text (8 words or more); (2) near-duplicate reprints: estimated
word-3-shingle Jaccard >= 0.60 with a candidate's best member; (3) same event:
a score against candidate stories found through an inverted index, joined at
>= 0.18. Otherwise the item founds a new story whose id is derived from the
item id, so re-running over the same items gives the same ids.

The same-event score (defaults of ``StoryParams``)::

    (0.6 x cos(item, story centroid) + 0.4 x cos(item, best member))
    x 2^(-gap / 1 day)   (gap less one day when a timestamp is a bare date)
    x 0.75 if the item's outlet is already in the story
    x 0.3 if the best member shares fewer than 2 words with the item

over tf-idf vectors (title words x2, first 300 body words, names x1.35,
numbers x0.6, neighbouring-word phrases x0.25, idf counted once per story).
Stories merge, keeping the oldest id and recording the others as aliases, when
their centroids reach a cosine of 0.24 (time-decayed) or an item scores 0.60
against several. One configuration for all kinds of input, chosen on the
development data as ``docs/stories.md`` tells, with the figures.

Only stories active in the time window are held, in ``index.py``; older members
are evicted as time moves on, so one item costs the same however large the
archive. The engine holds no SQL and does no I/O: the store persists the
``Decision`` records (and ``state()``) it returns.
"""

from __future__ import annotations

import heapq
import logging
from dataclasses import dataclass, replace
from datetime import datetime
from operator import itemgetter

from feedsvc.stories.idf import DocFreq
from feedsvc.stories.index import ActiveIndex, Member
from feedsvc.stories.model import Decision, Explanation, Story, StoryItem, StoryParams, StoryState
from feedsvc.stories.signals import (
    Profile,
    build_vector,
    counted_terms,
    pair_signals,
    shared_words,
    time_decay,
    time_gap,
)
from feedsvc.stories.text import WordCache, analyse, hash_text, sketch_jaccard

log = logging.getLogger("feedsvc.stories.engine")

# A reprint with small edits shares almost all weighted terms; below this cosine
# the (costlier) shingle comparison is not even tried.
_NEAR_DUPLICATE_MIN_COSINE = 0.5


@dataclass(slots=True)
class _Candidate:
    """A story scored against the incoming item."""

    story: str
    score: float
    centroid: float
    best: float
    best_member: str | None


def story_id_for(item_id: str) -> str:
    """Return the stable id of a story founded by ``item_id``."""
    return f"story-{hash_text(item_id):016x}"


class StoryEngine:
    """Groups items into stories incrementally and deterministically."""

    def __init__(self, params: StoryParams | None = None, state: StoryState | None = None) -> None:
        self.params = params or StoryParams()
        self._idf = DocFreq(self.params.idf_half_life_items, self.params.idf_prior_docs)
        aliases = dict(state.aliases) if state else {}
        self._index = ActiveIndex(self.params.window, self.params.max_postings, aliases)
        self._known: dict[str, str] = dict(state.assignments) if state else {}
        self._words = WordCache()

    # ------------------------------------------------------------------ public

    def add(self, item: StoryItem) -> Decision:
        """Assign ``item`` to a story and return the decision (idempotent per id)."""
        if item.id in self._index.members:
            return self._index.members[item.id].decision
        self._index.advance(item.published)
        analysed = analyse(item.title, item.text, self.params.lead_words, self._words)
        vector = build_vector(analysed, self._idf, self.params)
        profile = Profile(
            item.id, item.outlet, item.published, vector, analysed.names, analysed.shingles,
            analysed.length,
        )  # fmt: skip
        keys = _exact_keys(item, analysed.fingerprint if analysed.words >= 8 else None)
        decision = self._decide(item, profile, keys)
        self._count_terms(vector, decision.story_id)
        member = Member(profile, decision.story_id, keys, decision, item.url is not None)
        self._index.insert(member, decision.merged)
        if decision.layer in ("same-event", "near-duplicate"):
            decision = self._merge_similar_stories(decision)
        log.debug(
            "story decision item=%s story=%s layer=%s score=%.3f",
            item.id, decision.story_id, decision.layer, decision.score,
        )  # fmt: skip
        return decision

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
        rec = self._index.stories[self.resolve(story_id)]
        members = sorted(rec.members, key=lambda m: (self._index.members[m].profile.published, m))
        rep = min(members, key=self._representative_key)
        aliases = tuple(sorted(rec.aliases))
        return Story(rec.id, rep, tuple(m for m in members if m != rep), aliases)

    def active_stories(self) -> list[str]:
        """Return the ids of the stories held in the window, sorted."""
        return sorted(self._index.stories)

    def state(self) -> StoryState:
        """Return what the store must keep: assignments and aliases so far."""
        known = dict(self._known)
        known.update({m: rec.story for m, rec in self._index.members.items()})
        return StoryState(assignments=known, aliases=dict(self._index.aliases))

    def explain(self, a_id: str, b_id: str) -> Explanation:
        """Compare two active items: their signals, score, and why they share a story or not."""
        a, b = self._index.members[a_id], self._index.members[b_id]
        signals = pair_signals(a.profile, b.profile, self.params)
        score = self._pair_score(a.profile, b.profile, signals["cosine"])
        story_a, story_b = self.resolve(a.story), self.resolve(b.story)
        same = story_a == story_b
        reason = self._reason(a, b, same, score)
        return Explanation(a_id, b_id, same, story_a, story_b, signals, round(score, 4), reason)

    # ------------------------------------------------------------------ deciding

    def _decide(self, item: StoryItem, profile: Profile, keys: tuple[str, ...]) -> Decision:
        """Run the three layers in order and return the first that places the item."""
        known = self._known.get(item.id)
        if known is not None:
            return Decision(item.id, self.resolve(known), "exact", 1.0, None, {"restored": 1.0})
        for key in keys:
            if key in self._index.keys:
                other = self._index.keys[key]
                story = self.resolve(self._index.members[other].story)
                return Decision(item.id, story, "exact", 1.0, other, {"key": 1.0})
        candidates = self._candidates(profile)
        return self._near_duplicate(profile, candidates) or self._same_event(profile, candidates)

    def _near_duplicate(self, profile: Profile, candidates: list[_Candidate]) -> Decision | None:
        """Return a near-duplicate decision if a candidate's best member shares most shingles."""
        if len(profile.shingles) < 5:
            return None
        for cand in candidates[:5]:
            if cand.best_member is None or cand.best < _NEAR_DUPLICATE_MIN_COSINE:
                continue
            other = self._index.members[cand.best_member].profile
            overlap = sketch_jaccard(profile.shingles, other.shingles)
            if overlap >= self.params.near_duplicate_threshold and len(other.shingles) >= 5:
                signals = {"shingle_jaccard": round(overlap, 4), "cosine": round(cand.best, 4)}
                return Decision(
                    profile.item_id, cand.story, "near-duplicate", overlap, other.item_id, signals
                )
        return None

    def _same_event(self, profile: Profile, candidates: list[_Candidate]) -> Decision:
        """Join the best story above threshold (merging others above the merge bar) or found one."""
        p = self.params
        above = [c for c in candidates if c.score >= p.same_event_threshold]
        if not above:
            best = candidates[0].score if candidates else 0.0
            return Decision(profile.item_id, story_id_for(profile.item_id), "new", best)
        top = above[0]
        merging = [c.story for c in above if c.score >= p.merge_threshold]
        target = self._oldest([top.story, *merging])
        signals = {"score": round(top.score, 4), "centroid": round(top.centroid, 4),
                   "best_member": round(top.best, 4)}  # fmt: skip
        merged = tuple(sorted(s for s in {top.story, *merging} if s != target))
        return Decision(
            profile.item_id, target, "same-event", top.score, top.best_member, signals, merged
        )

    def _merge_similar_stories(self, decision: Decision) -> Decision:
        """Merge into one the stories whose centroids now resemble the item's story."""
        p = self.params
        rec = self._index.stories[decision.story_id]
        links = self._index.story_links(rec, p.story_link_terms, p.story_merge_threshold)
        similar = sorted(
            s
            for s, cos in links.items()
            if cos * self._decay(rec.last, self._index.stories[s].last) >= p.story_merge_threshold
        )
        if not similar:
            return decision
        target = self._oldest([rec.id, *similar])
        for other in sorted({rec.id, *similar} - {target}):
            self._index.merge(other, target)
        merged = tuple(sorted({*decision.merged, *similar, rec.id} - {target}))
        new = replace(decision, story_id=target, merged=merged)
        self._index.members[decision.item_id].decision = new
        return new

    def _decay(self, a: datetime | None, b: datetime | None) -> float:
        """Return the time-decay factor between two times (1 when one is unknown)."""
        if a is None or b is None:
            return 1.0
        gap = time_gap(a, b, self.params.date_only_grace)
        return time_decay(gap, self.params.time_half_life)

    def _oldest(self, story_ids: list[str]) -> str:
        """Return the story founded first (ties broken by id)."""
        return min(story_ids, key=lambda s: (self._index.stories[s].founded, s))

    def _candidates(self, profile: Profile) -> list[_Candidate]:
        """Score the stories that share indexed terms with the item, best first."""
        centroid = self._index.centroid_cosines(profile.vector)
        shortlist = heapq.nlargest(self.params.max_candidates, centroid.items(), key=itemgetter(1))
        best = self._index.best_members(profile.vector, {s for s, _ in shortlist})
        scored = [self._score(profile, s, cos, best.get(s)) for s, cos in shortlist]
        return sorted(scored, key=lambda c: (-c.score, c.story))

    def _score(
        self, profile: Profile, story: str, centroid: float, best: tuple[float, str] | None
    ) -> _Candidate:
        """Combine centroid and best-member similarity, time gap and outlet into one score."""
        best_dot, best_member = best if best else (0.0, None)
        p = self.params
        rec = self._index.stories[story]
        score = p.centroid_weight * centroid + (1.0 - p.centroid_weight) * best_dot
        score *= self._decay(profile.published, rec.last)
        if profile.outlet in rec.outlets:
            score *= p.same_outlet_factor
        if score >= p.same_event_threshold and best_member is not None:
            shared = shared_words(profile.vector, self._index.members[best_member].profile.vector)
            if shared < p.min_shared_words:
                score *= p.thin_evidence_factor
        return _Candidate(story, score, centroid, best_dot, best_member)

    def _pair_score(self, a: Profile, b: Profile, cos: float) -> float:
        """Score two items as ``_score`` would score a one-member story."""
        p = self.params
        gap = time_gap(a.published, b.published, p.date_only_grace)
        score = cos * time_decay(gap, p.time_half_life)
        if a.outlet == b.outlet:
            score *= p.same_outlet_factor
        if shared_words(a.vector, b.vector) < p.min_shared_words:
            score *= p.thin_evidence_factor
        return score

    def _reason(self, a: Member, b: Member, same: bool, score: float) -> str:
        """Say in words why two items do or do not share a story."""
        p = self.params
        if not same:
            return (
                f"different stories: pair score {score:.3f} vs threshold {p.same_event_threshold}"
            )
        later = a if (a.profile.published, a.profile.item_id) > (
            b.profile.published, b.profile.item_id) else b  # fmt: skip
        d = later.decision
        via = f" via {d.matched_item}" if d.matched_item else ""
        return f"same story: {later.profile.item_id} joined by {d.layer} ({d.score:.3f}){via}"

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

    def _count_terms(self, vector: dict[str, float], story_id: str) -> None:
        """Count in the idf table the terms this item brings to its story (once per story)."""
        rec = self._index.stories.get(story_id)
        terms = counted_terms(vector)
        if rec is None or not self.params.idf_per_story:
            self._idf.add(terms)
        else:
            self._idf.add(t for t in terms if t not in rec.total)


def _exact_keys(item: StoryItem, fingerprint: str | None) -> tuple[str, ...]:
    """Return the exact-copy keys of an item: URL, content hash and text fingerprint."""
    keys = [f"fp:{fingerprint}"] if fingerprint else []
    if item.url:
        keys.append(f"url:{item.url}")
    if item.content_hash:
        keys.append(f"hash:{item.content_hash}")
    return tuple(keys)

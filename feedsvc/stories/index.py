"""The in-memory index of the stories active in the time window.

Holds the active members (item profiles) and stories (summed vectors, outlets,
aliases), two inverted indexes (term → member weights, term → story centroid
weights), the exact-copy keys, and an expiry heap that evicts members whose
publication time left the window, so memory is bounded by the window and not
by the archive. It answers similarity look-ups (centroid and member cosines,
story-to-story links) but makes no decision: that is ``engine.py``. No I/O.
"""

from __future__ import annotations

import heapq
import logging
import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from operator import itemgetter

from feedsvc.stories.model import Decision
from feedsvc.stories.signals import Profile, cosine

log = logging.getLogger("feedsvc.stories.index")

# Members are looked up through this many of the item's heaviest terms.
MEMBER_LOOKUP_TERMS = 40

# A story whose summed vector meets the item's by less than this is no candidate
# (a centroid's norm is at least 1, so its cosine is smaller still).
_MIN_DOT = 0.01


@dataclass(slots=True)
class Member:
    """An active item: its profile, exact keys, the story it is in and its decision."""

    profile: Profile
    story: str
    keys: tuple[str, ...]
    decision: Decision
    linked: bool = True


@dataclass(slots=True)
class StoryRecord:
    """An active story: members, summed vector (centroid) and what is derived from it."""

    id: str
    founded: datetime
    members: list[str] = field(default_factory=list)
    total: dict[str, float] = field(default_factory=dict)
    norm2: float = 0.0
    inv_norm: float = 0.0
    last: datetime | None = None
    outlets: Counter[str] = field(default_factory=Counter)
    aliases: list[str] = field(default_factory=list)
    top_terms: list[str] = field(default_factory=list)
    top_at: int = 0


class ActiveIndex:
    """Members and stories of the window, with their inverted indexes."""

    def __init__(self, window: timedelta, max_postings: int, aliases: dict[str, str]) -> None:
        self.window = window
        self.max_postings = max_postings
        self.members: dict[str, Member] = {}
        self.stories: dict[str, StoryRecord] = {}
        self.aliases = aliases
        self.keys: dict[str, str] = {}
        self._postings: dict[str, dict[str, float]] = defaultdict(dict)
        self._story_postings: dict[str, dict[str, float]] = defaultdict(dict)
        self._expiry: list[tuple[datetime, str]] = []
        self._now: datetime | None = None

    # ------------------------------------------------------------------ look-ups

    def resolve(self, story_id: str) -> str:
        """Follow aliases from a merged-away story id to the id that absorbed it."""
        for _ in range(1000):
            if story_id not in self.aliases:
                break
            story_id = self.aliases[story_id]
        return story_id

    def centroid_cosines(self, vector: dict[str, float]) -> dict[str, float]:
        """Return the cosine of a vector with each story centroid sharing a term."""
        dots: dict[str, float] = defaultdict(float)
        for term, weight in vector.items():
            posting = self._story_postings.get(term)
            if posting is None or len(posting) > self.max_postings:
                continue
            for story, total in posting.items():
                dots[story] += weight * total
        stories = self.stories
        return {s: d * stories[s].inv_norm for s, d in dots.items() if d >= _MIN_DOT}

    def best_members(
        self, vector: dict[str, float], stories: set[str]
    ) -> dict[str, tuple[float, str]]:
        """Return, per story of ``stories``, its best-matching member and their cosine.

        Members are found through the vector's heaviest terms; the cosine with
        the member found is then computed exactly.
        """
        dots: dict[str, float] = defaultdict(float)
        for term, weight in heapq.nlargest(MEMBER_LOOKUP_TERMS, vector.items(), key=itemgetter(1)):
            posting = self._postings.get(term)
            if posting is None or len(posting) > self.max_postings:
                continue
            for member, w in posting.items():
                dots[member] += weight * w
        found: dict[str, tuple[float, str]] = {}
        for member, dot in dots.items():
            story = self.members[member].story
            if story in stories and (story not in found or (dot, member) > found[story]):
                found[story] = (dot, member)
        return {
            story: (cosine(vector, self.members[m].profile.vector), m)
            for story, (_, m) in found.items()
        }

    def story_links(self, rec: StoryRecord, top: int, floor: float) -> dict[str, float]:
        """Return the centroid cosine of ``rec`` with other stories, those >= ``floor``.

        Only the ``top`` heaviest terms of ``rec`` are looked up, and very common
        terms (long postings) are skipped.
        """
        dots: dict[str, float] = defaultdict(float)
        for term in self._top_terms(rec, top):
            posting = self._story_postings.get(term)
            if posting is None or len(posting) > self.max_postings:
                continue
            weight = rec.total[term]
            for story, total in posting.items():
                dots[story] += weight * total
        dots.pop(rec.id, None)
        links = {s: d * rec.inv_norm * self.stories[s].inv_norm for s, d in dots.items()}
        return {s: cos for s, cos in links.items() if cos >= floor}

    def _top_terms(self, rec: StoryRecord, top: int) -> list[str]:
        """Return the heaviest centroid terms of a story (recomputed as the story grows)."""
        size = len(rec.members)
        if size < 16 or size >= rec.top_at * 1.25 or not rec.top_terms:
            ranked = heapq.nlargest(top, rec.total.items(), key=itemgetter(1))
            rec.top_terms = [term for term, _ in ranked]
            rec.top_at = size
        return [t for t in rec.top_terms if t in rec.total]

    # ------------------------------------------------------------------ changes

    def insert(self, member: Member, merged: tuple[str, ...]) -> None:
        """Index a decided member into its story, first merging ``merged`` into that story."""
        profile, story = member.profile, member.story
        if story not in self.stories:
            self.stories[story] = StoryRecord(story, profile.published)
        for other in merged:
            self.merge(other, story)
        self.members[profile.item_id] = member
        for key in member.keys:
            self.keys.setdefault(key, profile.item_id)
        for term, weight in profile.vector.items():
            self._postings[term][profile.item_id] = weight
        self._add_to_story(self.stories[story], profile, 1.0)
        heapq.heappush(self._expiry, (profile.published, profile.item_id))

    def merge(self, old: str, into: str) -> None:
        """Move every member of story ``old`` into ``into`` and record the alias."""
        src = self.stories.pop(old)
        dst = self.stories[into]
        for member_id in list(src.members):
            member = self.members[member_id]
            self._add_to_story(src, member.profile, -1.0)
            member.story = into
            self._add_to_story(dst, member.profile, 1.0)
        self._drop_story_postings(src)
        for alias in (old, *src.aliases):
            self.aliases[alias] = into
        dst.aliases.extend([old, *src.aliases])
        log.info("stories merged alias=%s into=%s", old, into)

    def advance(self, now: datetime) -> None:
        """Move the clock to ``now`` (never backwards) and evict what left the window."""
        if self._now is None or now > self._now:
            self._now = now
        horizon = self._now - self.window
        while self._expiry and self._expiry[0][0] < horizon:
            _, item_id = heapq.heappop(self._expiry)
            self._evict(item_id)

    def _add_to_story(self, rec: StoryRecord, profile: Profile, sign: float) -> None:
        """Add (sign 1) or remove (sign -1) a member and its vector to a story."""
        self._shift_centroid(rec, profile.vector, sign)
        if sign > 0:
            rec.members.append(profile.item_id)
            rec.outlets[profile.outlet] += 1
            if rec.last is None or profile.published > rec.last:
                rec.last = profile.published
            return
        rec.members.remove(profile.item_id)
        rec.outlets[profile.outlet] -= 1
        if rec.outlets[profile.outlet] <= 0:
            del rec.outlets[profile.outlet]

    def _shift_centroid(self, rec: StoryRecord, vector: dict[str, float], sign: float) -> None:
        """Add ``sign`` times a vector to a story's summed vector and the story index."""
        for term, weight in vector.items():
            old = rec.total.get(term, 0.0)
            new = old + sign * weight
            rec.norm2 += new * new - old * old
            posting = self._story_postings[term]
            if abs(new) < 1e-9:
                rec.total.pop(term, None)
                posting.pop(rec.id, None)
                if not posting:
                    del self._story_postings[term]
            else:
                rec.total[term] = new
                posting[rec.id] = new
        rec.inv_norm = 1.0 / math.sqrt(rec.norm2) if rec.norm2 > 1e-12 else 0.0

    def _evict(self, item_id: str) -> None:
        """Forget an item that left the window (its story goes when its last member does)."""
        member = self.members.pop(item_id)
        for term in member.profile.vector:
            posting = self._postings[term]
            posting.pop(item_id, None)
            if not posting:
                del self._postings[term]
        for key in member.keys:
            if self.keys.get(key) == item_id:
                del self.keys[key]
        rec = self.stories[member.story]
        self._add_to_story(rec, member.profile, -1.0)
        if not rec.members:
            del self.stories[rec.id]
            self._drop_story_postings(rec)
            for alias in rec.aliases:
                self.aliases.pop(alias, None)

    def _drop_story_postings(self, rec: StoryRecord) -> None:
        """Remove an emptied story (and any rounding residue) from the story index."""
        for term in list(rec.total):
            posting = self._story_postings.get(term)
            if posting is not None:
                posting.pop(rec.id, None)
                if not posting:
                    del self._story_postings[term]
        rec.total.clear()

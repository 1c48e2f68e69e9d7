"""The in-memory index of the stories active in the time window.

Holds the active members (item profiles) and stories (summed vectors, outlets,
aliases), two inverted indexes (term → member weights, term → story centroid
weights), the exact-copy keys, and an expiry heap that evicts members whose
publication time left the window, so memory is bounded by the window and not
by the archive. It answers similarity look-ups (centroid and member cosines,
story-to-story similarity) but makes no decision: that is ``engine.py``. No I/O.
"""

from __future__ import annotations

import heapq
import logging
import math
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from itertools import islice
from operator import attrgetter, itemgetter, mul
from typing import Any

from feedsvc.stories.model import Decision
from feedsvc.stories.signals import Packed, Profile, is_date_only

log = logging.getLogger("feedsvc.stories.index")


@dataclass(slots=True)
class Member:
    """An active item: its profile (vector packed), exact keys, its story and its decision."""

    profile: Profile
    story: str
    keys: tuple[str, ...]
    decision: Decision
    linked: bool = True

    def __reduce__(self) -> tuple[type[Member], tuple[Any, ...]]:
        # the fields as arguments: cheaper both ways than a slotted dataclass's state
        return Member, _MEMBER_FIELDS(self)


_MEMBER_FIELDS = attrgetter(*(f.name for f in fields(Member)))


@dataclass(slots=True)
class StoryRecord:
    """An active story: members, summed vector (centroid) and what is derived from it.

    A story of one member has no sum of its own: ``alone`` is that member's
    (packed) vector, and ``total`` stays empty until a second member comes.
    """

    id: str
    founded: datetime
    members: dict[str, None] = field(default_factory=dict)
    total: dict[str, float] = field(default_factory=dict)
    alone: Packed | None = None
    norm2: float = 0.0
    inv_norm: float = 0.0
    last: datetime | None = None
    time_sum: float = 0.0
    dated: int = 0
    dated_sum: float = 0.0
    outlets: Counter[str] = field(default_factory=Counter)
    aliases: list[str] = field(default_factory=list)

    def mean_time(self) -> float:
        """Return the mean publication time of the members (POSIX seconds).

        Members with a bare date count only when no member has a time: a bare
        date says "that day", not midnight, and would pull the mean hours early.
        """
        timed = len(self.members) - self.dated
        if timed > 0:
            return (self.time_sum - self.dated_sum) / timed
        return self.time_sum / len(self.members) if self.members else 0.0

    def date_only(self) -> bool:
        """Tell whether every member carries a bare date."""
        return self.dated == len(self.members) > 0


class ActiveIndex:
    """Members and stories of the window, with their inverted indexes."""

    def __init__(
        self,
        window: timedelta,
        max_postings: int,
        member_terms: int,
        aliases: dict[str, str],
        founded: Mapping[str, datetime] | None = None,
    ) -> None:
        self.window = window
        self.max_postings = max_postings
        self.member_terms = member_terms
        self.members: dict[str, Member] = {}
        self.stories: dict[str, StoryRecord] = {}
        self.aliases = aliases
        # restored founding times, each taken when its story's record is made (``insert``)
        self._founded: dict[str, datetime] = dict(founded or {})
        # an exact-copy key's first active holder answers for it; the others wait, in
        # the order they came (kept apart: most keys have one holder, and a dict each
        # for 60,000 keys would be about 7 MB of the window)
        self.keys: dict[str, str] = {}
        self._waiting: dict[str, dict[str, None]] = {}
        self._postings: dict[str, dict[str, float]] = {}
        self._story_postings: dict[str, dict[str, float]] = {}
        self._expiry: list[tuple[datetime, str]] = []
        self._now: datetime | None = None
        self._members_follow = False  # a shell (``shell``): members come apart

    # ------------------------------------------------------------------ pickling

    def __getstate__(self) -> dict[str, object]:
        """What a snapshot keeps: what cannot be derived from the members and stories.

        The inverted indexes, the exact-copy keys, the expiry heap and the
        record of every story that is one member alone are rebuilt from the
        rest as it is read (``__setstate__``), exactly: less to write and
        read, and far fewer objects for the pickler to remember while it writes.
        """
        state = self.__dict__.copy()
        for derived in ("_postings", "_story_postings", "_expiry", "keys", "_waiting"):
            del state[derived]
        state["stories"] = {k: r for k, r in self.stories.items() if r.alone is None}
        if not self._members_follow:  # a shell's are set as it was made
            state["_founded"] = self._founding_to_keep()
        return state

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)
        self.__dict__.setdefault("_founded", {})
        self._members_follow = bool(state.get("_members_follow", False))
        if not self._members_follow:
            self._derive()

    def shell(self) -> ActiveIndex:
        """This index without its members, to pickle apart from them (see ``take_members``).

        A shallow copy: it shares everything else with this index, so it is
        for pickling at once, not for use.
        """
        shell = ActiveIndex.__new__(ActiveIndex)
        shell.__dict__.update(self.__dict__)
        shell._founded = self._founding_to_keep()  # while the members are at hand
        shell.members, shell._members_follow = {}, True
        return shell

    def _founding_to_keep(self) -> dict[str, datetime]:
        """The founding times a snapshot must carry beside the stories it keeps.

        Restored times not taken yet, and those of one-member stories whose
        time is not their member's date: a replay restores a story's founding
        time when its founder is not replayed, and pickling leaves a
        one-member story's record out (``_derive`` makes it again).
        """
        keep = dict(self._founded)
        for story, rec in self.stories.items():
            if rec.alone is not None:
                member = self.members[next(iter(rec.members))]
                if member.profile.published != rec.founded:
                    keep[story] = rec.founded
        return keep

    def member_slices(self, size: int) -> Iterator[list[tuple[str, Member]]]:
        """The members in insertion order, ``size`` at a time (the rest of a shell's state)."""
        entries = iter(self.members.items())
        while part := list(islice(entries, size)):
            yield part

    def take_members(self, slices: Iterable[list[tuple[str, Member]]]) -> None:
        """Complete an unpickled shell with its members, and rebuild what they determine."""
        if not self._members_follow:
            raise ValueError("only an unpickled shell takes members")
        for part in slices:
            self.members.update(part)
        self._members_follow = False
        self._derive()

    def _derive(self) -> None:
        """Rebuild from the members and stories what pickling leaves out, exactly."""
        self._postings, self._story_postings = {}, {}
        self.keys, self._waiting = {}, {}
        for item_id, member in self.members.items():  # in the order they were inserted
            self._post(item_id, _packed(member.profile))
            self._hold_keys(item_id, member.keys)
        for rec in self.stories.values():
            if len(rec.members) > 1:
                self._index_story(rec)
        for member in self.members.values():
            if member.story not in self.stories:  # one member alone: made as ``insert`` does
                profile = member.profile
                founded = self._founded.pop(member.story, profile.published)
                rec = self.stories[member.story] = StoryRecord(member.story, founded)
                self._add_to_story(rec, profile, 1.0)
        self._expiry = [(m.profile.published, k) for k, m in self.members.items()]
        heapq.heapify(self._expiry)

    # ------------------------------------------------------------------ look-ups

    def resolve(self, story_id: str) -> str:
        """Follow aliases from a merged-away story id to the id that absorbed it."""
        for _ in range(1000):
            if story_id not in self.aliases:
                break
            story_id = self.aliases[story_id]
        return story_id

    def lookup(self, heavy: list[tuple[str, float]]) -> tuple[dict[str, float], dict[str, float]]:
        """Return partial dot products of an item's heaviest terms with stories and members.

        ``heavy`` holds (term, weight) pairs; terms held by more than
        ``max_postings`` stories (or members) are skipped: too common to tell
        stories apart, and what would make an item's cost grow with the window.
        """
        stories: dict[str, float] = {}
        members: dict[str, float] = {}
        s_get, m_get = stories.get, members.get
        limit = self.max_postings
        story_postings, member_postings = self._story_postings, self._postings
        for term, weight in heavy:
            posting = story_postings.get(term)
            if posting is not None and len(posting) <= limit:
                for story, total in posting.items():
                    stories[story] = s_get(story, 0.0) + weight * total
            posting = member_postings.get(term)
            if posting is not None and len(posting) <= limit:
                for member, w in posting.items():
                    members[member] = m_get(member, 0.0) + weight * w
        return stories, members

    def leading_members(
        self, dots: dict[str, float], stories: int, walk: int
    ) -> dict[str, list[tuple[float, str]]]:
        """Return the two best members of the stories whose members lead by dot product.

        Members are visited best first until ``stories`` stories are found or
        ``walk`` members were visited.
        """
        found: dict[str, list[tuple[float, str]]] = {}
        members = self.members
        ordered = sorted(dots.items(), key=itemgetter(1), reverse=True)
        for member, dot in ordered[:walk]:
            story = members[member].story
            top = found.get(story)
            if top is None:
                if len(found) >= stories:
                    break
                found[story] = [(dot, member)]
            elif len(top) == 1:
                top.append((dot, member))
        return found

    def best_members(
        self, dots: dict[str, float], only: set[str] | None = None
    ) -> dict[str, list[tuple[float, str]]]:
        """Return, per story (of ``only`` if given), its two members with the largest dots."""
        first: dict[str, tuple[float, str]] = {}
        second: dict[str, tuple[float, str]] = {}
        members = self.members
        for member, dot in dots.items():
            story = members[member].story
            if only is not None and story not in only:
                continue
            entry = (dot, member)
            top = first.get(story)
            if top is None:
                first[story] = entry
            elif entry > top:
                second[story] = top
                first[story] = entry
            else:
                runner = second.get(story)
                if runner is None or entry > runner:
                    second[story] = entry
        return {
            story: [top, second[story]] if story in second else [top]
            for story, top in first.items()
        }

    def centroid_dot(self, vector: Mapping[str, float], rec: StoryRecord) -> float:
        """Return the cosine of a unit vector with a story's summed vector."""
        total = rec.total
        return sum([vector[t] * total[t] for t in sorted(vector.keys() & total.keys())]) * (
            rec.inv_norm
        )

    # ------------------------------------------------------------------ changes

    def insert(self, member: Member, merged: tuple[str, ...]) -> None:
        """Index a decided member into its story, first merging ``merged`` into that story.

        The member's profile must hold a packed vector (``Profile.packed``).
        """
        profile, story = member.profile, member.story
        vector = _packed(profile)
        if story not in self.stories:
            # a restored founding time stands: a story's member published before it
            # may have joined later, and be replayed first
            founded = self._founded.pop(story, profile.published)
            self.stories[story] = StoryRecord(story, founded)
        for other in merged:
            self.merge(other, story)
        item_id = profile.item_id
        self.members[item_id] = member
        self._hold_keys(item_id, member.keys)
        self._post(item_id, vector)
        self._add_to_story(self.stories[member.story], profile, 1.0)
        heapq.heappush(self._expiry, (profile.published, item_id))

    def merge(self, old: str, into: str) -> None:
        """Merge story ``old`` into ``into``: ``into`` keeps its id, ``old`` becomes an alias.

        The members of the smaller story move (their vectors are added to the
        other story's sum); when that is ``into``, the larger record takes its id.
        """
        src, dst = self.stories.pop(old), self.stories.pop(into)
        small, big = (dst, src) if len(src.members) > len(dst.members) else (src, dst)
        for member_id in list(small.members):
            member = self.members[member_id]
            self._add_to_story(small, member.profile, -1.0)
            member.story = big.id
            self._add_to_story(big, member.profile, 1.0)
        self._drop_story_postings(small)
        if big.id != into:
            self._rename(big, into)
        big.founded = min(src.founded, dst.founded)
        self.stories[into] = big
        aliases = {old, *src.aliases, *dst.aliases} - {into}
        for alias in aliases:
            self.aliases[alias] = into
        big.aliases = sorted(aliases)
        log.info("stories merged alias=%s into=%s", old, into)

    def _rename(self, rec: StoryRecord, new_id: str) -> None:
        """Give a story record another id (in the story index and its members)."""
        old_id = rec.id
        if len(rec.members) > 1:
            for term in rec.total:
                posting = self._story_postings[term]
                posting[new_id] = posting.pop(old_id)
        for member_id in rec.members:
            self.members[member_id].story = new_id
        rec.id = new_id

    def key_holder(self, key: str) -> str | None:
        """The member that answers for an exact-copy key: the first to come of those holding it."""
        return self.keys.get(key)

    def _hold_keys(self, item_id: str, keys: tuple[str, ...]) -> None:
        """Record a member's exact-copy keys, after the members holding them already."""
        for key in keys:
            if self.keys.setdefault(key, item_id) != item_id:
                self._waiting.setdefault(key, {})[item_id] = None

    def _release_keys(self, item_id: str, keys: tuple[str, ...]) -> None:
        """Forget a leaving member's keys: the next holder of each, if any, answers for it."""
        for key in keys:
            waiting: dict[str, None] | None
            if self.keys[key] != item_id:  # one that waited: another holder answers
                waiting = self._waiting[key]
                del waiting[item_id]
            elif (waiting := self._waiting.get(key)) is not None:
                self.keys[key] = next(iter(waiting))
                del waiting[self.keys[key]]
            else:
                del self.keys[key]
                continue
            if not waiting:
                del self._waiting[key]

    def _post(self, item_id: str, vector: Packed) -> None:
        """Add a member to the postings of its ``member_terms`` heaviest terms."""
        postings = self._postings
        for term, weight in islice(vector.pairs(), self.member_terms):
            posting = postings.get(term)
            if posting is None:
                postings[term] = {item_id: weight}
            else:
                posting[item_id] = weight

    def advance(self, now: datetime) -> None:
        """Move the clock to ``now`` (never backwards) and evict what left the window."""
        if self._now is None or now > self._now:
            self._now = now
        horizon = self._now - self.window
        while self._expiry and self._expiry[0][0] < horizon:
            _, item_id = heapq.heappop(self._expiry)
            self._evict(item_id)

    def _add_to_story(self, rec: StoryRecord, profile: Profile, sign: float) -> None:
        """Add (sign 1) or remove (sign -1) a member and its vector to a story.

        Only stories of two members or more are in the story index: a
        one-member story is found through its member.
        """
        indexed = len(rec.members) > 1
        vector = _packed(profile)
        if sign > 0 and not rec.members and not rec.total:
            # a one-member story's sum is its member's vector: share it, unpack on change
            rec.alone = vector
            rec.norm2 = math.fsum(map(mul, vector.weights, vector.weights))
            rec.inv_norm = 1.0 / math.sqrt(rec.norm2) if rec.norm2 > 1e-12 else 0.0
        elif sign < 0 and rec.alone is not None:
            # the only member leaves: nothing is left to sum (nor indexed: one member)
            rec.alone, rec.norm2, rec.inv_norm = None, 0.0, 0.0
        else:
            if rec.alone is not None:
                rec.total, rec.alone = rec.alone.unpacked(), None
            self._shift_centroid(rec, vector, sign, indexed)
        stamp = profile.published.timestamp()
        rec.time_sum += sign * stamp
        dated = is_date_only(profile.published)
        if dated:
            rec.dated_sum += sign * stamp
        if sign > 0:
            rec.members[profile.item_id] = None
            rec.outlets[profile.outlet] += 1
            rec.dated += dated
            if rec.last is None or profile.published > rec.last:
                rec.last = profile.published
            if len(rec.members) == 2:
                self._index_story(rec)
            return
        del rec.members[profile.item_id]
        rec.dated -= dated
        rec.outlets[profile.outlet] -= 1
        if rec.outlets[profile.outlet] <= 0:
            del rec.outlets[profile.outlet]
        if len(rec.members) == 1:
            self._drop_story_postings(rec, keep_sum=True)

    def _index_story(self, rec: StoryRecord) -> None:
        """Put a story's summed vector into the story index."""
        postings = self._story_postings
        story = rec.id
        for term, weight in rec.total.items():
            posting = postings.get(term)
            if posting is None:
                postings[term] = {story: weight}
            else:
                posting[story] = weight

    def _shift_centroid(self, rec: StoryRecord, vector: Packed, sign: float, indexed: bool) -> None:
        """Add ``sign`` times a vector to a story's summed vector (and the story index)."""
        total = rec.total
        postings = self._story_postings
        story = rec.id
        norm2 = rec.norm2
        for term, weight in vector.pairs():
            old = total.get(term, 0.0)
            new = old + sign * weight
            norm2 += new * new - old * old
            if -1e-9 < new < 1e-9:
                total.pop(term, None)
                if indexed:
                    posting = postings.get(term)
                    if posting is not None:
                        posting.pop(story, None)
                        if not posting:
                            del postings[term]
            else:
                total[term] = new
                if indexed:
                    posting = postings.get(term)
                    if posting is None:
                        postings[term] = {story: new}
                    else:
                        posting[story] = new
        rec.norm2 = norm2
        rec.inv_norm = 1.0 / math.sqrt(norm2) if norm2 > 1e-12 else 0.0

    def _evict(self, item_id: str) -> None:
        """Forget an item that left the window (its story goes when its last member does)."""
        member = self.members.pop(item_id)
        postings = self._postings
        for term in islice(member.profile.vector, self.member_terms):
            posting = postings[term]
            posting.pop(item_id, None)
            if not posting:
                del postings[term]
        self._release_keys(item_id, member.keys)
        rec = self.stories[member.story]
        self._add_to_story(rec, member.profile, -1.0)
        if not rec.members:
            del self.stories[rec.id]
            self._drop_story_postings(rec)
            for alias in rec.aliases:
                self.aliases.pop(alias, None)

    def _drop_story_postings(self, rec: StoryRecord, keep_sum: bool = False) -> None:
        """Remove a story from the story index (and forget its sum unless ``keep_sum``)."""
        for term in rec.total:
            posting = self._story_postings.get(term)
            if posting is not None:
                posting.pop(rec.id, None)
                if not posting:
                    del self._story_postings[term]
        if not keep_sum:
            rec.total, rec.alone = {}, None
            rec.norm2 = 0.0


def _packed(profile: Profile) -> Packed:
    """The packed vector of a member's profile (a dict here is a caller's mistake)."""
    vector = profile.vector
    if not isinstance(vector, Packed):
        raise TypeError(f"member {profile.item_id} must hold a packed vector")
    return vector


def _weight_then_term(kv: tuple[str, float]) -> tuple[float, str]:
    return kv[1], kv[0]

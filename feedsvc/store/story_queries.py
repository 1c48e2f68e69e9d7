"""The story half of ``Store``: transactions around ``store.story_round`` and ``store.stories``.

A mixin so that ``Store`` stays the one door to the database while each domain
keeps its own file. It decides nothing about grouping.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import TypeVar

from sqlalchemy.engine import Engine

from feedsvc.store import stories as story_sql
from feedsvc.store import story_round
from feedsvc.store.engine import reading, writing
from feedsvc.types import (
    Article,
    ArticleText,
    StoredDecision,
    StoryAssignment,
    StoryUpdate,
    StoryView,
)

Translator = Callable[[str], AbstractContextManager[None]]
K = TypeVar("K", bound=Hashable)


class StoryQueries:
    """Reads and writes of story membership; mixed into ``Store``."""

    _translate: Translator

    @property
    def engine(self) -> Engine:
        """The open engine; ``Store`` provides it."""
        raise NotImplementedError

    def story_assignments(
        self, since: datetime, until: datetime | None = None, *, key: Callable[[str, str], K]
    ) -> dict[K, str]:
        """The story of every assigned article published since ``since`` (to ``until``).

        Keyed by ``key(source, article_id)``.
        """
        with self._translate("reading story assignments"), reading(self.engine) as connection:
            return story_round.assignments_since(connection, since, until, key)

    def stories_founded(
        self, since: datetime, until: datetime | None = None
    ) -> dict[str, datetime]:
        """When each story with a member published since ``since`` (to ``until``) was founded."""
        with self._translate("reading story assignments"), reading(self.engine) as connection:
            return story_round.founded_since(connection, since, until)

    def newest_member(self, story_ids: Sequence[str]) -> datetime | None:
        """When the newest stored member of any of these stories was published."""
        with self._translate("reading story members"), reading(self.engine) as connection:
            return story_round.newest_member(connection, story_ids)

    def copies_since(
        self, since: datetime, urls: Sequence[str], hashes: Sequence[str]
    ) -> tuple[set[str], set[str]]:
        """Those of ``urls`` and ``hashes`` an article in a story published since ``since`` has."""
        with self._translate("reading articles"), reading(self.engine) as connection:
            return story_round.copies_since(connection, since, urls, hashes)

    def story_aliases(self) -> dict[str, str]:
        """Every merged-away story id and the id that absorbed it."""
        with self._translate("reading story aliases"), reading(self.engine) as connection:
            return story_round.aliases(connection)

    def texts_since(
        self,
        since: datetime,
        *,
        limit: int | None = None,
        after: story_round.TextKey | None = None,
    ) -> list[ArticleText]:
        """What grouping needs of the articles in a story published at or after ``since``.

        Oldest first; at most ``limit`` of them, those after ``after`` (published, source, id).
        """
        with self._translate("reading articles"), reading(self.engine) as connection:
            return story_round.texts_since(connection, since, limit=limit, after=after)

    def newest_assigned(self) -> datetime | None:
        """When the newest article in a story (of a configured source) was published."""
        with self._translate("reading articles"), reading(self.engine) as connection:
            return story_round.newest_assigned(connection)

    def unassigned_texts(
        self, *, limit: int | None = None, after: story_round.TextKey | None = None
    ) -> list[ArticleText]:
        """What grouping needs of the articles not yet in a story, oldest first.

        At most ``limit`` of them, those after ``after`` (published, source, id).
        """
        with self._translate("reading unassigned articles"), reading(self.engine) as connection:
            return story_round.unassigned_texts(connection, limit=limit, after=after)

    def any_unassigned(self) -> bool:
        """Whether any article is not yet in a story (a story round would have work)."""
        with self._translate("reading unassigned articles"), reading(self.engine) as connection:
            return story_round.any_unassigned(connection)

    def save_stories(
        self,
        assignments: Sequence[StoryAssignment],
        updates: Sequence[StoryUpdate],
        merges: Mapping[str, str],
        now: datetime,
        facts: Mapping[str, str] | None = None,
    ) -> None:
        """Record one round of story decisions (and ``facts`` about it) in one transaction."""
        with self._translate("saving stories"), writing(self.engine) as connection:
            story_round.save(connection, assignments, updates, merges, now, facts)

    def recent_stories(
        self, limit: int, *, tag: str | None = None, others: int | None = None
    ) -> list[StoryView]:
        """The newest stories with their members (or first reports of ``others`` outlets)."""
        with self._translate("reading stories"), reading(self.engine) as connection:
            return story_sql.recent(connection, limit, tag=tag, others=others)

    def story_members(self, story_id: str) -> list[Article]:
        """The articles of one story, oldest first."""
        with self._translate("reading story members"), reading(self.engine) as connection:
            return story_sql.members_of(connection, story_id)

    def story_ids(self, *, min_outlets: int = 0) -> list[str]:
        """Every story id (of at least ``min_outlets`` configured outlets), sorted."""
        with self._translate("reading story ids"), reading(self.engine) as connection:
            return story_sql.ids(connection, min_outlets=min_outlets)

    def stories_by_id(self, story_ids: Sequence[str], *, tags: bool = True) -> list[StoryView]:
        """These stories with every member, by id (unknown or empty ones left out).

        Without ``tags`` the members' own tags are not read (a story's page
        shows the story's tags, ``story_tags``): their ``tags`` are empty.
        """
        with self._translate("reading stories"), reading(self.engine) as connection:
            return story_sql.views_by_id(connection, story_ids, tags=tags)

    def story_joins(self, story_ids: Sequence[str]) -> dict[tuple[str, str], datetime]:
        """When each member of these stories joined its story."""
        with self._translate("reading story joins"), reading(self.engine) as connection:
            return story_sql.joined_at(connection, story_ids)

    def aliases_into(self, story_ids: Sequence[str]) -> dict[str, str]:
        """The merged-away ids these stories absorbed, each with the id that absorbed it."""
        with self._translate("reading story aliases"), reading(self.engine) as connection:
            return story_sql.aliases_into(connection, story_ids)

    def stories_of_articles(
        self, keys: Sequence[tuple[str, str]], known: Mapping[str, int] | None = None
    ) -> dict[tuple[str, str], tuple[str, int]]:
        """The story (id, outlet count) of each of these (source, id) articles that has one.

        Stories whose outlet count is in ``known`` (read moments ago) are not counted again.
        """
        with self._translate("reading stories of articles"), reading(self.engine) as connection:
            return story_sql.stories_of_articles(connection, keys, known)

    def story_of(self, source: str, article_id: str) -> str | None:
        """The current story id of one article."""
        with self._translate("reading story of article"), reading(self.engine) as connection:
            return story_sql.story_of(connection, source, article_id)

    def story_decision(self, source: str, article_id: str) -> StoredDecision | None:
        """How one article was placed in its story, as the round that placed it recorded."""
        with self._translate("reading story of article"), reading(self.engine) as connection:
            return story_sql.decision_of(connection, source, article_id)

    def story_count(self) -> int:
        """How many stories are stored."""
        with self._translate("counting stories"), reading(self.engine) as connection:
            return story_sql.count(connection)

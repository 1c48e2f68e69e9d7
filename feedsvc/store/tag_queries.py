"""The tag half of ``Store``: transactions around the SQL in ``store.tags``.

A mixin, like ``StoryQueries``, so that ``Store`` stays the one door to the
database while each domain keeps its own file. It decides no tags.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager

from sqlalchemy.engine import Engine

from feedsvc.store import state as state_sql
from feedsvc.store import tags as tag_sql
from feedsvc.store.engine import reading, writing
from feedsvc.types import Article

Translator = Callable[[str], AbstractContextManager[None]]


class TagQueries:
    """Reads and writes of article tags; mixed into ``Store``."""

    _translate: Translator

    @property
    def engine(self) -> Engine:
        """The open engine; ``Store`` provides it."""
        raise NotImplementedError

    def tag_counts(self) -> dict[str, int]:
        """How many articles of configured sources carry each tag."""
        with self._translate("counting tags"), reading(self.engine) as connection:
            return tag_sql.counts(connection)

    def story_tags(self, story_ids: Iterable[str]) -> dict[str, tuple[str, ...]]:
        """The tags of each of these stories: the union of its members' tags."""
        with self._translate("reading story tags"), reading(self.engine) as connection:
            return tag_sql.story_tags(connection, sorted(set(story_ids)))

    def tagging_chunk(self, after: tuple[str, str] | None, limit: int) -> list[Article]:
        """Stored articles after the key ``after`` in key order, with what tag rules read."""
        with self._translate("reading articles to tag"), reading(self.engine) as connection:
            return tag_sql.tagging_chunk(connection, after, limit)

    def save_retagged(
        self, changed: Sequence[Article], facts: Mapping[str, str] | None = None
    ) -> None:
        """Replace the tags of ``changed`` articles (and store ``facts``) in one transaction."""
        with self._translate("saving tags"), writing(self.engine) as connection:
            tag_sql.save_retagged(connection, changed)
            if facts:
                state_sql.put(connection, facts)

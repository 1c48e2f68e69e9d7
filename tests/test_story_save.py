"""Saving a batch of story decisions: what each row holds, on SQLite and PostgreSQL.

``save_stories`` writes memberships and story rows with upserts, run through
``store.bulk`` rather than SQLAlchemy's executemany; these pin that an
article assigned again keeps one row, that a story saved again is replaced
whole, and that every value is stored as SQLAlchemy itself would store it.
"""

from __future__ import annotations

import json
import pickle
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any

import pytest
import sqlalchemy as sa

from feedsvc.assign import stored_state
from feedsvc.config_types import SourceConfig
from feedsvc.errors import StoreError
from feedsvc.store import Store
from feedsvc.store.bulk import execute_many
from feedsvc.store.schema import publish_marks, stories, story_members
from feedsvc.types import Article, FetchIntent, StoredDecision, StoryAssignment, StoryUpdate

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
LATER = NOW + timedelta(hours=1, microseconds=7)


def test_an_article_assigned_again_keeps_one_row_with_the_new_decision(store_url: str) -> None:
    with Store.open(store_url) as store:
        seed(store, "abc")
        first = [StoryAssignment("s", i, "story-a", "new", 0.0) for i in "abc"]
        store.save_stories(first, [StoryUpdate("story-a", "s", "a", 3)], {}, NOW)
        again = StoryAssignment("s", "b", "story-b", "joined", 0.75, "title", {"z": 1.0, "a": 0.5})
        store.save_stories([again], [StoryUpdate("story-b", "s", "b", 1)], {}, LATER)
        rows = member_rows(store)
    assert [(r.article_id, r.story_id) for r in rows] == [
        ("a", "story-a"),
        ("b", "story-b"),
        ("c", "story-a"),
    ]
    b = rows[1]
    assert (b.layer, b.score, b.matched) == ("joined", 0.75, "title")
    assert b.signals == '{"a": 0.5, "z": 1.0}'
    assert b.decided_at == LATER
    assert rows[0].decided_at == NOW


def test_what_a_rebuild_and_explain_read_of_the_stored_decisions(store_url: str) -> None:
    with Store.open(store_url) as store:
        seed(store, "abc")
        decisions = [
            StoryAssignment("s", "a", "story-a", "new", 0.25),
            StoryAssignment("s", "b", "story-a", "same-event", 0.97, "s:a", {"p": 1.0}),
            StoryAssignment("s", "c", "story-c", "new", 0.5),
        ]
        began = published_of("a") - timedelta(days=1)  # a first member no longer stored
        shapes = [StoryUpdate("story-a", "s", "a", 2, began), StoryUpdate("story-c", "s", "c", 1)]
        store.save_stories(decisions, shapes, {}, NOW)
        joined, founded = store.story_decision("s", "b"), store.story_decision("s", "a")
        missing = store.story_decision("s", "nope")
        # the stories with a member since then, where their founding was stored (not story-c's)
        since_b, since_c = (store.stories_founded(published_of(i)) for i in "bc")
    assert since_b == {"story-a": began} and since_c == {}
    assert joined == StoredDecision("story-a", "same-event", 0.97, "s:a", NOW)
    assert founded == StoredDecision("story-a", "new", 0.25, None, NOW)
    assert missing is None


def test_a_restored_state_names_each_story_with_one_string(store_url: str) -> None:
    """What a replay restores holds each story id once: the pickle to the engine writes it once.

    A late pass at 10,000 feeds restores 64,000 assignments and foundings; a
    string a row for each took the main process 19 MB higher while pickling.
    """
    with Store.open(store_url) as store:
        seed(store, "abc")
        decisions = [
            StoryAssignment("s", "a", "story-a", "new", 0.0),
            StoryAssignment("s", "b", "story-a", "same-event", 0.9, "s:a"),
            StoryAssignment("s", "c", "story-c", "new", 0.0),
        ]
        began = published_of("a") - timedelta(days=1)
        shapes = [
            StoryUpdate("story-a", "s", "a", 2, began),
            StoryUpdate("story-c", "s", "c", 1, published_of("c")),
        ]
        store.save_stories(decisions, shapes, {}, NOW)
        state = stored_state(store, published_of("a"))
        pairs = store.story_assignments(published_of("b"), key=lambda source, id_: (source, id_))
    assert state.assignments == {"s:a": "story-a", "s:b": "story-a", "s:c": "story-c"}
    assert pairs == {("s", "b"): "story-a", ("s", "c"): "story-c"}
    assert state.founded == {"story-a": began, "story-c": published_of("c")}
    assert len({id(story) for story in (*state.assignments.values(), *state.founded)}) == 2
    assert pickle.dumps(state).count(b"story-a") == 1


def test_a_story_saved_again_is_replaced_and_follows_its_representative(store_url: str) -> None:
    with Store.open(store_url) as store:
        seed(store, "ab")
        members = [StoryAssignment("s", i, "story-a", "new", 0.0) for i in "ab"]
        store.save_stories(members[:1], [StoryUpdate("story-a", "s", "a", 1)], {}, NOW)
        store.save_stories(members[1:], [StoryUpdate("story-a", "s", "b", 2)], {}, LATER)
        with store.engine.connect() as connection:
            (row,) = connection.execute(sa.select(stories))
        marks = store.publish_marks()
    assert (row.id, row.rep_source, row.rep_article_id, row.members) == ("story-a", "s", "b", 2)
    assert row.published == published_of("b")
    assert row.changed_at == LATER
    assert marks.stories == frozenset({"story-a"})


def test_a_story_whose_representative_is_not_stored_saves_nothing(store_url: str) -> None:
    with Store.open(store_url) as store:
        seed(store, "a")
        assignment = StoryAssignment("s", "a", "story-a", "new", 0.0)
        with pytest.raises(StoreError):
            store.save_stories([assignment], [StoryUpdate("story-a", "s", "gone", 1)], {}, NOW)
        assert member_rows(store) == []
        assert store.story_count() == 0
        assert store.publish_marks().stories == frozenset()


def test_bulk_rows_are_stored_as_sqlalchemy_stores_them(store_url: str) -> None:
    with Store.open(store_url) as store:
        seed(store, "ab")
        signals = MappingProxyType({"b": 0.25, "a": 1})
        store.save_stories(
            [StoryAssignment("s", "a", "story-a", "new", 1, None, signals)],
            [StoryUpdate("story-a", "s", "a", 1)],
            {},
            LATER,
        )
        row = {
            "source": "s", "article_id": "b", "story_id": "story-a", "layer": "new",
            "score": 1, "matched": None, "signals": json.dumps(dict(signals), sort_keys=True),
            "decided_at": LATER,
        }  # fmt: skip
        with store.engine.begin() as connection:
            connection.execute(sa.insert(story_members), row)
            raw = connection.exec_driver_sql(
                "SELECT score, matched, signals, decided_at FROM story_members ORDER BY article_id"
            ).all()
    assert raw[0] == raw[1]


def test_bulk_binds_columns_in_any_order_and_a_shared_value_once(store_url: str) -> None:
    with Store.open(store_url) as store, store.engine.begin() as connection:
        rows = [(f"key-{n}",) for n in range(3)]
        execute_many(connection, sa.insert(publish_marks), ("key",), rows, {"kind": "story"})
        execute_many(connection, sa.insert(publish_marks), ("key",), [], {"kind": "story"})
        found = connection.execute(sa.select(publish_marks).order_by(publish_marks.c.seq)).all()
    assert [(r.kind, r.key) for r in found] == [("story", f"key-{n}") for n in range(3)]


def seed(store: Store, ids: str) -> None:
    store.sync_sources([SourceConfig(name="s", title="S", kind="feed", url="http://s.test/")], NOW)
    intent = FetchIntent(source="s", fetched_at=NOW, status="ok", next_fetch_after=NOW)
    store.save_batch("s", [article(i) for i in ids], intent)


def published_of(article_id: str) -> datetime:
    return NOW - timedelta(hours=10 - "abc".index(article_id), microseconds=123)


def article(article_id: str) -> Article:
    return Article(
        source="s", id=article_id, url=f"http://s.test/{article_id}", title=f"Title {article_id}",
        summary="", content_html="<p>x</p>", text="x", published=published_of(article_id),
        updated=None, date_estimated=False, content_hash=article_id,
    )  # fmt: skip


def member_rows(store: Store) -> list[Any]:
    with store.engine.connect() as connection:
        stmt = sa.select(story_members).order_by(story_members.c.source, story_members.c.article_id)
        return list(connection.execute(stmt))

"""A drop of a file source edited in place is one article updated, not a second one.

Real config files, a real folder, real SQLite, the published feeds read back.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import feedparser

from feedsvc.service import Service
from feedsvc.store import Store
from feedsvc.store.sources import decode_entries, encode_entries
from feedsvc.types import EntryMemo, SourceResult
from tests.support.configs import write_config

FIRST = (
    "SEOUL — The central bank held its key rate on Thursday, citing slowing exports"
    " and a weaker won against the dollar in recent weeks.\n"
)
EDITED = FIRST + "\nThe governor said inflation had eased to 2.1 percent in December.\n"
OTHER = (
    "BUSAN — Dock workers ended a three-day strike on Friday after the port authority"
    " agreed to hire two hundred more crane operators by the spring.\n"
)
T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


def drops_service(tmp_path: Path, clock: list[datetime]) -> tuple[Service, Path]:
    folder = tmp_path / "drops"
    folder.mkdir()
    config = write_config(tmp_path, [{"name": "drops", "kind": "file", "path": str(folder)}])
    return Service.from_path(config, clock=lambda: clock[0]), folder


def run(service: Service, clock: list[datetime]) -> SourceResult:
    clock[0] += timedelta(minutes=10)
    (result,) = service.run_once(force=True, workers=1).sources
    return result


def entries(service: Service) -> list[feedparser.FeedParserDict]:
    output = service.config.settings.output_dir
    return list(feedparser.parse((output / "sources" / "drops.atom").read_bytes()).entries)


def stored(service: Service) -> dict[str, str]:
    """The stored articles of the folder: id -> text."""
    with Store.open(service.config.settings.database_url) as store:
        return {a.id: a.text for a in store.recent_articles(50)}


def test_an_edited_drop_is_its_article_updated(tmp_path: Path) -> None:
    clock = [T0]
    service, folder = drops_service(tmp_path, clock)
    (folder / "rates.txt").write_text(FIRST, encoding="utf-8")
    (folder / "port.txt").write_text(OTHER, encoding="utf-8")
    assert run(service, clock).new == 2
    (before,) = [e for e in entries(service) if "central bank" in e.title]
    ids = set(stored(service))

    (folder / "rates.txt").write_text(EDITED, encoding="utf-8")
    result = run(service, clock)
    assert (result.status, result.new, result.updated) == ("ok", 0, 1)
    assert set(stored(service)) == ids  # the same two articles, no third
    (after,) = [e for e in entries(service) if "central bank" in e.title]
    assert after.id == before.id
    assert "2.1 percent" in after.summary and "2.1 percent" not in before.summary
    assert after.published == before.published  # the date it was first read
    assert after.updated_parsed > after.published_parsed  # readers see an update


def test_an_edit_of_one_of_two_identical_drops_is_a_new_article(tmp_path: Path) -> None:
    # two files with the same text were one article: the other file still holds it
    clock = [T0]
    service, folder = drops_service(tmp_path, clock)
    (folder / "a.txt").write_text(FIRST, encoding="utf-8")
    (folder / "b.txt").write_text(FIRST, encoding="utf-8")
    assert run(service, clock).new == 1
    (old_id,) = stored(service)
    for name in ("a.txt", "b.txt"):  # whichever file the memo names
        (folder / name).write_text(EDITED if name == "b.txt" else FIRST, encoding="utf-8")
    result = run(service, clock)
    assert result.new == 1 and result.updated == 0
    texts = stored(service)
    assert old_id in texts and "2.1 percent" not in texts[old_id]
    assert len(texts) == 2


def test_a_drop_stored_before_drops_were_remembered_keeps_its_id_once_seen(
    tmp_path: Path,
) -> None:
    # memos written by an older feedsvc name no file: the next fetch, finding
    # the drop unchanged, records it; an edit after that updates the article
    clock = [T0]
    service, folder = drops_service(tmp_path, clock)
    (folder / "rates.txt").write_text(FIRST, encoding="utf-8")
    run(service, clock)
    database = service.config.settings.data_dir / "feedsvc.sqlite3"
    with sqlite3.connect(database) as db:
        (memo,) = db.execute("SELECT body_entries FROM sources WHERE name = 'drops'").fetchone()
        older = {k: v[:2] for k, v in json.loads(memo).items()}
        assert all(len(v) == 3 for v in json.loads(memo).values())  # this feedsvc names it
        db.execute("UPDATE sources SET body_entries = ?", (json.dumps(older),))
    (folder / "port.txt").write_text(OTHER, encoding="utf-8")  # the folder changed
    assert run(service, clock).new == 1
    ids = set(stored(service))
    (folder / "rates.txt").write_text(EDITED, encoding="utf-8")
    result = run(service, clock)
    assert (result.new, result.updated) == (0, 1)
    assert set(stored(service)) == ids


def test_entry_memos_round_trip_with_and_without_their_drop() -> None:
    memos = {
        "a": EntryMemo("k1", "r1"),
        "sha256:0f": EntryMemo("k2", None, "file:///srv/drops/a.txt"),
    }
    assert decode_entries(json.loads(encode_entries(memos))) == memos
    assert json.loads(encode_entries(memos))["a"] == ["k1", "r1"]  # as older feedsvc wrote
    assert decode_entries({"x": ["k", "r", 3], "y": ["k", "r", "o", "more"]}) == {}

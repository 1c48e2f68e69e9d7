"""Drop folders: an edited drop is its article updated; an unchanged drop is not read again.

Real config files, a real folder, real SQLite, the published feeds read back.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import feedparser
import pytest
import sqlalchemy as sa
import yaml

from feedsvc import extract as extract_module
from feedsvc.service import Service
from feedsvc.store import Store
from feedsvc.store.schema import articles
from feedsvc.store.sources import decode_entries, encode_entries
from feedsvc.types import Document, EntryMemo, Extracted, SourceResult
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
        assert all(len(v) == 5 for v in json.loads(memo).values())  # this feedsvc names it
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
        "sha256:0f": EntryMemo("k2", "r2", "file:///srv/drops/a.txt", "d2"),
        "g": EntryMemo("k4", "r4", None, None, "al"),
        "sha256:1e": EntryMemo("k3", None, "file:///srv/drops/b.txt"),
    }
    assert decode_entries(json.loads(encode_entries(memos))) == memos
    assert json.loads(encode_entries(memos))["a"] == ["k1", "r1"]  # as older feedsvc wrote
    assert decode_entries({"o": ["k", "r", "o"]}) == {"o": EntryMemo("k", "r", "o")}
    assert decode_entries({"x": ["k", "r", 3], "y": ["k", "r", "o", "d", "a", "more"]}) == {}


@pytest.fixture
def extracted(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the drops extracted (one worker: in this process)."""
    names: list[str] = []
    real = extract_module.extract

    def counting(document: Document, kind: str) -> Extracted:
        names.append(document.url.rsplit("/", 1)[-1])
        return real(document, kind)

    monkeypatch.setattr(extract_module, "extract", counting)
    return names


def two_drops_read(tmp_path: Path) -> tuple[Service, Path, list[datetime]]:
    """A folder of two drops, read once."""
    clock = [T0]
    service, folder = drops_service(tmp_path, clock)
    (folder / "rates.txt").write_text(FIRST, encoding="utf-8")
    (folder / "port.txt").write_text(OTHER, encoding="utf-8")
    run(service, clock)
    return service, folder, clock


def test_only_new_and_changed_drops_are_read(tmp_path: Path, extracted: list[str]) -> None:
    # a folder is one batch: a new drop used to make every drop be read again
    service, folder, clock = two_drops_read(tmp_path)
    assert sorted(extracted) == ["port.txt", "rates.txt"]

    extracted.clear()
    (folder / "more.txt").write_text(OTHER.replace("Friday", "Saturday"), encoding="utf-8")
    result = run(service, clock)
    assert extracted == ["more.txt"] and (result.new, result.updated) == (1, 0)

    extracted.clear()
    (folder / "rates.txt").write_text(EDITED, encoding="utf-8")
    result = run(service, clock)
    assert extracted == ["rates.txt"] and (result.new, result.updated) == (0, 1)
    assert len(stored(service)) == 3


def test_a_drop_whose_article_is_gone_is_read_again(tmp_path: Path, extracted: list[str]) -> None:
    service, folder, clock = two_drops_read(tmp_path)
    (gone,) = [k for k, text in stored(service).items() if "crane" in text]
    with service.open_store() as store, store.engine.begin() as connection:
        connection.execute(sa.delete(articles).where(articles.c.id == gone))
    extracted.clear()
    (folder / "more.txt").write_text(OTHER.replace("Friday", "Saturday"), encoding="utf-8")
    assert run(service, clock).new == 2
    assert sorted(extracted) == ["more.txt", "port.txt"]
    assert gone in stored(service)


def test_a_changed_source_reads_every_drop_again(tmp_path: Path, extracted: list[str]) -> None:
    clock = [T0]
    service, folder = drops_service(tmp_path, clock)
    (folder / "rates.txt").write_text(FIRST, encoding="utf-8")
    run(service, clock)
    config = tmp_path / "sources.yaml"
    data = yaml.safe_load(config.read_text())
    data["sources"][0]["tags"] = ["economy"]
    config.write_text(yaml.safe_dump(data))
    service = Service.from_path(config, clock=lambda: clock[0])
    extracted.clear()
    (folder / "port.txt").write_text(OTHER, encoding="utf-8")
    run(service, clock)
    assert sorted(extracted) == ["port.txt", "rates.txt"]
    with Store.open(service.config.settings.database_url) as store:
        assert {a.tags for a in store.recent_articles(10)} == {("economy",)}


def test_a_failing_folder_names_no_http_status(tmp_path: Path) -> None:
    # a local read is answered by no server: the directory said "error (HTTP 200)"
    clock = [T0]
    service, folder = drops_service(tmp_path, clock)
    (folder / "empty.txt").write_text("", encoding="utf-8")
    assert run(service, clock).status == "error"
    with Store.open(service.config.settings.database_url) as store:
        (state,) = store.source_states()
    assert state.http_status is None
    page = (service.config.settings.output_dir / "sources.html").read_text(encoding="utf-8")
    assert "no paragraph of prose found" in page and "HTTP" not in page

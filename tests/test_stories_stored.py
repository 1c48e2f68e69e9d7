"""An article's analysis made where it is extracted, stored with it, and read by the engine.

What is pinned: the stored form gives back exactly what ``analyse`` made; an
analysis made by other code, for another number of words, or damaged is never
used; the engine decides the same with stored analyses as without; every
article the pipeline stores carries one, whole-article reads never load it,
and an article whose analysis alone differs is unchanged.
"""

from __future__ import annotations

import base64
import dataclasses
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from feedsvc.config_types import SourceConfig
from feedsvc.placing import story_item, text_order
from feedsvc.service import Service
from feedsvc.store import Store
from feedsvc.store.schema import articles, sources
from feedsvc.stories import StoryEngine, StoryItem, StoryParams
from feedsvc.stories import engine as engine_module
from feedsvc.stories import stored as stored_module
from feedsvc.stories.stored import encode_features, features_key, features_of, read_features
from feedsvc.stories.text import LEAD_WORDS, SKETCH_SIZE, analyse
from feedsvc.types import Article, EntryMemo, FetchIntent
from tests.support.configs import feed_source, write_config
from tests.support.httpserver import LoopbackServer
from tests.support.samples import sample_sources

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)

TEXTS = [
    ("Quake kills 136 at Josei mine near Ube", "UBE, Japan (AP) — A quake hit the Josei "
     "mine on Tuesday. Rescuers from JICA said 136 miners died; $40m in aid, 7.1 magnitude."),
    ("", "No title at all. Only a body, with U.S.-China talks and O'Neill's remarks."),
    ("Title Case Headline About The Harbour", ""),
    ("", ""),
    ("Lines\u2028and odd\x1cseparators", "tab\tseparated\vwords\x0bhere\nnew line. Next one"),
    ("Ünïcödé Straße in Zürich", "Die Straße wurde gesperrt. Ärzte in Zürich sagten 12,5 %."),
    ("Long", " ".join(f"word{n % 37} Name{n % 11}" for n in range(400))),
]  # fmt: skip


@pytest.mark.parametrize(("title", "text"), TEXTS)
def test_the_stored_form_gives_back_exactly_the_analysis(title: str, text: str) -> None:
    for lead in (LEAD_WORDS, 3):
        made = analyse(title, text, lead)
        stored = encode_features(made, features_key(title, text, lead))
        assert read_features(stored, title, text, lead) == made


def test_features_of_is_the_analysis_for_the_default_number_of_words() -> None:
    for title, text in TEXTS:
        stored = features_of(title, text)
        assert stored.split("\n")[0] == features_key(title, text, LEAD_WORDS)
        assert read_features(stored, title, text, LEAD_WORDS) == analyse(title, text, LEAD_WORDS)


def test_an_analysis_of_other_text_words_or_code_or_damaged_is_not_used() -> None:
    title, text = TEXTS[0]
    stored = features_of(title, text)
    lines = stored.split("\n")
    assert read_features(stored, title, text, LEAD_WORDS) is not None
    assert read_features(stored, title, text, LEAD_WORDS + 1) is None  # other lead_words
    assert read_features(stored, title, text.replace("136", "183"), LEAD_WORDS) is None
    assert read_features(stored, title.lower(), text, LEAD_WORDS) is None  # case makes names
    code, _ = lines[0].rsplit(":", 1)
    for key in ("a2:0000000000000000:100:" + lines[0].rsplit(":", 1)[1], code + ":" + "0" * 16):
        assert read_features("\n".join([key, *lines[1:]]), title, text, LEAD_WORDS) is None
    too_long = base64.b64encode(bytes(8 * (SKETCH_SIZE + 1))).decode()
    damaged = [
        "\n".join(lines[:-1]),  # a field short
        stored + "\nextra",
        "\n".join([*lines[:5], "not base64!", *lines[6:]]),
        "\n".join([*lines[:5], "AAAA", *lines[6:]]),  # 3 bytes: not whole 8-byte values
        "\n".join([*lines[:5], too_long, *lines[6:]]),  # more values than a sketch keeps
        "\n".join([*lines[:6], "abc", *lines[7:]]),  # a fingerprint too short
        "\n".join([*lines[:6], "z" * 32, *lines[7:]]),  # not hexadecimal
        "\n".join([*lines[:7], "seven", *lines[8:]]),
        "",
        None,
    ]
    for bad in damaged:
        assert read_features(bad, title, text, LEAD_WORDS) is None, bad
    for good in (lines[5], base64.b64encode(bytes(8 * SKETCH_SIZE)).decode()):
        assert read_features("\n".join([*lines[:5], good, *lines[6:]]), title, text, LEAD_WORDS)


def _items(count: int, seed: int) -> list[StoryItem]:
    """Reports of a few events from several outlets, with names, numbers and noise."""
    rng = random.Random(seed)
    places = ["Kellmouth", "Brackley", "Ostrava", "Nara", "Ube", "Lowmere"]
    events = ["flood", "strike", "election", "quake", "fire", "summit"]
    filler = [
        "the",
        "council",
        "said",
        "on",
        "Tuesday",
        "that",
        "officials",
        "would",
        "review",
        "it",
        "again",
        "soon",
    ]
    out = []
    for n in range(count):
        place, event = rng.choice(places), rng.choice(events)
        figure = rng.choice(["136", "183", "12", "7.1"])
        words = [rng.choice(filler) for _ in range(rng.randint(20, 120))]
        title = f"{place} {event} leaves {figure} affected, {rng.choice(['AP', 'officials'])} say"
        text = f"{place.upper()} — The {event} in {place} hit {figure} homes. " + " ".join(words)
        when = NOW + timedelta(minutes=17 * n)
        out.append(StoryItem(f"o{n % 5}:{n}", title, text, f"o{n % 5}", when, None, None))
    return out


def _decisions(items: list[StoryItem]) -> list[tuple[str, str, str, float]]:
    engine = StoryEngine(StoryParams())
    return [(d.item_id, d.story_id, d.layer, d.score) for d in map(engine.add, items)]


def test_the_engine_decides_the_same_with_stored_analyses_as_without(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    items = _items(400, seed=7)
    plain = _decisions(items)
    assert len({story for _, story, _, _ in plain}) < len(items) / 2  # stories formed
    stored = [dataclasses.replace(i, features=features_of(i.title, i.text)) for i in items]

    def never(*args: object) -> None:
        raise AssertionError("analysed again")

    monkeypatch.setattr(engine_module, "analyse", never)  # the stored analyses are what is read
    assert _decisions(stored) == plain


def test_an_engine_with_other_lead_words_analyses_the_text_itself() -> None:
    items = _items(120, seed=3)
    params = StoryParams(lead_words=12)
    stored = [dataclasses.replace(i, features=features_of(i.title, i.text)) for i in items]
    plain_engine, stored_engine = StoryEngine(params), StoryEngine(params)
    plain = [(d.story_id, d.layer, d.score) for d in map(plain_engine.add, items)]
    assert [(d.story_id, d.layer, d.score) for d in map(stored_engine.add, stored)] == plain


def article(article_id: str, text: str, features: str | None) -> Article:
    return Article(
        source="s", id=article_id, url=f"http://s.test/{article_id}", title=f"Title {article_id}",
        summary="", content_html=f"<p>{text}</p>", text=text, published=NOW, updated=None,
        date_estimated=False, content_hash=f"h-{article_id}-{text}", features=features,
    )  # fmt: skip


def save(store: Store, batch: list[Article]) -> None:
    intent = FetchIntent(source="s", fetched_at=NOW, status="ok", next_fetch_after=NOW)
    store.save_batch("s", batch, intent)


def test_the_store_keeps_the_analysis_for_grouping_only(store_url: str) -> None:
    with Store.open(store_url) as store:
        store.sync_sources(
            [SourceConfig(name="s", title="S", kind="feed", url="http://s.test/")], NOW
        )
        save(store, [article("a", "first text", "A1"), article("b", "other text", None)])
        texts = {t.id: t.features for t in store.unassigned_texts()}
        assert texts == {"a": "A1", "b": None}
        # whole-article reads (feeds, pages, upserts) leave it out: only grouping reads it
        statements: list[str] = []

        def seen(_conn: object, _cursor: object, statement: str, *_rest: object) -> None:
            statements.append(statement)

        sa.event.listen(store.engine, "before_cursor_execute", seen)
        read = [*store.recent_articles(10), *store.recent_articles_by_source(["s"], 10)["s"]]
        read.append(store.article("s", "a"))  # type: ignore[arg-type]
        save(store, [article("b", "other text", "B1")])  # the upsert reads what is stored
        sa.event.remove(store.engine, "before_cursor_execute", seen)
        reads = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
        assert len(read) == 5 and {a.features for a in read} == {None}
        assert len([s for s in reads if "articles.content_html" in s]) >= 4
        assert [s for s in reads if "features" in s] == []

        # the same article with another analysis is unchanged (the analysis is not
        # compared), and keeps the one it brings: a worker analyses an article only
        # when the stored analysis is not that of its text by this code
        result = store.save_batch(
            "s", [article("a", "first text", "A2")],
            FetchIntent(source="s", fetched_at=NOW, status="ok", next_fetch_after=NOW),
        )  # fmt: skip
        assert (result.new, result.updated, result.unchanged) == (0, 0, 1)
        assert {t.id: t.features for t in store.unassigned_texts()}["a"] == "A2"
        save(store, [article("a", "first text", None)])  # unchanged, brings none: kept
        assert {t.id: t.features for t in store.unassigned_texts()}["a"] == "A2"

        # a changed article stores the analysis it came with
        save(store, [article("a", "first text, corrected", "A3")])
        assert {t.id: t.features for t in store.unassigned_texts()}["a"] == "A3"


def test_every_article_the_pipeline_stores_carries_its_analysis_and_rounds_agree(
    tmp_path: Path, repo_dir: Path
) -> None:
    config = write_config(tmp_path, sample_sources(repo_dir / "samples"))
    service = Service.from_path(config, clock=lambda: NOW)
    service.run_once(force=True, workers=1)
    assert stored_module._worker_memo().memo == {}  # extraction's, in this process: let go
    with service.open_store() as store:
        with store.engine.connect() as connection:
            rows = connection.execute(
                sa.select(articles.c.source, articles.c.title, articles.c.text, articles.c.features)
            ).all()
        texts = sorted(store.texts_since(NOW - timedelta(days=3650)), key=text_order)
    assert len(rows) == 19  # every sample article: feeds, a page, a drop folder
    for row in rows:
        assert row.features == features_of(row.title, row.text), row.source
    assert {t.features is not None for t in texts} == {True}
    with_features = [story_item(t) for t in texts]
    without = [dataclasses.replace(i, features=None) for i in with_features]
    assert _decisions(with_features) == _decisions(without)


def rss(items: list[tuple[str, str, str]], channel: str = "Quay") -> bytes:
    entries = "".join(
        f"<item><guid>{guid}</guid><title>{title}</title><link>http://quay.test/{guid}</link>"
        f"<description>{text}</description><pubDate>Sat, 21 Nov 2026 0{n}:00:00 GMT</pubDate>"
        "</item>"
        for n, (guid, title, text) in enumerate(items)
    )
    body = f"<channel><title>{channel}</title>{entries}</channel>"
    return f'<rss version="2.0">{body}</rss>'.encode()


QUAY = [
    ("q1", "Dredger arrives at Kellmouth", "The dredger Maren arrived on Friday to clear silt."),
    ("q2", "Night market returns", "Stalls fill the old fish hall at Kellmouth again."),
    ("q3", "Ferry timetable changes", "Sailings to Lowmere move to the afternoon from May."),
]


def test_a_changed_feed_analyses_only_its_new_and_changed_articles(
    tmp_path: Path, loopback_server: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = loopback_server
    server.route("/feed.xml", body=rss(QUAY))
    config = write_config(tmp_path, [feed_source("quay", server.url("/feed.xml"))])
    service = Service.from_path(config, clock=lambda: NOW)
    analysed: list[str] = []
    real = stored_module.features_of

    def counting(
        title: str, text: str, lead_words: int = LEAD_WORDS, key: str | None = None
    ) -> str:
        analysed.append(title)
        return real(title, text, lead_words, key)

    monkeypatch.setattr(stored_module, "features_of", counting)  # one worker: this process
    service.run_once(force=True, workers=1)
    assert sorted(analysed) == sorted(title for _, title, _ in QUAY)

    edited = [
        *QUAY[:2],
        ("q3", "Ferry timetable changes", "Sailings move to the morning."),
        ("q4", "Harbour wall repaired", "Masons finished the wall at Kellmouth."),
    ]
    server.route("/feed.xml", body=rss(edited))
    analysed.clear()
    result = service.run_once(force=True, workers=1).sources[0]
    assert (result.new, result.updated) == (1, 1)
    assert sorted(analysed) == ["Ferry timetable changes", "Harbour wall repaired"]

    # a body that changed around unchanged articles (a new link) keeps their analyses
    server.route("/feed.xml", body=rss(edited).replace(b"quay.test", b"quay.example"))
    analysed.clear()
    result = service.run_once(force=True, workers=1).sources[0]
    assert (result.new, result.updated, analysed) == (0, 4, [])
    assert_all_analysed(service, real)

    # a title whose case alone changed has the same content hash, but not the same analysis
    recased = [edited[0], ("q2", "Night Market Returns", QUAY[1][2]), *edited[2:]]
    server.route("/feed.xml", body=rss(recased).replace(b"quay.test", b"quay.example"))
    analysed.clear()
    result = service.run_once(force=True, workers=1).sources[0]
    assert (result.new, result.updated, analysed) == (0, 1, ["Night Market Returns"])
    assert_all_analysed(service, real)

    # articles stored before there were analyses (r0007 adds both columns empty)
    with service.open_store() as store, store.engine.begin() as connection:
        connection.execute(sa.update(articles).values(features=None))
        connection.execute(sa.update(sources).values(body_entries=None))
    server.route("/feed.xml", body=rss(recased, channel="Quay news").replace(b".test", b".example"))
    analysed.clear()
    result = service.run_once(force=True, workers=1).sources[0]
    assert (result.new, result.updated, len(analysed)) == (0, 0, 4)  # unchanged, analysed now
    assert_all_analysed(service, real)


def assert_all_analysed(service: Service, analysis: Callable[[str, str], str]) -> None:
    with service.open_store() as store, store.engine.connect() as connection:
        rows = connection.execute(
            sa.select(articles.c.id, articles.c.title, articles.c.text, articles.c.features)
        ).all()
    assert len(rows) == 4
    for row in rows:
        assert row.features == analysis(row.title, row.text), row.id


def test_the_last_stored_body_is_what_a_source_knows(store_url: str) -> None:
    with Store.open(store_url) as store:
        store.sync_sources(
            [SourceConfig(name="s", title="S", kind="feed", url="http://s.test/")], NOW
        )
        assert store.body_entries("s") == {}
        first = {"a": EntryMemo("key-a"), "b": EntryMemo("key-b")}
        store.save_batch("s", [], FetchIntent("s", NOW, "ok", NOW, entries=first))
        assert store.body_entries("s") == first
        later = NOW + timedelta(hours=1)
        # a 304 or an unchanged body (no entries) or a failure leaves them; the next
        # stored body replaces them
        store.record_fetch(FetchIntent("s", later, "error", later, entries={"x": EntryMemo("y")}))
        store.record_fetch(FetchIntent("s", later, "not-modified", later))
        assert store.body_entries("s") == first
        odd = {"id with \u2028 and é": EntryMemo("key:1"), "b": EntryMemo("key-b2")}
        store.save_batch("s", [], FetchIntent("s", later, "ok", later, entries=odd))
        assert store.body_entries("s") == odd
        with store.engine.begin() as connection:  # damaged: as if nothing were known
            connection.execute(sa.update(sources).values(body_entries="{not json"))
        assert store.body_entries("s") == {}
        # whoever reads source states never reads them
        statements: list[str] = []

        def seen(_conn: object, _cursor: object, statement: str, *_rest: object) -> None:
            statements.append(statement)

        sa.event.listen(store.engine, "before_cursor_execute", seen)
        store.source_states()
        store.due_sources(later)
        sa.event.remove(store.engine, "before_cursor_execute", seen)
        reads = [s for s in statements if s.startswith("SELECT")]
        assert len(reads) == 2 and not [s for s in reads if "body_entries" in s]

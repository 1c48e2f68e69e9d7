"""The benchmark's corpora: directories of static feed files, built at benchmark time.

* ``synthetic``: 1,000 feeds (half RSS 2.0, half Atom 1.0); 995 of 20 entries and
  5 of 200 (20,900 entries), random pseudo-word titles and 80-150-word HTML bodies.
* ``realistic``: the 53,212 real headlines of ``../shared/eval/uci-dev-large.jsonl``,
  outlets packed into 1,000 feeds, so the real story structure survives.
* ``synthetic10``: the synthetic generator at 10,000 feeds (209,000 entries).

A corpus is a directory ``files/`` (``NNNNN.rss`` / ``NNNNN.atom``) and a
``manifest.json`` (counts, bytes, the parameters that made it). A corpus whose
manifest matches the asked parameters is reused. Nothing here is committed:
the realistic corpus holds the outlets' headlines and lives in the scratch dir.
"""

from __future__ import annotations

import heapq
import json
import shutil
import sys
import zlib
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path

from speedlib.feedxml import EntrySpec, FeedSpec, atom_document, rss_document
from speedlib.synth import SyntheticFeeds

GENERATOR_VERSION = 3
SEED = "feedsvc-bench-speed"
BIG_FEED_EVERY = 200  # one feed in 200 has 200 entries, the others 20
SMALL_ENTRIES, BIG_ENTRIES = 20, 200
NAMES = ("synthetic", "realistic", "synthetic10")

FeedMaker = Callable[[int], tuple[FeedSpec, list[EntrySpec]]]


@dataclass(frozen=True, slots=True)
class Corpus:
    """A built corpus: its files and what they hold."""

    name: str
    root: Path
    paths: tuple[str, ...]
    rss: int
    atom: int
    entries: int
    bytes: int
    params: dict[str, object]

    @property
    def feeds(self) -> int:
        """How many feeds."""
        return len(self.paths)

    def describe(self) -> str:
        """One line: counts and size."""
        return (
            f"{self.feeds:,} feeds ({self.rss:,} RSS, {self.atom:,} Atom), "
            f"{self.entries:,} entries, {self.bytes / 1e6:.1f} MB"
        )


def build(name: str, work: Path, *, scale: float, shared: Path, regenerate: bool) -> Corpus | None:
    """The corpus ``name`` under ``work/corpora``, built unless an identical one is there."""
    if name == "realistic":
        source = shared / "eval" / "uci-dev-large.jsonl"
        if not source.is_file():
            print(f"realistic corpus skipped: {source} is absent", file=sys.stderr)
            return None
        return _realistic(work, source, scale, regenerate)
    # The 10x corpus is ten times the outlets over ten times the days: the same
    # rate of news, so the story window holds as many items as in the 1x corpus.
    multiplier = 10 if name == "synthetic10" else 1
    feeds = max(1, round(1000 * multiplier * scale))
    return _synthetic(name, work, feeds, regenerate, days=4 * multiplier)


def big_feed(index: int) -> bool:
    """Whether synthetic feed ``index`` is one of the 200-entry feeds (0.5 % of them)."""
    return index % BIG_FEED_EVERY == 100 + index // BIG_FEED_EVERY % 2  # RSS and Atom ones


def _synthetic(name: str, work: Path, feeds: int, regenerate: bool, *, days: int) -> Corpus:
    params: dict[str, object] = {"kind": "synthetic", "feeds": feeds, "seed": SEED, "days": days}
    stale = _stale(work / name, params, regenerate)
    maker = SyntheticFeeds(SEED, timedelta(days=days)) if stale else None
    if maker is None:
        return _load(name, work / name)

    def make(index: int) -> tuple[FeedSpec, list[EntrySpec]]:
        return maker.feed(index, BIG_ENTRIES if big_feed(index) else SMALL_ENTRIES)

    return _write(name, work / name, feeds, make, params)


def _realistic(work: Path, source: Path, scale: float, regenerate: bool) -> Corpus:
    stat = source.stat()
    params: dict[str, object] = {
        "kind": "realistic",
        "source": source.name,
        "source_bytes": stat.st_size,
        "source_mtime": int(stat.st_mtime),
        "scale": scale,
    }
    root = work / "realistic"
    if not _stale(root, params, regenerate):
        return _load("realistic", root)
    bins = pack_outlets(_read_items(source), 1000)
    wanted = min(1000, max(1, round(1000 * scale)))
    bins = [bins[n * 1000 // wanted] for n in range(wanted)]  # evenly spread for --scale
    return _write("realistic", root, len(bins), lambda i: _headline_feed(i, bins[i]), params)


def _read_items(source: Path) -> Iterator[dict[str, str]]:
    with source.open(encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                yield json.loads(line)


def pack_outlets(items: Iterator[dict[str, str]], count: int) -> list[list[dict[str, str]]]:
    """Items grouped by outlet, outlets packed into ``count`` feeds (largest first, least full)."""
    by_outlet: dict[str, list[dict[str, str]]] = defaultdict(list)
    for item in items:
        by_outlet[item["outlet"]].append(item)
    order = sorted(by_outlet, key=lambda o: (-len(by_outlet[o]), zlib.crc32(o.encode()), o))
    heap = [(0, index) for index in range(count)]
    bins: list[list[dict[str, str]]] = [[] for _ in range(count)]
    for outlet in order:
        size, index = heapq.heappop(heap)
        bins[index].extend(by_outlet[outlet])
        heapq.heappush(heap, (size + len(by_outlet[outlet]), index))
    return bins


def _headline_feed(index: int, items: list[dict[str, str]]) -> tuple[FeedSpec, list[EntrySpec]]:
    host = f"feed-{index:05d}.example"
    items = sorted(items, key=lambda i: (i["published"], i["id"]), reverse=True)
    entries = [_headline_entry(host, item) for item in items]
    outlets = sorted({i["outlet"] for i in items})
    title = outlets[0] + (f" and {len(outlets) - 1} more" if len(outlets) > 1 else "")
    updated = entries[0].published if entries else datetime.fromisoformat("2014-03-01T00:00:00Z")
    spec = FeedSpec(f"urn:feedsvc-bench:{host}", title, f"https://{host}/", title, updated)
    return spec, entries


def _headline_entry(host: str, item: dict[str, str]) -> EntrySpec:
    when = datetime.fromisoformat(item["published"].replace("Z", "+00:00"))
    link = f"https://{host}/{when:%Y/%m/%d}/{item['id']}.html"
    return EntrySpec(
        guid=link,
        guid_is_link=True,
        title=item["title"],
        link=link,
        author=item["outlet"],
        published=when,
        updated=when,
        body_html=f"<p>{_html_text(item['title'])}</p>",
    )


def _html_text(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _stale(root: Path, params: dict[str, object], regenerate: bool) -> bool:
    manifest = root / "manifest.json"
    if regenerate or not manifest.is_file():
        return True
    saved = json.loads(manifest.read_text(encoding="utf-8"))
    return bool(saved.get("params") != params or saved.get("version") != GENERATOR_VERSION)


def _write(name: str, root: Path, feeds: int, make: FeedMaker, params: dict[str, object]) -> Corpus:
    print(f"[corpus] building {name} ({feeds:,} feeds) in {root} ...", flush=True)
    shutil.rmtree(root, ignore_errors=True)
    files = root / "files"
    files.mkdir(parents=True)
    paths, entries, size, rss = [], 0, 0, 0
    for index in range(feeds):
        spec, items = make(index)
        is_rss = index < (feeds + 1) // 2
        data = (rss_document if is_rss else atom_document)(spec, items).encode("utf-8")
        path = f"{index:05d}.{'rss' if is_rss else 'atom'}"
        (files / path).write_bytes(data)
        paths.append(path)
        entries, size, rss = entries + len(items), size + len(data), rss + is_rss
    corpus = Corpus(name, files, tuple(paths), rss, feeds - rss, entries, size, params)
    manifest = {"version": GENERATOR_VERSION, **asdict(corpus), "root": None}
    (root / "manifest.json").write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    print(f"[corpus] {name}: {corpus.describe()}", flush=True)
    return corpus


def _load(name: str, root: Path) -> Corpus:
    saved = json.loads((root / "manifest.json").read_text(encoding="utf-8"))
    corpus = Corpus(
        name,
        root / "files",
        tuple(saved["paths"]),
        saved["rss"],
        saved["atom"],
        saved["entries"],
        saved["bytes"],
        saved["params"],
    )
    print(f"[corpus] {name}: reusing {root} ({corpus.describe()})", flush=True)
    return corpus

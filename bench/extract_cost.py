"""CPU cost of a worker's processing of fetched feeds: new articles, and articles seen before.

A worker extracts, normalises, tags and analyses each article of a body
(``processing.process_fetched``). When a feed's body changes, most of its
entries usually did not: an entry remembered with the source's last stored
body (``EntryMemo``: its digest) is not normalised again, and an article whose
stored analysis is still that of its text is not analysed again. This prints
the CPU time an entry costs three ways over the same feeds, in this process,
on one core, alternated:

- ``all analysed``: every article new (a first update);
- ``seen, keys known``: every article seen before and unchanged, only the
  analysis keys remembered (as before entries had digests, or the first body
  after an upgrade): normalised again, none analysed;
- ``seen, remembered``: every entry remembered (a changed body around them):
  parsed, none normalised.

Each way runs twice over the feeds after a warm-up pass (the worker's memo
of words filled as a long-lived worker's would be). Compare ratios across
runs: the machine is shared and noisy.

usage: python bench/extract_cost.py [CORPUS_DIR [FEEDS]]
       (default: bench/.work/corpora/synthetic/files, 300 feeds; built by ``make bench-speed``)
"""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

from feedsvc.config_types import SourceConfig
from feedsvc.processing import process_fetched
from feedsvc.types import Document, EntryMemo, Fetched

DEFAULT = Path(__file__).parent / ".work" / "corpora" / "synthetic" / "files"
NOW = datetime(2031, 1, 1, tzinfo=UTC)
SOURCE = SourceConfig(name="bench", title="Bench", kind="feed", url="http://bench.test/")


def fetched(path: Path) -> Fetched:
    """One corpus file as a fetch of its own."""
    kind = "application/atom+xml" if path.suffix == ".atom" else "application/rss+xml"
    url = f"http://bench.test/{path.name}"
    document = Document(url=url, body=path.read_bytes(), content_type=kind)
    return Fetched(source="bench", url=url, final_url=url, status=200, documents=(document,))


def cost(fetches: list[Fetched], known: list[Mapping[str, EntryMemo] | None]) -> tuple[float, int]:
    """CPU seconds to process every fetch with what is known of it, and the entries processed."""
    started, entries = time.process_time(), 0
    for fetch, memos in zip(fetches, known, strict=True):
        processed = process_fetched(fetch, SOURCE, NOW, None, memos)
        entries += len(processed.articles) + len(processed.seen)
    return time.process_time() - started, entries


def main(argv: list[str]) -> int:
    """Process the corpus's first feeds three ways; print µs an entry and the ratios."""
    corpus = Path(argv[0]) if argv else DEFAULT
    count = int(argv[1]) if len(argv) > 1 else 300
    files = sorted(p for p in corpus.glob("*") if p.suffix in (".rss", ".atom"))[:count]
    if not files:
        print(f"no .rss or .atom files in {corpus}: run make bench-speed first", file=sys.stderr)
        return 2
    fetches = [fetched(p) for p in files]
    # the warm-up pass also gives each feed's memos, as its stored body would
    memos = [process_fetched(f, SOURCE, NOW).entries for f in fetches]
    keys: list[Mapping[str, EntryMemo] | None] = [
        {k: EntryMemo(m.analysis) for k, m in (entries or {}).items()} for entries in memos
    ]
    none: list[Mapping[str, EntryMemo] | None] = [None] * len(fetches)
    ways = (("all analysed", none), ("seen, keys known", keys), ("seen, remembered", memos))
    spent: dict[str, list[float]] = {label: [] for label, _ in ways}
    for label, known in [*ways, *ways]:
        seconds, entries = cost(fetches, known)
        spent[label].append(seconds / entries)
        print(f"{label:18} {seconds:6.2f} CPU s, {entries} entries, "
              f"{seconds / entries * 1e6:5.0f} µs an entry", flush=True)  # fmt: skip
    best = {label: min(values) for label, values in spent.items()}
    keyed, remembered = (best[w] / best["all analysed"] for w, _ in ways[1:])
    print(f"an entry seen again costs {keyed:.2f}× an analysed one with its key known, "
          f"{remembered:.2f}× remembered (best of two each)")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

"""CPU cost of feedparser alone on a speed corpus, called as feedsvc and as reader call it.

The floor under any first update that parses with feedparser (issue 7): feedsvc
calls it without its HTML sanitiser and relative-URI resolution (nh3 sanitises
once, afterwards); reader calls it with feedparser's defaults. Each corpus file
is parsed once per way, in this process, on one core; CPU time is measured
with ``time.process_time``, so the figures hold on a busy machine better than
wall time would, and their ratio is what to compare across runs.

usage: python bench/feedparser_cost.py [CORPUS_DIR]
       (default: bench/.work/corpora/synthetic/files, built by ``make bench-speed``)
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import feedparser

DEFAULT = Path(__file__).parent / ".work" / "corpora" / "synthetic" / "files"
WAYS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("as feedsvc calls it (no sanitiser, no URI resolution)",
     {"sanitize_html": False, "resolve_relative_uris": False}),
    ("with feedparser's defaults (as reader calls it)", {}),
)  # fmt: skip


def main(argv: list[str]) -> int:
    """Parse every .rss and .atom file of the corpus each way; print CPU seconds."""
    corpus = Path(argv[0]) if argv else DEFAULT
    files = sorted(p for p in corpus.glob("*") if p.suffix in (".rss", ".atom"))
    if not files:
        print(f"no .rss or .atom files in {corpus}: run make bench-speed first", file=sys.stderr)
        return 2
    bodies = [p.read_bytes() for p in files]
    spent = []
    for label, options in WAYS:
        started = time.process_time()
        entries = sum(len(feedparser.parse(body, **options).entries) for body in bodies)
        spent.append(time.process_time() - started)
        print(f"{label}: {len(bodies):,} files, {entries:,} entries, {spent[-1]:.1f} CPU-s")
    print(f"defaults / feedsvc's way: {spent[1] / spent[0]:.2f}×")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

"""CPU cost of feedparser alone on a speed corpus, called as feedsvc and as reader call it.

The floor under any first update that parses with feedparser (issue 7): feedsvc
calls it without its HTML sanitiser and relative-URI resolution (nh3 sanitises
once, afterwards), with the document's URL as the base of its links and with
feedparser's per-tag base join memoised (``feedsvc.extract.feed``); reader
calls it with feedparser's defaults and, over HTTP, the response URL as base
too (its ``content-location``). The way feedsvc called it
before the memo is measured too. Each corpus file is parsed once per way, in
this process, on one core, the memo installed only for the last way; CPU time
is measured with ``time.process_time``, so the figures hold on a busy machine
better than wall time would, and their ratios are what to compare across runs.

usage: python bench/feedparser_cost.py [CORPUS_DIR]
       (default: bench/.work/corpora/synthetic/files, built by ``make bench-speed``)
"""

from __future__ import annotations

import io
import sys
import time
from pathlib import Path
from typing import Any

import feedparser

from feedsvc.extract import feed
from feedsvc.types import Document

DEFAULT = Path(__file__).parent / ".work" / "corpora" / "synthetic" / "files"
FEEDSVC = {"sanitize_html": False, "resolve_relative_uris": False}
# label, feedparser's options, whether the document URL is given as the base
WAYS: tuple[tuple[str, dict[str, Any], bool], ...] = (
    ("with feedparser's defaults and the URL as base (as reader calls it over HTTP)", {}, True),
    ("as feedsvc called it before the memo of the base join", FEEDSVC, True),
    ("as feedsvc calls it (no sanitiser, no URI resolution, base join memoised)", FEEDSVC, True),
)


def main(argv: list[str]) -> int:
    """Parse every .rss and .atom file of the corpus each way; print CPU seconds."""
    corpus = Path(argv[0]) if argv else DEFAULT
    files = sorted(p for p in corpus.glob("*") if p.suffix in (".rss", ".atom"))
    if not files:
        print(f"no .rss or .atom files in {corpus}: run make bench-speed first", file=sys.stderr)
        return 2
    documents = [Document(f"http://bench.test/{p.name}", p.read_bytes()) for p in files]
    spent = []
    for n, (label, options, based) in enumerate(WAYS):
        if n == len(WAYS) - 1:
            # private, but what every feedsvc parse starts with: the memo stays for good
            feed._memoise_base_resolution()
        started = time.process_time()
        entries = 0
        for document in documents:
            headers = feed.feedparser_headers(document) if based else None
            stream = io.BytesIO(document.body)
            entries += len(feedparser.parse(stream, response_headers=headers, **options).entries)
        spent.append(time.process_time() - started)
        print(f"{label}: {len(documents):,} files, {entries:,} entries, {spent[-1]:.1f} CPU-s")
    print(f"defaults / feedsvc's way: {spent[0] / spent[2]:.2f}×; "
          f"before the memo / with it: {spent[1] / spent[2]:.2f}×")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

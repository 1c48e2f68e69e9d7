"""Quality benchmark of story grouping on the development data.

Runs exactly what ``feedsvc cluster`` runs (``cluster_jsonl`` with the default
``StoryParams``) over ../shared/eval/stories-dev.jsonl, then prints pairwise and
B-cubed precision/recall/F1 per collection, with the same definitions as
../shared/eval/score.py, and whether each target is met.

usage: python bench/stories_quality.py [ITEMS.jsonl]
"""

from __future__ import annotations

import io
import json
import sys
import time
from pathlib import Path

from feedsvc.stories import cluster_jsonl
from feedsvc.stories.evaluate import Scores, score_by_prefix

DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "eval" / "stories-dev.jsonl"
TARGETS = {"uci": (0.90, 0.93), "allsides": (0.92, 0.95), "basil": (0.98, 0.95)}
COLUMNS = ("items", "gold_stories", "pred_stories", "pair_p", "pair_r", "pair_f1")
COLUMNS += ("b3_p", "b3_r", "b3_f1")


def labels(text: str) -> dict[str, str]:
    rows = (json.loads(line) for line in text.splitlines() if line.strip())
    return {str(r["id"]): str(r["story"]) for r in rows}


def row(name: str, s: Scores) -> str:
    cells = [str(getattr(s, c)) if c.endswith("s") else f"{getattr(s, c):.4f}" for c in COLUMNS]
    return name.ljust(10) + "".join(c.rjust(13) for c in cells)


def verdict(name: str, s: Scores) -> str:
    f1, precision = TARGETS[name]
    ok = s.b3_f1 >= f1 and s.b3_p >= precision
    return f"{name}: B3 F1 {s.b3_f1:.4f} (target {f1}), B3 P {s.b3_p:.4f} (target {precision})" + (
        "  ok" if ok else "  BELOW TARGET"
    )


def main() -> int:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT
    if not path.is_file():
        print(f"no evaluation data at {path}", file=sys.stderr)
        return 2
    source = path.read_text(encoding="utf-8")
    out = io.StringIO()
    started = time.perf_counter()
    count = cluster_jsonl(io.StringIO(source), out)
    elapsed = time.perf_counter() - started
    results = score_by_prefix(labels(source), labels(out.getvalue()))
    print(f"clustered {count} items in {elapsed:.2f} s ({count / elapsed:.0f} items/s)")
    print("part".ljust(10) + "".join(c.rjust(13) for c in COLUMNS))
    for name, s in results.items():
        print(row(name, s))
    for name in TARGETS:
        if name in results:
            print(verdict(name, results[name]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

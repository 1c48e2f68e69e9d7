"""Quality benchmark of story grouping on the development data.

Runs the ``feedsvc cluster`` command itself (as a subprocess, with the service's
default parameters) over ../shared/eval/stories-dev.jsonl, then prints pairwise and
B-cubed precision/recall/F1 per collection, with the same definitions as
../shared/eval/score.py, and whether each target is met.

usage: python bench/stories_quality.py [ITEMS.jsonl]
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

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
    command = [sys.executable, "-m", "feedsvc", "-q", "cluster", "--input", str(path)]
    started = time.perf_counter()
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    elapsed = time.perf_counter() - started
    count = len(out.splitlines())
    results = score_by_prefix(labels(source), labels(out))
    rate = count / elapsed
    print(f"feedsvc cluster: {count} items in {elapsed:.2f} s with start-up ({rate:.0f} items/s)")
    print("part".ljust(10) + "".join(c.rjust(13) for c in COLUMNS))
    for name, s in results.items():
        print(row(name, s))
    for name in TARGETS:
        if name in results:
            print(verdict(name, results[name]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

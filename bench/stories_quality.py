"""Quality benchmark of story grouping: cross-validation and whole-file figures.

1. **Whole files.** Runs the ``feedsvc cluster`` command itself (a subprocess,
   the service's default parameters and shipped weights) over
   ../shared/eval/stories-dev.jsonl and uci-dev-large.jsonl and prints
   pairwise and B-cubed precision/recall/F1 per collection (same definitions
   as ../shared/eval/score.py) and whether each target is met. These figures
   are in-sample: the shipped weights were fitted on these files.
2. **Cross-validation** (``--cv``). Five folds by a hash of the story id over
   both files; for each fold the model is fitted and its thresholds
   calibrated on the other four (``fit_story_model.fit``), then the fold's
   stories are clustered (a) alone, as specified, and (b) inside a clustering
   of the whole file, so they meet as many other stories as a held-out file of
   that collection holds (``full density``; items judged by their whole
   predicted story). Each collection is reported apart: mean, standard
   deviation, minimum and maximum over the folds of B-cubed P, R and F1.

   uci-large is cross-validated on a fixed, seeded 40 % of its stories
   (``--large-share``; whole stories, chosen by a salted hash of the id).

usage: python bench/stories_quality.py [--cv | --cv-only] [--folds K,...] [--workers N]
                                      [--large-share S] [--keep-models DIR] [ITEMS.jsonl ...]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from fit_story_model import cluster_ids, describe, fit
from story_data import DEV, FOLDS, LARGE, TARGETS, Labelled, fold_of, load_all, split, subsample

from feedsvc.stories import StoryParams
from feedsvc.stories.evaluate import Scores, score, score_by_prefix, score_items
from feedsvc.stories.scoring import StoryModel

COLUMNS = ("items", "gold_stories", "pred_stories", "pair_p", "pair_r", "pair_f1")
COLUMNS += ("b3_p", "b3_r", "b3_f1")
# Cross-validation reads this share of uci-large's stories (a seeded subset): a
# fit and five evaluations per fold over all 53,212 items take too long here.
LARGE_SHARE = 0.4


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


# --------------------------------------------------------------------------- whole files


def whole_file(path: Path, rename: str | None = None) -> dict[str, Scores]:
    """Run ``feedsvc cluster`` on a file and score its output per collection."""
    command = [sys.executable, "-m", "feedsvc", "-q", "cluster", "--input", str(path)]
    started = time.perf_counter()
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    elapsed = time.perf_counter() - started
    count = len(out.splitlines())
    results = score_by_prefix(labels(path.read_text(encoding="utf-8")), labels(out))
    rate = count / elapsed
    print(f"feedsvc cluster --input {path.name}: {count} items in {elapsed:.2f} s "
          f"with start-up ({rate:.0f} items/s)")  # fmt: skip
    print("part".ljust(10) + "".join(c.rjust(13) for c in COLUMNS))
    for name, s in results.items():
        print(row(name, s))
    if rename:
        results = {rename if k != "all" else k: v for k, v in results.items()}
    for name in TARGETS:
        if name in results:
            print(verdict(name, results[name]))
    print()
    return results


# --------------------------------------------------------------------------- cross-validation


def cross_validate(
    data: dict[str, list[Labelled]], folds: Sequence[int], workers: int, keep: Path | None = None
) -> dict[str, dict[str, list[Scores]]]:
    """Fit on the other folds, score each fold's stories; results by collection and mode."""
    out: dict[str, dict[str, list[Scores]]] = {n: {"alone": [], "full": []} for n in data}
    for k in folds:
        started = time.perf_counter()
        print(f"fold {k}: fitting on the other {FOLDS - 1} folds", flush=True)
        train = {n: split(rows, k)[0] for n, rows in data.items()}
        model = fit(train, workers, log=lambda line: print(line, flush=True))
        if keep is not None:
            keep.mkdir(parents=True, exist_ok=True)
            (keep / f"fold-{k}.json").write_text(json.dumps(model.to_json(), indent=2) + "\n")
        for name, rows in data.items():
            alone, full = evaluate_fold(rows, k, model)
            out[name]["alone"].append(alone)
            out[name]["full"].append(full)
            print(f"  {name:<10} alone P {alone.b3_p:.4f} R {alone.b3_r:.4f} F1 {alone.b3_f1:.4f}"
                  f" | full density P {full.b3_p:.4f} R {full.b3_r:.4f} F1 {full.b3_f1:.4f}",
                  flush=True)  # fmt: skip
        print(f"  ({time.perf_counter() - started:.0f} s) {describe(model)}", flush=True)
    return out


def evaluate_fold(rows: list[Labelled], k: int, model: StoryModel) -> tuple[Scores, Scores]:
    """Score fold ``k`` of one collection: clustered alone, and inside the whole file."""
    params = StoryParams(model=model)
    test = [r for r in rows if fold_of(r.story) == k]
    gold_test = {r.item.id: r.story for r in test}
    alone = score(gold_test, cluster_ids(test, params))
    gold = {r.item.id: r.story for r in rows}
    full = score_items(gold, cluster_ids(rows, params), gold_test)
    return alone, full


def summary(results: dict[str, dict[str, list[Scores]]]) -> str:
    """The cross-validation table: mean ± sd [min, max] of B-cubed P, R, F1 per collection."""
    lines = [
        "| collection | folds | mode | B³ P | B³ R | B³ F1 | target F1 / P |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, modes in results.items():
        for mode, scores in modes.items():
            if not scores:
                continue
            cells = [_spread([getattr(s, m) for s in scores]) for m in ("b3_p", "b3_r", "b3_f1")]
            f1, p = TARGETS[name]
            lines.append(
                f"| {name} | {len(scores)} | {mode} | " + " | ".join(cells) + f" | {f1} / {p} |"
            )
    return "\n".join(lines)


def _spread(values: list[float]) -> str:
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.3f} ± {sd:.3f} [{min(values):.3f}, {max(values):.3f}]"


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("files", nargs="*", type=Path)
    parser.add_argument("--cv", action="store_true", help="also cross-validate (slow)")
    parser.add_argument("--cv-only", action="store_true", help="only cross-validate")
    parser.add_argument("--folds", default=",".join(str(k) for k in range(FOLDS)))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--keep-models", type=Path, help="write each fold's model here")
    parser.add_argument(
        "--large-share",
        type=float,
        default=LARGE_SHARE,
        help="share of uci-large's stories (a fixed, seeded subset) cross-validated",
    )
    args = parser.parse_args()
    files = args.files or [p for p in (DEV, LARGE) if p.is_file()]
    if not files:
        print(f"no evaluation data at {DEV}", file=sys.stderr)
        return 2
    if not args.cv_only:
        for path in files:
            whole_file(path, "uci-large" if path.resolve() == LARGE.resolve() else None)
    if args.cv or args.cv_only:
        data = load_all()
        if "uci-large" in data:
            data["uci-large"] = subsample(data["uci-large"], args.large_share)
            print(f"uci-large: {len(data['uci-large'])} items of a seeded "
                  f"{args.large_share:.0%} of its stories")  # fmt: skip
        folds = [int(k) for k in args.folds.split(",")]
        results = cross_validate(data, folds, args.workers, args.keep_models)
        print("\ncross-validated B³ (mean ± sd [min, max] over folds):")
        print(summary(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Fit the story engine's model on labelled stories and calibrate its thresholds.

What it does, on the training stories it is given (all of the development
data when run as a script; the other folds when called by the
cross-validation in ``stories_quality.py``):

1. **Rows.** Every item is fed to the engine in time order and the signals of
   the item against each candidate story the engine scores are recorded, with
   the label "this candidate is the item's story" (the candidate's majority
   gold story is the item's). The engine places each item in its gold story
   (teacher forcing), so it sees clean stories. Only candidates close in time
   (time prior >= ``NEAR``) are kept: the model learns what the *content*
   says; time enters the score as a fixed prior, never learned, because the
   development data's timestamps are artefacts of how they were collected (a
   UCI story's items arrive within seconds of each other).
2. **Weights.** A logistic regression over ``feedsvc.stories.scoring.FEATURES``
   (Newton's method, a small L2 penalty), each collection weighing the same in
   the loss whatever its number of rows, so one collection of headlines does
   not decide for articles.
3. **Thresholds, precision first.** For each collection the engine clusters
   all its training stories together (so a story meets as many others as in a
   file of that collection) over a grid of join and merge thresholds; a
   setting is admissible when the B-cubed precision of the items of every
   training fold, in every collection, clears its target plus ``MARGIN``,
   and so does the next higher join threshold of the grid (precision that
   holds in a neighbourhood, not at one lucky point). Among those settings
   the best mean F1 wins (the most recall that precision allows), except
   that higher thresholds with a mean F1 within ``F1_TIE`` of the best are
   preferred: such a difference is noise, a lost precision point is not.

Pure Python (no NumPy needed); the development text is read from ../shared
and never written. Usage::

    python bench/fit_story_model.py [--out feedsvc/stories/weights.json]
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

from story_data import TARGETS, Labelled, fold_of, load_all

from feedsvc.stories import Decision, StoryEngine, StoryParams, final_stories
from feedsvc.stories.candidates import Candidate
from feedsvc.stories.engine import story_id_for
from feedsvc.stories.evaluate import Scores, score_items
from feedsvc.stories.model import StoryItem
from feedsvc.stories.scoring import FEATURES, StoryModel, default_model, sigmoid
from feedsvc.stories.signals import Profile

OUT = Path(__file__).resolve().parents[1] / "feedsvc" / "stories" / "weights.json"
# Candidates whose time prior is below this are not used to fit the content model.
NEAR = 0.9
# At most this many rows per collection go into the fit (an even sample).
MAX_ROWS = 20_000
L2 = 1.0
# Precision margin over the target asked of every training fold.
MARGIN = 0.02
# Mean F1 differences below this are noise: the higher thresholds are taken.
F1_TIE = 0.005
JOIN_GRID = (0.7, 0.8, 0.85, 0.9, 0.93, 0.95, 0.97)
MERGE_GRID = (0.95, 0.98)


@dataclass(frozen=True, slots=True)
class Row:
    """One item against one candidate story: signals, label and where it comes from."""

    features: tuple[float, ...]
    label: int
    collection: str


# --------------------------------------------------------------------------- rows


class TeacherEngine(StoryEngine):
    """An engine that puts every item in its gold story and records what it scored."""

    def __init__(self, params: StoryParams, gold: Mapping[str, str]) -> None:
        super().__init__(params)
        self.gold = gold
        self.rows: list[tuple[tuple[float, ...], int]] = []
        self._gold_story: dict[str, str] = {}
        self._label: dict[str, str] = {}

    def _candidates(self, profile: Profile) -> list[Candidate]:
        found = super()._candidates(profile)
        mine = self.gold[profile.item_id]
        for cand in found:
            if cand.decay >= NEAR:
                self.rows.append((cand.features, int(self._label.get(cand.story) == mine)))
        return found

    def _decide(self, item: StoryItem, profile: Profile, keys: tuple[str, ...]) -> Decision:
        super()._decide(item, profile, keys)
        gold = self.gold[item.id]
        story = self._gold_story.get(gold)
        if story is None or story not in self._index.stories:
            story = self._gold_story[gold] = story_id_for(item.id)
            self._label[story] = gold
            return Decision(item.id, story, "new", 0.0)
        return Decision(item.id, story, "same-event", 1.0)


def record(rows: Sequence[Labelled], params: StoryParams) -> list[Row]:
    """Run one collection's items through the teacher engine; return its rows."""
    engine = TeacherEngine(params, {r.item.id: r.story for r in rows})
    for r in sorted(rows, key=lambda r: (r.item.published, r.item.id)):
        engine.add(r.item)
    collection = rows[0].collection if rows else ""
    found = engine.rows
    step = max(1, -(-len(found) // MAX_ROWS))
    return [Row(f, y, collection) for f, y in found[::step]]


# --------------------------------------------------------------------------- logistic fit


def fit_logistic(rows: Sequence[Row], l2: float = L2, iterations: int = 25) -> list[float]:
    """Fit [bias, weights...] by Newton's method; collections weigh the same in the loss."""
    per = Counter(r.collection for r in rows)
    scale = {c: len(rows) / (len(per) * n) for c, n in per.items()}
    data = [((1.0, *r.features), float(r.label), scale[r.collection]) for r in rows]
    dim = len(data[0][0])
    beta = [0.0] * dim
    for _ in range(iterations):
        grad = [0.0] * dim
        hess = [[0.0] * dim for _ in range(dim)]
        for x, y, w in data:
            p = sigmoid(sum([b * v for b, v in zip(beta, x, strict=True)]))
            g, h = w * (p - y), w * p * (1.0 - p)
            for i in range(dim):
                xi = x[i]
                grad[i] += g * xi
                hx = h * xi
                row = hess[i]
                for j in range(i, dim):
                    row[j] += hx * x[j]
        for i in range(dim):
            for j in range(i):
                hess[i][j] = hess[j][i]
            if i:
                grad[i] += l2 * beta[i]
                hess[i][i] += l2
        step = _solve(hess, grad)
        beta = [b - s for b, s in zip(beta, step, strict=True)]
        if max(abs(s) for s in step) < 1e-6:
            break
    return beta


def _solve(a: list[list[float]], b: list[float]) -> list[float]:
    """Solve a x = b by Gaussian elimination with partial pivoting."""
    n = len(b)
    m = [[*row, b[i]] for i, row in enumerate(a)]
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(m[r][col]))
        m[col], m[pivot] = m[pivot], m[col]
        for r in range(col + 1, n):
            f = m[r][col] / m[col][col]
            for c in range(col, n + 1):
                m[r][c] -= f * m[col][c]
    x = [0.0] * n
    for r in range(n - 1, -1, -1):
        x[r] = (m[r][n] - sum(m[r][c] * x[c] for c in range(r + 1, n))) / m[r][r]
    return x


# --------------------------------------------------------------------------- clustering


def cluster_ids(rows: Sequence[Labelled], params: StoryParams) -> dict[str, str]:
    """Cluster items with ``params`` as ``feedsvc cluster`` would; return item → story."""
    engine = StoryEngine(params)
    ordered = sorted((r.item for r in rows), key=lambda i: (i.published, i.id))
    return final_stories(engine.add(item) for item in ordered)


def fold_scores(rows: Sequence[Labelled], params: StoryParams) -> dict[int, Scores]:
    """Cluster all ``rows`` together; score the items of each fold (whole clusters count)."""
    pred = cluster_ids(rows, params)
    gold = {r.item.id: r.story for r in rows}
    folds: dict[int, list[str]] = {}
    for r in rows:
        folds.setdefault(fold_of(r.story), []).append(r.item.id)
    return {k: score_items(gold, pred, ids) for k, ids in sorted(folds.items())}


def _fold_job(args: tuple[Sequence[Labelled], StoryParams]) -> dict[int, Scores]:
    return fold_scores(*args)


def run_jobs(
    jobs: Sequence[tuple[Sequence[Labelled], StoryParams]], workers: int
) -> list[dict[int, Scores]]:
    """Run ``fold_scores`` jobs on ``workers`` processes, biggest first; results in order."""
    order = sorted(range(len(jobs)), key=lambda i: -len(jobs[i][0]))
    if workers <= 1:
        results = {i: _fold_job(jobs[i]) for i in order}
    else:
        with ProcessPoolExecutor(workers) as pool:
            done = pool.map(_fold_job, [jobs[i] for i in order], chunksize=1)
            results = dict(zip(order, done, strict=True))
    return [results[i] for i in range(len(jobs))]


# --------------------------------------------------------------------------- calibration


def calibrate(
    data: Mapping[str, Sequence[Labelled]],
    model: StoryModel,
    workers: int,
    log: Callable[[str], None],
    shape: StoryParams | None = None,
) -> StoryModel:
    """Pick join and merge thresholds: precision on every fold first, then mean F1 (ties up)."""
    names = list(data)
    counted: list[tuple[float, StoryModel]] = []
    fallback: tuple[float, StoryModel] | None = None
    for merge in MERGE_GRID:
        admissible: list[tuple[float, StoryModel]] = []
        for join in JOIN_GRID:
            candidate = replace(model, join_threshold=join, merge_threshold=max(join, merge))
            params = replace(shape or StoryParams(), model=candidate)
            results = run_jobs([(data[n], params) for n in names], workers)
            slacks = {
                n: min(s.b3_p for s in folds.values()) - TARGETS[n][1] - MARGIN
                for n, folds in zip(names, results, strict=True)
            }
            slack = min(slacks.values())
            f1 = sum(_mean(s.b3_f1 for s in f.values()) for f in results) / len(results)
            shown = " ".join(f"{n} {v:+.3f}" for n, v in slacks.items())
            log(f"    join {join:.2f} merge {merge:.2f}: mean F1 {f1:.4f}, "
                f"precision slack {shown}")  # fmt: skip
            if fallback is None or slack > fallback[0]:
                fallback = (slack, candidate)
            admissible.append((f1, candidate) if slack >= 0 else (-1.0, candidate))
            if len(admissible) >= 3 and min(f for f, _ in admissible[-3:]) >= 0:
                break  # three admissible in a row: higher thresholds only lose recall
        # a setting counts when the next higher join threshold is admissible too
        # (precision that holds in a neighbourhood, not at one lucky point)
        for (f1, candidate), (nxt, _) in itertools.pairwise(admissible):
            if f1 >= 0 and nxt >= 0:
                counted.append((f1, candidate))
    if not counted:
        assert fallback is not None
        return fallback[1]
    # precision first: of the settings within F1_TIE of the best mean F1 (a
    # difference smaller than the folds' spread), the highest thresholds win
    top = max(f1 for f1, _ in counted)
    near = [c for f1, c in counted if f1 >= top - F1_TIE]
    return max(near, key=lambda c: (c.join_threshold, c.merge_threshold))


def _mean(values: Iterable[float]) -> float:
    found = list(values)
    return sum(found) / len(found)


# --------------------------------------------------------------------------- the whole fit


def fit(
    data: Mapping[str, Sequence[Labelled]],
    workers: int = 2,
    log: Callable[[str], None] = print,
    shape: StoryParams | None = None,
) -> StoryModel:
    """Fit weights on ``data`` and calibrate the thresholds; return the model.

    ``shape`` gives the engine's other parameters (the defaults unless given).
    """
    base = default_model()
    started = time.perf_counter()
    params = replace(shape or StoryParams(), model=base)
    rows = [row for part in data.values() for row in record(part, params)]
    beta = fit_logistic(rows)
    model = replace(base, bias=beta[0], weights=tuple(beta[1:]), note=NOTE)
    log(f"  {len(rows)} rows: {describe(model)} ({time.perf_counter() - started:.0f} s)")
    model = calibrate(data, model, workers, log, shape)
    log(f"  thresholds: join {model.join_threshold}, merge {model.merge_threshold} "
        f"({time.perf_counter() - started:.0f} s)")  # fmt: skip
    return model


NOTE = "fitted and calibrated by bench/fit_story_model.py on the development data"


def describe(model: StoryModel) -> str:
    """The weights of a model on one line."""
    weights = " ".join(f"{f}={w:+.2f}" for f, w in zip(FEATURES, model.weights, strict=True))
    return f"bias={model.bias:+.2f} {weights}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    data = load_all()
    if not data:
        print("no development data under ../shared/eval", file=sys.stderr)
        return 2
    model = fit(data, args.workers)
    args.out.write_text(json.dumps(model.to_json(), indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

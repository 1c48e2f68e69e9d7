"""Tables, the targets block and the JSON record of a speed run (presentation only)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

from speedlib.corpus import Corpus
from speedlib.runners import STEP_TITLES, STEPS, StepRun, files_summary

MB = 2**20
RSS_LIMIT_MB = 200
RSS_10X_MAX = 1.5  # "about the same": at most 1.5 times the 1,000-feed peak
WALL_10X_MAX = 13.0  # "roughly linear": at most 1.3 times linear


@dataclass(frozen=True, slots=True)
class CorpusResult:
    """Everything measured on one corpus."""

    corpus: Corpus
    server: str
    feedsvc: list[StepRun]
    feedsvc_counts: dict[str, int]
    startup: float
    reader: list[StepRun] | None = None
    reader_counts: dict[str, int] | None = None

    def step(self, tool: str, step: str) -> StepRun | None:
        """The run of ``step`` by ``tool``, if measured."""
        runs = self.feedsvc if tool == "feedsvc" else self.reader or []
        return next((r for r in runs if r.step == step), None)

    def ratio(self, step: str) -> float | None:
        """reader wall / feedsvc wall for ``step`` (> 1: feedsvc faster)."""
        ours, theirs = self.step("feedsvc", step), self.step("reader", step)
        if ours is None or theirs is None:
            return None
        return theirs.measurement.wall / ours.measurement.wall

    def peak_rss(self, tool: str) -> int:
        """The largest tree RSS over the tool's steps."""
        runs = self.feedsvc if tool == "feedsvc" else self.reader or []
        return max((r.measurement.peak_rss for r in runs), default=0)

    def story_rate(self) -> float | None:
        """Story-stage items per second from the first update's timings, if reported."""
        timings = (self.step("feedsvc", "first") or _NO_RUN).timings
        items, seconds = timings.get("stories_items"), timings.get("stories")
        return items / seconds if items and seconds else None


class _NoRun:
    timings: dict[str, float | int] = {}  # noqa: RUF012 (read-only stand-in)


_NO_RUN = _NoRun()


def corpus_report(result: CorpusResult) -> str:
    """The table and notes of one corpus."""
    corpus = result.corpus
    lines = [
        "",
        f"== {corpus.name}: {corpus.describe()}; server: {result.server} ==",
        _row(
            ("step", "reader", "feedsvc", "ratio", "reader", "", "feedsvc", "", "reader", "feedsvc")
        ),
        _row(
            (
                "",
                "wall s",
                "wall s",
                "r/f",
                "feeds/s",
                "entries/s",
                "feeds/s",
                "entries/s",
                "RSS MB",
                "RSS MB",
            )
        ),
    ]
    lines += [_step_row(result, step) for step in STEPS]
    lines += _notes(result)
    return "\n".join(lines)


WIDTHS = (18, 9, 9, 7, 9, 10, 9, 10, 8, 8)


def _row(cells: Sequence[str]) -> str:
    return cells[0].ljust(WIDTHS[0]) + "".join(
        c.rjust(w) for c, w in zip(cells[1:], WIDTHS[1:], strict=True)
    )


def _step_row(result: CorpusResult, step: str) -> str:
    reader, ours = result.step("reader", step), result.step("feedsvc", step)
    ratio = result.ratio(step)
    return _row(
        (
            STEP_TITLES[step],
            _wall(reader),
            _wall(ours),
            f"{ratio:.2f}×" if ratio else "-",
            *_rates(result.corpus, reader, step),
            *_rates(result.corpus, ours, step),
            _rss(reader),
            _rss(ours),
        )
    )


def _wall(run: StepRun | None) -> str:
    if run is None:
        return "-"
    return (">" if run.measurement.timed_out else "") + f"{run.measurement.wall:.2f}"


def _rss(run: StepRun | None) -> str:
    return f"{run.measurement.peak_rss / MB:.0f}" if run else "-"


def _rates(corpus: Corpus, run: StepRun | None, step: str) -> tuple[str, str]:
    """Corpus feeds and entries per second (not for "nothing due", which fetches nothing)."""
    if run is None or step == "due" or run.measurement.timed_out:
        return "-", "-"
    wall = run.measurement.wall
    return f"{corpus.feeds / wall:.1f}", f"{corpus.entries / wall:.0f}"


def _notes(result: CorpusResult) -> list[str]:
    per_step: dict[str, Callable[[StepRun], str]] = {
        "tree CPU s (user+sys)": lambda r: f"{r.measurement.cpu:.1f}",
        "peak PSS MB (shared pages split)": lambda r: f"{r.measurement.peak_pss / MB:.0f}",
        "peak RSS by process, MB": _parts,
        "peak processes": lambda r: str(r.measurement.peak_processes),
        "other processes' load, cores": lambda r: f"{other_load(r):.2f}",
        "requests": lambda r: r.requests.describe(),
    }
    notes = [f"  {label}: {_per_step(result, show)}" for label, show in per_step.items()]
    notes.append("  " + _server_note(result))
    notes.append("  stored: " + _stored(result))
    notes.append("  feedsvc files: " + _files(result))
    notes.append("  feedsvc per stage: " + _stages(result))
    due = result.step("feedsvc", "due")
    ratio = due.measurement.wall / result.startup if due and result.startup else None
    versus = f"nothing due / start-up = {ratio:.1f}×" if ratio else "nothing due not measured"
    notes.append(
        f"  feedsvc start-up (--version, median of runs): {result.startup:.2f} s; {versus}"
    )
    rate = result.story_rate()
    notes.append(
        f"  story stage: {rate:,.0f} items/s" if rate else "  story stage: unavailable (no timings)"
    )
    return notes


def _parts(run: StepRun) -> str:
    """The processes' RSS at the peak, largest first ("228+74+21")."""
    parts = run.measurement.peak_parts
    return "+".join(f"{part / MB:.0f}" for part in parts if part >= MB) or "-"


def other_load(run: StepRun) -> float:
    """Cores used on average by the rest of the machine during the step (noise indicator)."""
    m = run.measurement
    return max(0.0, m.machine_busy - m.cpu - run.server_cpu) / max(m.wall, 1e-9)


def _per_step(result: CorpusResult, show: Callable[[StepRun], str]) -> str:
    parts = []
    for tool, runs in (("reader", result.reader), ("feedsvc", result.feedsvc)):
        if runs:
            parts.append(f"{tool} " + " / ".join(show(r) for r in runs))
    return "; ".join(parts) + f"  ({' / '.join(STEP_TITLES[step] for step in STEPS)})"


def _server_note(result: CorpusResult) -> str:
    runs = [*(result.reader or []), *result.feedsvc]
    busiest = max(runs, key=lambda r: r.server_cpu / max(r.measurement.wall, 1e-9))
    share = busiest.server_cpu / max(busiest.measurement.wall, 1e-9)
    total = sum(r.server_cpu for r in runs)
    return (
        f"server CPU: {total:.2f} s over all steps; busiest step {busiest.tool} "
        f"{STEP_TITLES[busiest.step]}: {busiest.server_cpu:.2f} s = {share:.1%} of one core"
    )


def _stored(result: CorpusResult) -> str:
    parts = []
    for tool, counts in (("reader", result.reader_counts), ("feedsvc", result.feedsvc_counts)):
        if counts:
            parts.append(
                f"{tool} {counts.get('entries', 0):,} entries in {counts.get('feeds', 0):,} feeds "
                f"({counts.get('broken', 0)} failing)"
            )
    return "; ".join(parts) + f" (corpus: {result.corpus.entries:,} entries)"


def _files(result: CorpusResult) -> str:
    shown = []
    for run in result.feedsvc:
        summary = files_summary(run.stdout)
        text = f"{summary[0]} written, {summary[1]} unchanged" if summary else "?"
        shown.append(f"{STEP_TITLES[run.step]}: {text}")
    return "; ".join(shown)


def _stages(result: CorpusResult) -> str:
    parts = []
    for run in result.feedsvc:
        if run.timings:
            pairs = " ".join(f"{k}={v}" for k, v in run.timings.items())
            parts.append(f"\n    {STEP_TITLES[run.step]}: {pairs}")
    return "".join(parts) if parts else "unavailable (this feedsvc has no `run --timings`)"


def to_json(result: CorpusResult) -> dict[str, object]:
    """A JSON-ready record of one corpus's results."""
    corpus = asdict(result.corpus) | {"root": str(result.corpus.root), "paths": None}
    return {
        "corpus": corpus,
        "server": result.server,
        "startup_seconds": result.startup,
        "reader_counts": result.reader_counts,
        "feedsvc_counts": result.feedsvc_counts,
        "steps": [_run_json(r) for r in [*(result.reader or []), *result.feedsvc]],
        "ratios": {step: result.ratio(step) for step in STEPS},
        "story_items_per_second": result.story_rate(),
    }


def _run_json(run: StepRun) -> dict[str, object]:
    return {
        "tool": run.tool,
        "step": run.step,
        **asdict(run.measurement),
        "requests": asdict(run.requests),
        "server_cpu": run.server_cpu,
        "other_load_cores": other_load(run),
        "timings": run.timings,
        "files": files_summary(run.stdout),
    }

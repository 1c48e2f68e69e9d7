"""The targets of issue 7, checked against the ratios of one run: ok, BELOW, or n/a."""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from speedlib.procstat import Measurement
from speedlib.report import MB, RSS_10X_MAX, RSS_LIMIT_MB, WALL_10X_MAX, CorpusResult
from speedlib.runners import STEP_TITLES, files_summary


@dataclass(frozen=True, slots=True)
class Target:
    """One target: what it asks, what was measured, and whether it is met (None: not measured)."""

    name: str
    measured: str
    met: bool | None
    value: float | None = None  # the figure compared, for the spread over repeated runs

    def line(self) -> str:
        """``ok``/``BELOW``/``n/a``, the target, the figure."""
        mark = "n/a" if self.met is None else ("ok" if self.met else "BELOW")
        return f"  {mark:<6} {self.name}: {self.measured}"


def check(results: dict[str, CorpusResult]) -> list[Target]:
    """Every target that the measured corpora allow to check."""
    found: list[Target] = []
    syn, real, big = (results.get(n) for n in ("synthetic", "realistic", "synthetic10"))
    found.append(_ratio("first full update ≥ 4× reader (synthetic)", syn, "first", 4.0))
    if real:
        found.append(
            _ratio("first full update vs reader (realistic, reported)", real, "first", None)
        )
    for name, result in (("synthetic", syn), ("realistic", real)):
        if result:
            found.append(_ratio(f"all-304 update ≥ 2× reader ({name})", result, "again", 2.0))
    for name, result in (("synthetic", syn), ("realistic", real), ("synthetic ×10", big)):
        if result:
            found += [_due_vs_startup(name, result), _renders_nothing(name, result)]
    found.append(_story_rate(syn))
    for name, result in (("synthetic", syn), ("realistic", real)):
        if result:
            found.append(_rss_limit(name, result))
    if syn and big:
        found += _scaling(syn, big)
    return found


def _ratio(name: str, result: CorpusResult | None, step: str, least: float | None) -> Target:
    ratio = result.ratio(step) if result else None
    if ratio is None:
        return Target(name, "not measured", None)
    return Target(name, f"{ratio:.2f}×", None if least is None else ratio >= least, ratio)


def _due_vs_startup(name: str, result: CorpusResult) -> Target:
    due = result.step("feedsvc", "due")
    title = f"nothing due ≤ 2× start-up ({name})"
    if due is None or not result.startup:
        return Target(title, "not measured", None)
    ratio = due.measurement.wall / result.startup
    shown = f"{due.measurement.wall:.2f} s / {result.startup:.2f} s = {ratio:.1f}×"
    return Target(title, shown, ratio <= 2.0, ratio)


def _renders_nothing(name: str, result: CorpusResult) -> Target:
    """Nothing due renders no feed: ``files_rendered`` when timed, else the summary's counts."""
    due = result.step("feedsvc", "due")
    title = f"nothing due renders no feed ({name})"
    if due is None:
        return Target(title, "not measured", None)
    if "files_rendered" in due.timings:
        rendered = int(due.timings["files_rendered"])
        return Target(title, f"files_rendered={rendered}", rendered == 0, rendered)
    summary = files_summary(due.stdout)
    if summary is None:
        return Target(title, "no summary line", None)
    written, unchanged = summary
    shown = f"{written} written + {unchanged} unchanged (rendered to compare)"
    return Target(title, shown, written + unchanged == 0, written + unchanged)


def _story_rate(result: CorpusResult | None) -> Target:
    title = "story stage ≥ 2,000 items/s (synthetic)"
    rate = result.story_rate() if result else None
    if rate is None:
        return Target(title, "unavailable (no stories/stories_items timings)", None)
    return Target(title, f"{rate:,.0f} items/s", rate >= 2000, rate)


def _rss_limit(name: str, result: CorpusResult) -> Target:
    peak = result.peak_rss("feedsvc") / MB
    title = f"peak RSS < {RSS_LIMIT_MB} MB ({name}, {result.corpus.feeds:,} feeds)"
    return Target(title, f"{peak:.0f} MB", peak < RSS_LIMIT_MB, peak)


def _scaling(small: CorpusResult, big: CorpusResult) -> list[Target]:
    big_mb, small_mb = big.peak_rss("feedsvc") / MB, small.peak_rss("feedsvc") / MB
    rss = big_mb / max(small_mb, 1e-9)
    cut = any(r.measurement.timed_out for r in big.feedsvc)
    bound = "≥ " if cut else ""  # a step stopped early: its peak is a lower bound
    shown = f"{bound}{big_mb:.0f} MB / {small_mb:.0f} MB = {bound}{rss:.2f}×"
    met: bool | None = rss <= RSS_10X_MAX
    if cut and met:
        met = None  # below the bound so far, but the step did not finish
    targets = [Target(f"10× peak RSS about the same (10×/1× ≤ {RSS_10X_MAX})", shown, met, rss)]
    for step in ("first", "again", "due"):
        a, b = small.step("feedsvc", step), big.step("feedsvc", step)
        if a and b:
            targets.append(_linear(step, a.measurement, b.measurement))
    return targets


def _linear(step: str, small: Measurement, big: Measurement) -> Target:
    """10×/1× wall of one step: at most WALL_10X_MAX (nothing due: reported, not gated)."""
    ratio = big.wall / small.wall
    bound = ">" if big.timed_out else ""
    shown = f"{bound}{big.wall:.1f} s / {small.wall:.1f} s = {bound}{ratio:.1f}×"
    if step == "due":  # should stay near the start-up cost, not grow tenfold
        return Target("10× wall, nothing due (10×/1×, reported)", shown, None, ratio)
    name = f"10× wall roughly linear, {STEP_TITLES[step]} (10×/1× ≤ {WALL_10X_MAX:g})"
    met: bool | None = ratio <= WALL_10X_MAX
    if big.timed_out and met:
        met = None  # stopped early, below the bound so far: unknown
    return Target(name, shown, met, ratio)


def spread(rounds: list[list[Target]]) -> list[str]:
    """One line per target over repeated runs: how often it was met, and its figures' spread.

    ``ok`` when met in every run, ``BELOW`` in none, ``k/n`` in some; the figures
    are listed in run order (``/`` between runs) with their median, lowest and highest.
    """
    names: dict[str, list[Target]] = {}
    for targets in rounds:
        for target in targets:
            names.setdefault(target.name, []).append(target)
    lines = []
    for name, seen in names.items():
        known = [t.met for t in seen if t.met is not None]
        if not known:
            mark = "n/a"
        elif all(known):
            mark = "ok"
        elif not any(known):
            mark = "BELOW"
        else:
            mark = f"{sum(known)}/{len(known)}"
        values = [t.value for t in seen if t.value is not None]
        if values:
            shown = " / ".join(map(_figure, values))
            figures = (
                f"{shown} (median {_figure(statistics.median(values))};"
                f" {_figure(min(values))}-{_figure(max(values))})"
            )
        else:
            figures = "; ".join(t.measured for t in seen)
        lines.append(f"  {mark:<6} {name}: {figures}")
    return lines


def _figure(value: float) -> str:
    """A ratio with two decimals; a rate, a size or a count whole."""
    return f"{value:.2f}" if abs(value) < 10 and not float(value).is_integer() else f"{value:,.0f}"

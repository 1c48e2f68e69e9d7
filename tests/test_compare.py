"""Golden tests of the difference finder: fictional reports in, what the story page must show out.

Each file in ``fixtures/compare`` holds the reports of one story (one per
outlet, in story order) and what differs between them, as a reader sees it:
each differing figure or spelling as the (outlet, value) pairs, the names and
numbers only one outlet mentions. Set ``FEEDSVC_UPDATE_GOLDEN=1`` to rewrite
the expectations from the finder's output (then read the diff).
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from feedsvc.compare import Difference, Differences, Mention, Report, find_differences
from feedsvc.config_types import SourceConfig
from feedsvc.extract import extract
from feedsvc.normalise import normalise
from feedsvc.types import Document

FIXTURES = Path(__file__).parent / "fixtures" / "compare"
CASES = sorted(FIXTURES.glob("*.json"))


def shown(differences: Differences) -> dict[str, Any]:
    """The differences as the page lists them: outlets and values, no internals."""
    return {
        "figures": [[[m.outlet, m.value] for m in d.mentions] for d in differences.figures],
        "spellings": [[[m.outlet, m.value] for m in d.mentions] for d in differences.spellings],
        "only": {
            u.outlet: {"names": [m.value for m in u.names], "numbers": [m.value for m in u.numbers]}
            for u in differences.unshared
        },
    }


@pytest.mark.parametrize("case", CASES, ids=[c.stem for c in CASES])
def test_golden(case: Path) -> None:
    data = json.loads(case.read_text(encoding="utf-8"))
    reports = [Report(r["outlet"], r["title"], r["text"]) for r in data["reports"]]
    differences = find_differences(reports)
    got = shown(differences)
    if os.environ.get("FEEDSVC_UPDATE_GOLDEN"):
        data["expected"] = got
        case.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    assert got == data["expected"]
    # Every mention is shown in the words of the outlet that wrote it.
    texts = {r.outlet: f"{r.title}\n{r.text}" for r in reports}
    for difference in (*differences.figures, *differences.spellings):
        for mention in difference.mentions:
            assert mention.value in mention.context
            assert mention.context.strip("… ") in " ".join(texts[mention.outlet].split())
    assert differences.empty == (got == {"figures": [], "spellings": [], "only": {}})


def test_there_are_golden_cases_of_each_kind() -> None:
    names = {c.stem for c in CASES}
    assert {
        "differing-figures",
        "differing-spellings",
        "fact-only-one-has",
        "reports-agree",
    } <= names


def test_one_outlet_has_nothing_to_compare() -> None:
    one = Report(
        "Harbour Gazette", "Ferry aground", "The ferry Kestrel ran aground with 212 aboard."
    )
    again = Report("Harbour Gazette", "Ferry refloated", "Tugs refloated the Kestrel at 6 a.m.")
    assert find_differences([one, again]).empty
    assert find_differences([]).empty


def test_reports_of_one_outlet_are_read_together() -> None:
    first = Report(
        "Harbour Gazette", "Ferry aground", "The ferry ran aground off Dunmarsh with 212 aboard."
    )
    update = Report("Harbour Gazette", "Update", "Captain Ivo Marsh said the tide turned early.")
    other = Report(
        "Metro Daily", "Ferry aground", "The ferry ran aground off Dunmarsh with 212 aboard."
    )
    (only,) = find_differences([first, other, update]).unshared
    assert only.outlet == "Harbour Gazette"
    assert [m.value for m in only.names] == ["Captain Ivo Marsh"]


def test_a_longer_form_of_a_name_is_not_a_spelling_difference() -> None:
    a = Report(
        "A", "Talks", "Officials from Japan met in Nara on Tuesday to discuss the Vell treaty."
    )
    b = Report("B", "Talks", "Officials of Japanese ministries met in Nara on Tuesday.")
    differences = find_differences([a, b])
    assert differences.spellings == ()
    assert [m.value for u in differences.unshared for m in u.names] == ["Japan", "Vell", "Japanese"]


def test_a_figure_is_shown_within_its_sentence() -> None:
    a = Report(
        "Harbour Gazette",
        "Flood at Tarrow",
        "Rain fell all week. The flood near the old river mill at Tarrow killed 12 villagers"
        " on Sunday night. County officials said roads would stay shut for a week.",
    )
    b = Report(
        "Metro Daily",
        "Flood at Tarrow",
        "The flood near the old river mill at Tarrow killed 14 villagers, officials said.",
    )
    differences = find_differences([a, b])
    assert differences.figures == (
        Difference(
            (
                Mention(
                    "Harbour Gazette",
                    "12",
                    "… near the old river mill at Tarrow killed 12 villagers on Sunday night",
                ),
                Mention(
                    "Metro Daily",
                    "14",
                    "… near the old river mill at Tarrow killed 14 villagers, officials said",
                ),
            )
        ),
    )
    assert differences.spellings == ()
    assert differences.unshared == ()


def seed_reports(shared: Path) -> list[Report]:
    """The two reports of the Nara summit, as the pipeline stores them, in story order."""
    reports = []
    now = datetime(2026, 2, 1, tzinfo=UTC)
    for path in sorted((shared / "seeds").glob("*.txt")):
        source = SourceConfig(name=f"outlet-{path.name[:3]}", title="", kind="file", path=path)
        (raw,) = extract(Document(path.as_uri(), path.read_bytes()), "file").entries
        article = normalise(raw, source, now)
        reports.append(Report(article.source, article.title, article.text))
    return reports


@pytest.mark.shared
def test_the_seed_reports_differ_on_the_toll_and_the_mine(shared_dir: Path) -> None:
    differences = find_differences(seed_reports(shared_dir))
    assert shown(differences)["figures"] == [[["outlet-000", "136"], ["outlet-004", "183"]]]
    assert shown(differences)["spellings"] == [[["outlet-000", "Josei"], ["outlet-004", "Chosei"]]]
    only = shown(differences)["only"]
    assert only["outlet-000"]["numbers"] == ["88-minute", "February 3", "1942", "2026"]
    assert only["outlet-004"]["numbers"] == ["60th", "2023", "January 4-7"]
    assert "Ube City" in only["outlet-000"]["names"]
    assert "Kansai Airport" in only["outlet-004"]["names"]
    for difference in (*differences.figures, *differences.spellings):
        for mention in difference.mentions:
            assert mention.value in mention.context

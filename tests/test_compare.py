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
from pathlib import Path
from typing import Any

import pytest

from feedsvc.compare import Differences, Report, find_differences

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

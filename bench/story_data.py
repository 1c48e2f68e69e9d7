"""Development data for the story benchmarks: collections, folds and scoring helpers.

The collections are told apart by the id prefix (``uci-``, ``allsides-``,
``basil-``) in ``stories-dev.jsonl``; ``uci-dev-large.jsonl`` is a fourth
collection, called ``uci-large`` here. Folds are by story: a story's fold is a
stable hash of its id, so every item of a story is in the same fold. The text
is read from ../shared at run time and never written anywhere.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from feedsvc.stories import StoryItem, parse_item

SHARED = Path(__file__).resolve().parents[2] / "shared" / "eval"
DEV = SHARED / "stories-dev.jsonl"
LARGE = SHARED / "uci-dev-large.jsonl"
FOLDS = 5
# B-cubed targets per collection: (F1, precision).
TARGETS = {
    "uci": (0.90, 0.93),
    "allsides": (0.92, 0.95),
    "basil": (0.98, 0.95),
    "uci-large": (0.90, 0.93),
}
COLLECTIONS = ("uci", "allsides", "basil", "uci-large")


@dataclass(frozen=True, slots=True)
class Labelled:
    """An item with its gold story and the collection it comes from."""

    item: StoryItem
    story: str
    collection: str


def fold_of(story: str, folds: int = FOLDS) -> int:
    """Return the fold of a story: a stable hash of its id."""
    digest = hashlib.blake2b(story.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % folds


def read(path: Path, collection: str | None = None) -> list[Labelled]:
    """Read labelled items; the collection is the id prefix unless given."""
    out = []
    with path.open(encoding="utf-8") as f:
        for line in f:
            if line.strip():
                record = json.loads(line)
                name = collection or str(record["id"]).split("-", 1)[0]
                out.append(Labelled(parse_item(record), str(record["story"]), name))
    return out


def load_all(dev: Path = DEV, large: Path = LARGE) -> dict[str, list[Labelled]]:
    """Return every development collection that is present, by name."""
    data: dict[str, list[Labelled]] = {}
    if dev.is_file():
        for row in read(dev):
            data.setdefault(row.collection, []).append(row)
    if large.is_file():
        data["uci-large"] = read(large, "uci-large")
    return {name: data[name] for name in COLLECTIONS if name in data}


def subsample(rows: Iterable[Labelled], share: float, seed: str = "cv") -> list[Labelled]:
    """Keep the items of a fixed, seeded share of the stories (whole stories, by hash)."""
    if share >= 1.0:
        return list(rows)
    cut = int(share * 10_000)
    return [r for r in rows if _story_hash(f"{seed}:{r.story}") % 10_000 < cut]


def _story_hash(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")


def split(rows: Iterable[Labelled], test_fold: int) -> tuple[list[Labelled], list[Labelled]]:
    """Return (training rows, test rows) for one fold."""
    train, test = [], []
    for row in rows:
        (test if fold_of(row.story) == test_fold else train).append(row)
    return train, test

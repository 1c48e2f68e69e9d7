"""A served copy of a corpus, and a change between steps: a tenth of the feeds gain an entry.

The server serves ``served/``, a directory of hard links to the corpus files, so
a changed feed is written as a new file (renamed over its link) and the cached
corpus itself never changes. The new entries are synthetic (seeded, the same
bytes on every run) and an hour newer than their feed's newest entry, so every
tool stores them as new articles and the story window moves as it would in a
steady day; the other nine tenths keep their bytes and answer 304.
"""

from __future__ import annotations

import os
import random
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path

from speedlib.corpus import Corpus
from speedlib.feedxml import EntrySpec, atom_entry, rss_item
from speedlib.synth import START, SyntheticFeeds

CHANGE_EVERY = 10  # one feed in ten gains an entry
SEED = "feedsvc-bench-churn"


@dataclass(frozen=True, slots=True)
class Change:
    """What one change did to the served files."""

    feeds: int
    entries: int

    def describe(self) -> str:
        """One line for the progress output."""
        return f"{self.feeds:,} feeds gained {self.entries:,} entries"


def served_copy(corpus: Corpus, directory: Path) -> Path:
    """``directory`` made afresh as hard links to the corpus files (copies across devices)."""
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    for path in corpus.paths:
        try:
            os.link(corpus.root / path, directory / path)
        except OSError:
            shutil.copyfile(corpus.root / path, directory / path)
    return directory


def changed_paths(corpus: Corpus) -> list[str]:
    """The feeds that change: every tenth one, RSS and Atom alike."""
    return [path for index, path in enumerate(corpus.paths) if index % CHANGE_EVERY == 3]


def add_entries(corpus: Corpus, served: Path, round_number: int = 1) -> Change:
    """Put one new entry at the top of each changed feed in ``served`` (atomic per file)."""
    maker = SyntheticFeeds(SEED)
    paths = changed_paths(corpus)
    for path in paths:
        index = int(path.split(".")[0])
        target = served / path
        text = target.read_text(encoding="utf-8")
        is_rss = path.endswith(".rss")
        entry = new_entry(maker, index, round_number, newest(text, is_rss))
        marker = "<item>" if is_rss else "<entry>"
        xml = rss_item(entry) if is_rss else atom_entry(entry)
        at = text.find(marker)
        if at < 0:  # an empty feed: before the closing tag
            at = text.rfind("</channel>" if is_rss else "</feed>")
        temporary = target.with_suffix(target.suffix + ".tmp")
        temporary.write_text(text[:at] + xml + text[at:], encoding="utf-8")
        temporary.replace(target)
    return Change(len(paths), len(paths))


def newest(text: str, is_rss: bool) -> datetime:
    """The first entry's date in a feed written newest first (the corpus start if none)."""
    tag = "pubDate" if is_rss else "published"
    start = text.find(f"<{tag}>")
    if start < 0:
        return START
    value = text[start + len(tag) + 2 : text.find(f"</{tag}>", start)]
    if is_rss:
        return parsedate_to_datetime(value)
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def new_entry(maker: SyntheticFeeds, index: int, round_number: int, after: datetime) -> EntrySpec:
    """Feed ``index``'s new entry of change ``round_number``, an hour or so after ``after``."""
    rng = random.Random(f"{SEED}:{index}:{round_number}")
    when = after + timedelta(hours=round_number, minutes=rng.randint(0, 59))
    return maker.entry(rng, f"outlet-{index:05d}.example", "Churn", 10_000 + round_number, when)

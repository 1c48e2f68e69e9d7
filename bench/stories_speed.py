"""Speed and memory benchmark of the default story engine on synthetic news.

Generates deterministic, synthetic-but-realistic items: stories of 1 to 40
items written by many outlets; titles of 6-14 words and bodies of 0-400 words
drawn from a Zipf-distributed vocabulary of pseudo-words, mixed with each
story's own topic words, names and numbers; a steady rate of about 1,700 items
a day, so the 3-day window holds about 5,000 items whatever the archive size.
Each size runs in a fresh process; it prints items per second (engine time
only, one core) and the resident memory at each tenth of the run, which should
stay flat once the window is full.

usage: python bench/stories_speed.py [SIZE ...]     (default: 10000 100000)
"""

from __future__ import annotations

import random
import resource
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeAlias

from feedsvc.stories import StoryEngine, StoryItem

_SYLLABLE_TEXT = "ka lo mi ren tas vel dor an is mur pe sko tri nal bex qua ush ol fen dar"
SYLLABLES = _SYLLABLE_TEXT.split()
PER_DAY = 1700
START = datetime(2031, 1, 1, tzinfo=UTC)


def pseudo_words(rng: random.Random, count: int) -> list[str]:
    words = {"".join(rng.choices(SYLLABLES, k=rng.randint(2, 4))) for _ in range(count * 2)}
    return sorted(words)[:count]


Topic: TypeAlias = tuple[list[str], list[str], list[str]]


class Generator:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.vocab = pseudo_words(self.rng, 30_000)
        self.weights = [1.0 / (rank + 1) for rank in range(len(self.vocab))]
        self.outlets = [f"Outlet {n}" for n in range(400)]

    def background(self, count: int) -> list[str]:
        return self.rng.choices(self.vocab, weights=self.weights, k=count)

    def story(self) -> Topic:
        topic = self.rng.sample(self.vocab[500:], 8)
        names = [w.capitalize() for w in self.rng.sample(self.vocab[2000:], 3)]
        numbers = [str(self.rng.randint(2, 5000)) for _ in range(2)]
        return topic, names, numbers

    def item(self, story: Topic, n: int, when: datetime) -> StoryItem:
        topic, names, numbers = story
        rng = self.rng
        own = rng.sample(topic, 3) + rng.sample(names, 1) + self.background(rng.randint(3, 10))
        rng.shuffle(own)
        body_len = rng.choice((0, 0, 40, 120, 400))
        body = self.background(body_len) + rng.sample(topic, 5) + names + numbers
        body = body if body_len else []
        rng.shuffle(body)
        outlet = rng.choice(self.outlets)
        return StoryItem(f"syn-{n}", " ".join(own).capitalize(), " ".join(body), outlet, when)

    def items(self, total: int) -> Iterator[StoryItem]:
        open_stories: list[tuple[Topic, int]] = []
        step = timedelta(days=1) / PER_DAY
        for n in range(total):
            if not open_stories or self.rng.random() < 0.25:
                open_stories.append((self.story(), self.rng.randint(1, 40)))
            index = self.rng.randrange(len(open_stories))
            story, left = open_stories[index]
            yield self.item(story, n, START + n * step)
            if left <= 1 or len(open_stories) > 300:
                open_stories.pop(index if left <= 1 else 0)
            else:
                open_stories[index] = (story, left - 1)


def rss_mib() -> float:
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * resource.getpagesize() / 2**20


def run_one(size: int) -> None:
    engine = StoryEngine()
    spent = 0.0
    marks: list[str] = []
    for n, item in enumerate(Generator(seed=size).items(size), start=1):
        started = time.perf_counter()
        engine.add(item)
        spent += time.perf_counter() - started
        if n % (size // 10) == 0:
            marks.append(f"{rss_mib():.0f}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{size:>7} items: {size / spent:7.0f} items/s (engine time {spent:.1f} s), "
          f"peak RSS {peak:.0f} MiB, RSS at each tenth (MiB): {' '.join(marks)}, "
          f"active stories at end {len(engine.active_stories())}")  # fmt: skip


def main() -> int:
    if len(sys.argv) == 3 and sys.argv[1] == "--one":
        run_one(int(sys.argv[2]))
        return 0
    sizes = [int(a) for a in sys.argv[1:]] or [10_000, 100_000]
    for size in sizes:
        subprocess.run([sys.executable, __file__, "--one", str(size)], check=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

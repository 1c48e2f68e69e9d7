"""Speed and memory benchmark of the default story engine on synthetic items.

Two deterministic corpora:

- ``giant`` (the default; the synthetic corpus of the speed issue): titles of
  6-14 and bodies of 80-150 random pseudo-words drawn from one Zipf-shaped
  vocabulary, from 1,000 outlets, spread over four days. Nothing tells the
  items apart, so they collapse into a few giant stories: the worst case for
  retrieval (long postings), scoring and merges. 20,900 items is the size of
  the issue's feed corpus; larger sizes keep the same rate of items a day.
- ``news``: stories of 1-40 items written by 400 outlets; titles of 6-14
  words and bodies of 0-400 words drawn from a Zipf vocabulary mixed with each
  story's own topic words, names and numbers; 1,700 items a day.

Each size runs in a fresh process on one core. The machine is shared and
noisy, so besides items per second (CPU time of the engine alone) it measures, in the
same process, a fixed reference workload over the same items (splitting each
item's title and text into lower-case words with a regular expression) and
prints the engine's speed as a ratio to it; compare ratios across runs, not
raw rates. It also prints the peak resident memory and the resident memory
at each tenth of the run (flat once the 3-day window is full).

With ``--tracemalloc`` each size is run a second time with the engine's own
allocations traced (slower; the items themselves are not counted). With
``--stored`` the items carry their analyses, made beforehand as the
extraction workers make them (``stories.stored.features_of``; that time is
printed apart, not counted), as a story round reads them from the store.

usage: python bench/stories_speed.py [--corpus giant|news] [--tracemalloc] [--stored] [SIZE ...]
       (default: --corpus giant 20900 100000)
"""

from __future__ import annotations

import argparse
import itertools
import random
import re
import resource
import subprocess
import sys
import time
import tracemalloc
import zlib
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeAlias

from feedsvc.stories import StoryEngine, StoryItem
from feedsvc.stories.stored import features_of, forget_memo

_SYLLABLE_TEXT = "ka lo mi ren tas vel dor an is mur pe sko tri nal bex qua ush ol fen dar"
SYLLABLES = _SYLLABLE_TEXT.split()
START = datetime(2031, 1, 1, tzinfo=UTC)
_WORDS = re.compile(r"\w+")


def pseudo_words(rng: random.Random, count: int) -> list[str]:
    words = {"".join(rng.choices(SYLLABLES, k=rng.randint(2, 4))) for _ in range(count * 2)}
    return sorted(words)[:count]


# --------------------------------------------------------------------------- the giant corpus


def giant_items(total: int, seed: int = 1, days: float = 4.0) -> Iterator[StoryItem]:
    """Random pseudo-word items that collapse into a few giant stories.

    Shaped like the speed benchmark's synthetic feeds: a vocabulary of 20,000
    pseudo-words drawn with Zipf-like weights (exponent 0.9, short words
    frequent), titles of 6-14 words, bodies of 80-150 words in 2-4 one-sentence
    paragraphs, 1,000 outlets, publication times spread at random over
    ``days`` days.
    """
    rng = random.Random(seed)
    words: set[str] = set()
    while len(words) < 20_000:
        words.add("".join(rng.choices(SYLLABLES, k=rng.choice((1, 2, 2, 2, 3, 3, 4)))))
    vocab = sorted(words, key=lambda w: (len(w), zlib.crc32(w.encode())))
    cumulative = list(itertools.accumulate(1.0 / (rank + 1) ** 0.9 for rank in range(len(vocab))))
    times = sorted(rng.random() * days for _ in range(total))
    for n, when in enumerate(times):
        title = rng.choices(vocab, cum_weights=cumulative, k=rng.randint(6, 14))
        body = rng.choices(vocab, cum_weights=cumulative, k=rng.randint(80, 150))
        cuts = sorted(rng.sample(range(1, len(body)), rng.randint(1, 3)))
        paragraphs = [
            " ".join(body[a:b]).capitalize() + "."
            for a, b in itertools.pairwise([0, *cuts, len(body)])
        ]
        outlet = f"outlet-{rng.randrange(1000)}"
        yield StoryItem(
            f"g-{n}", " ".join(title).capitalize(), "\n".join(paragraphs), outlet,
            START + timedelta(days=when),
        )  # fmt: skip


# --------------------------------------------------------------------------- the news corpus

Topic: TypeAlias = tuple[list[str], list[str], list[str]]


class NewsGenerator:
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

    def items(self, total: int, per_day: int = 1700) -> Iterator[StoryItem]:
        open_stories: list[tuple[Topic, int]] = []
        step = timedelta(days=1) / per_day
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


# --------------------------------------------------------------------------- measuring


def rss_mib() -> float:
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * resource.getpagesize() / 2**20


def reference(items: list[StoryItem]) -> float:
    """CPU seconds to split every item into lower-case words: the run's yardstick."""
    started = time.process_time()
    for item in items:
        _WORDS.findall(item.title.lower())
        _WORDS.findall(item.text.lower())
    return time.process_time() - started


def with_analyses(items: list[StoryItem]) -> tuple[list[StoryItem], float]:
    """The items with their stored analyses, and the CPU seconds making them took."""
    started = time.process_time()
    made = [replace(item, features=features_of(item.title, item.text)) for item in items]
    spent = time.process_time() - started
    forget_memo()  # the workers' memo is not the engine's
    return made, spent


def run_one(corpus: str, size: int, stored: bool = False) -> None:
    if corpus == "giant":
        gen = giant_items(size, days=4.0 * max(1.0, size / 20_900))
    else:
        gen = NewsGenerator(seed=size).items(size)
    items = list(gen)
    if stored:
        items, made = with_analyses(items)
        print(f"{corpus} {size:>7} items: analyses made beforehand in {made:.1f} CPU s "
              f"({size / made:.0f} items/s), not counted below", flush=True)  # fmt: skip
    base_before = reference(items)
    before = rss_mib()
    engine = StoryEngine()
    marks: list[str] = []
    tenth = max(1, size // 10)
    started, wall = time.process_time(), time.perf_counter()
    for n, item in enumerate(items, start=1):
        engine.add(item)
        if n % tenth == 0:
            marks.append(f"{rss_mib():.0f}")
    spent, wall = time.process_time() - started, time.perf_counter() - wall
    grown = rss_mib() - before
    base = (base_before + reference(items)) / 2
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    sizes = sorted(len(engine.story(s).members) + 1 for s in engine.active_stories())
    rate, base_rate = size / spent, size / base
    print(f"{corpus} {size:>7} items: engine {rate:7.0f} items/s ({spent:.1f} CPU s, "
          f"{wall:.1f} s wall), "
          f"reference {base_rate:7.0f} items/s, ratio {rate / base_rate:.4f}; "
          f"peak RSS {peak:.0f} MiB (engine: +{grown:.0f} MiB over the items alone), "
          f"RSS at each tenth (MiB): {' '.join(marks)}; "
          f"{len(sizes)} active stories, largest {sizes[-3:][::-1]}", flush=True)  # fmt: skip


def traced(corpus: str, size: int, stored: bool = False) -> None:
    """Print the memory the engine holds at each tenth of the run, traced by tracemalloc."""
    gen = giant_items(size, days=4.0 * max(1.0, size / 20_900)) if corpus == "giant" else (
        NewsGenerator(seed=size).items(size)
    )  # fmt: skip
    items = with_analyses(list(gen))[0] if stored else list(gen)
    tracemalloc.start()
    start = tracemalloc.get_traced_memory()[0]
    engine = StoryEngine()
    marks = []
    for n, item in enumerate(items, start=1):
        engine.add(item)
        if n % max(1, size // 10) == 0:
            marks.append(f"{(tracemalloc.get_traced_memory()[0] - start) / 2**20:.0f}")
    peak = (tracemalloc.get_traced_memory()[1] - start) / 2**20
    print(f"{corpus} {size:>7} items: engine memory (tracemalloc) at each tenth (MiB): "
          f"{' '.join(marks)}; peak {peak:.0f} MiB", flush=True)  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("sizes", nargs="*", type=int)
    parser.add_argument("--corpus", choices=("giant", "news"), default="giant")
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument(
        "--tracemalloc", action="store_true", help="also trace the engine's memory (slow)"
    )
    parser.add_argument(
        "--stored", action="store_true", help="items carry their stored analyses (as a round)"
    )
    args = parser.parse_args()
    sizes = args.sizes or [20_900, 100_000]
    if args.one:
        (traced if args.tracemalloc else run_one)(args.corpus, sizes[0], args.stored)
        return 0
    stored = ["--stored"] if args.stored else []
    for size in sizes:
        command = [sys.executable, __file__, "--one", "--corpus", args.corpus, *stored, str(size)]
        subprocess.run(command, check=True)
        if args.tracemalloc:
            subprocess.run([*command, "--tracemalloc"], check=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Synthetic feeds: pseudo-words with a Zipf-like frequency, HTML bodies, realistic metadata.

Everything comes from seeded ``random.Random`` instances (string seeds, which do
not depend on ``PYTHONHASHSEED``), so a corpus is the same bytes on every machine.
Entries belong to no story: random words put nearly all of them in a few giant
stories in feedsvc's engine, the worst case for its story stage (on purpose).
"""

from __future__ import annotations

import itertools
import random
import uuid
import zlib
from datetime import UTC, datetime, timedelta

from speedlib.feedxml import EntrySpec, FeedSpec

SYLLABLES = [
    "ba",
    "ko",
    "ri",
    "sen",
    "tal",
    "mo",
    "vu",
    "nek",
    "di",
    "sar",
    "pel",
    "on",
    "gu",
    "fi",
    "lam",
    "tre",
    "zo",
    "can",
    "mir",
    "es",
    "ul",
    "hod",
]
VOCABULARY_SIZE = 20_000
ZIPF_EXPONENT = 0.9
START = datetime(2025, 3, 3, tzinfo=UTC)  # in the past: feedsvc clamps future dates to now
SPREAD = timedelta(days=4)
ENTITIES = ("&amp;", "&#8217;s", "&quot;", "&#8212;", "&nbsp;", "&hellip;", "&eacute;")


class Words:
    """A fixed pseudo-word vocabulary drawn with Zipf-like weights."""

    def __init__(self, seed: str) -> None:
        rng = random.Random(f"{seed}:vocabulary")
        words: set[str] = set()
        while len(words) < VOCABULARY_SIZE:
            words.add("".join(rng.choices(SYLLABLES, k=rng.choice((1, 2, 2, 2, 3, 3, 4)))))
        # frequent words are short ones, as in real text
        self.vocabulary = sorted(words, key=lambda w: (len(w), zlib.crc32(w.encode())))
        weights = (1.0 / (rank + 1) ** ZIPF_EXPONENT for rank in range(VOCABULARY_SIZE))
        self.cumulative = list(itertools.accumulate(weights))

    def draw(self, rng: random.Random, count: int) -> list[str]:
        """``count`` words, frequent ones more often."""
        return rng.choices(self.vocabulary, cum_weights=self.cumulative, k=count)


class SyntheticFeeds:
    """Makes feed ``index`` of a synthetic corpus as (FeedSpec, entries)."""

    def __init__(self, seed: str, spread: timedelta = SPREAD) -> None:
        self.seed = seed
        self.words = Words(seed)
        self.spread = spread

    def feed(self, index: int, entry_count: int) -> tuple[FeedSpec, list[EntrySpec]]:
        """Feed ``index`` with ``entry_count`` entries, newest first."""
        rng = random.Random(f"{self.seed}:feed:{index}")
        host = f"outlet-{index:05d}.example"
        name = " ".join(w.capitalize() for w in self.words.draw(rng, 2))
        times = sorted(
            (START + self.spread * rng.random() for _ in range(entry_count)), reverse=True
        )
        entries = [self.entry(rng, host, name, n, when) for n, when in enumerate(times)]
        spec = FeedSpec(
            id=f"urn:uuid:{uuid.UUID(int=rng.getrandbits(128))}",
            title=f"The {name} Post",
            link=f"https://{host}/",
            description=" ".join(self.words.draw(rng, 8)).capitalize(),
            updated=times[0] if times else START,
        )
        return spec, entries

    def entry(
        self, rng: random.Random, host: str, author: str, n: int, when: datetime
    ) -> EntrySpec:
        """Entry ``n`` of an outlet at ``host``, published at ``when``."""
        title_words = self.words.draw(rng, rng.randint(6, 14))
        slug = "-".join(title_words[:6])
        link = f"https://{host}/{when:%Y/%m/%d}/{slug}-{n}.html"
        permalink = rng.random() < 0.5
        guid = link if permalink else f"tag:{host},{when:%Y}:story-{rng.getrandbits(40):x}"
        body = self._body(rng, host, rng.randint(80, 150))
        summary = self._summary(rng) if rng.random() < 0.5 else ""
        updated = when + timedelta(minutes=rng.randint(0, 90)) if rng.random() < 0.3 else when
        return EntrySpec(
            guid=guid,
            guid_is_link=permalink,
            title=" ".join(title_words).capitalize(),
            link=link,
            author=f"{author} staff",
            published=when,
            updated=updated,
            body_html=body,
            summary_html=summary,
            categories=tuple(self.words.draw(rng, rng.randint(0, 3))),
        )

    def _summary(self, rng: random.Random) -> str:
        return " ".join(self.words.draw(rng, rng.randint(15, 30))).capitalize() + "."

    def _body(self, rng: random.Random, host: str, word_count: int) -> str:
        words = self.words.draw(rng, word_count)
        paragraphs = rng.randint(2, 4)
        cut = sorted(rng.sample(range(1, word_count), paragraphs - 1))
        chunks = [words[a:b] for a, b in itertools.pairwise([0, *cut, word_count])]
        html = [f"<p>{self._sentence(rng, host, chunk)}</p>" for chunk in chunks]
        if rng.random() < 0.6:
            position = rng.randint(0, len(html))
            html.insert(position, _image(rng, host, self.words.draw(rng, 3)))
        return "\n".join(html)

    def _sentence(self, rng: random.Random, host: str, words: list[str]) -> str:
        out = list(words)
        out[0] = out[0].capitalize()
        for _ in range(rng.randint(0, 2)):
            at = rng.randrange(len(out))
            out[at] += rng.choice(ENTITIES) if rng.random() < 0.5 else f" {rng.choice(ENTITIES)}"
        if len(out) > 4 and rng.random() < 0.3:
            at = rng.randrange(len(out))
            out[at] = f"<strong>{out[at]}</strong>" if rng.random() < 0.5 else f"<em>{out[at]}</em>"
        if len(out) > 6 and rng.random() < 0.7:
            at = rng.randrange(len(out) - 2)
            href = _href(rng, host, words[at])
            out[at : at + 2] = [f'<a href="{href}">{out[at]} {out[at + 1]}</a>']
        return " ".join(out) + "."


def _href(rng: random.Random, host: str, word: str) -> str:
    """A link: absolute to the outlet or elsewhere, or relative (resolved against the feed)."""
    roll = rng.random()
    if roll < 0.3:
        return f"/topics/{word}"
    if roll < 0.6:
        return f"https://{host}/tag/{word}?ref=feed&amp;utm_source=rss"
    return f"https://www.{word}-news.example/{rng.getrandbits(32):x}"


def _image(rng: random.Random, host: str, alt: list[str]) -> str:
    width, height = rng.choice(((640, 360), (800, 450), (1200, 675)))
    name = f"{rng.getrandbits(48):012x}.jpg"
    return (
        f'<figure><img src="https://img.{host}/{name}" alt="{" ".join(alt)}" '
        f'width="{width}" height="{height}"><figcaption>{" ".join(alt).capitalize()}'
        "</figcaption></figure>"
    )

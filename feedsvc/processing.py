"""What a worker makes of one fetch: extracted, normalised, tagged and analysed articles.

Runs in the extraction workers (``pipeline`` sends each fetched body here).
When a body changed, most of its entries usually did not: a feed gains one
story and repeats twenty. Each entry's digest (``entry_digest``: the entry as
the document gave it, and what its normalising reads) is remembered with the
source's last stored body (``EntryMemo``); an entry whose digest is known is
not normalised, tagged or analysed again, and comes back as an id seen again
(the store touches the stored article). An entry whose analysis key is known
is not analysed again. Neither shortcut changes what is stored.

A drop of a ``file`` source (one article, one file) whose bytes are the same
again (``document_digest``) is not even extracted again: a folder is one
batch, and a new drop used to make every drop be read again. Which id an
article keeps from one fetch to the next is decided in ``identity``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from functools import cache
from pathlib import Path

from feedsvc import __version__
from feedsvc.config_types import SourceConfig, Vocabulary
from feedsvc.digests import blake2b, code_digest
from feedsvc.errors import ExtractError
from feedsvc.identity import alias_of, keep_edited_drops_ids, keep_known_ids, trusted_ids
from feedsvc.types import Article, Document, EntryMemo, Fetched, RawEntry


@dataclass(frozen=True, slots=True)
class Processed:
    """What extraction and normalisation made of one fetch.

    ``entries`` remembers every article of the body, those in ``articles``
    and those seen again unchanged (``seen``), which are not in ``articles``.
    """

    articles: tuple[Article, ...]
    warnings: tuple[str, ...]
    error: str | None = None
    extract_seconds: float = 0.0
    normalise_seconds: float = 0.0
    entries: Mapping[str, EntryMemo] | None = None

    @property
    def seen(self) -> tuple[str, ...]:
        """The ids of the articles seen again unchanged: remembered, not in ``articles``."""
        made = {a.id for a in self.articles}
        return tuple(k for k in self.entries or () if k not in made)


# The modules whose code decides what an entry becomes once extracted (the
# extraction's own code shows in the entry itself).
_NORMALISING_MODULES = ("processing.py", "normalise.py", "htmltext.py", "tags.py", "types.py")


@cache
def normalising_code() -> str:
    """A hash of the code that makes an article of an entry, and of the sanitiser it uses.

    Read once per process: the code it names is the code this process runs.
    """
    import nh3  # loaded by the workers anyway (htmltext)

    tail = f"nh3 {getattr(nh3, '__version__', '?')}"
    return code_digest(Path(__file__).parent, _NORMALISING_MODULES, tail)


def normalising_context(source: SourceConfig, vocabulary: Vocabulary) -> str:
    """A digest of what making an article of an entry reads besides it: code, source, tags.

    The normalising and the analysis code are in it: an entry seen again keeps
    its stored form and analysis, and after an upgrade each is made again once.
    """
    from feedsvc.stories.stored import analysis_code  # loaded by the workers anyway

    code = f"{__version__}\0{normalising_code()}\0{analysis_code()}"
    text = f"{code}\0{source!r}\0{vocabulary!r}"
    return blake2b(text.encode(errors="surrogatepass"), digest_size=16).hexdigest()


@cache
def extraction_code() -> str:
    """A hash of the code that reads documents (``feedsvc/extract``) and of its libraries."""
    from importlib.metadata import PackageNotFoundError, version

    found = []
    for name in ("feedparser", "trafilatura", "lxml", "nh3"):
        try:
            found.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            found.append(f"{name} ?")
    directory = Path(__file__).parent / "extract"
    names = sorted(p.name for p in directory.glob("*.py"))
    return code_digest(directory, names, "\0".join(found))


def document_digest(document: Document, context: str) -> str:
    """A digest of a document's bytes, under a ``normalising_context`` and the reading code."""
    digest = blake2b(digest_size=16)
    digest.update(
        f"{context}\0{extraction_code()}\0{document.url}\0".encode(errors="surrogatepass")
    )
    digest.update(document.body)
    return digest.hexdigest()


def entry_digest(raw: RawEntry, context: str) -> str:
    """A digest of an entry as a document gave it, under a ``normalising_context``."""
    text = f"{context}\0{raw!r}"
    return blake2b(text.encode(errors="surrogatepass"), digest_size=16).hexdigest()


def process_fetched(
    fetched: Fetched,
    source: SourceConfig,
    now: datetime,
    vocabulary: Vocabulary | None = None,
    known: Mapping[str, EntryMemo] | None = None,
) -> Processed:
    """Extract, normalise, tag and analyse every document of one fetch (runs in a worker).

    ``known`` remembers the articles of the source's last stored body: an
    entry whose digest is remembered is seen again, not normalised; an article
    whose analysis key is the same (the same title and text, analysed by the
    same code) is not analysed again, and the store keeps the analysis it has.
    """
    from feedsvc.extract import extract  # loaded by the workers, not by a run with nothing due
    from feedsvc.normalise import dated_ahead, normalise
    from feedsvc.placing import story_title
    from feedsvc.stories.stored import features_key, features_of
    from feedsvc.tags import tag_article

    vocabulary = vocabulary or Vocabulary()
    known = known or {}
    context = normalising_context(source, vocabulary)
    unchanged = {memo.raw: id_ for id_, memo in known.items() if memo.raw is not None}
    drops = {memo.document: id_ for id_, memo in known.items() if memo.document is not None}
    entries: dict[str, EntryMemo] = {}
    made: dict[str, Article] = {}  # by id: the last of an id wins, as the store takes it
    warnings: list[str] = []
    failures: list[str] = []
    spent = [0.0, 0.0]
    for document in fetched.documents:
        started = time.perf_counter()
        read = document_digest(document, context) if source.kind == "file" else None
        if (kept := drops.get(read) if read is not None else None) is not None:
            # a drop as it was when its article was stored: seen again, not even extracted
            made.pop(kept, None)
            entries[kept] = known[kept]
            spent[0] += time.perf_counter() - started
            continue
        try:
            extracted = extract(document, source.kind)
        except ExtractError as exc:
            failures.append(f"{document.url}: {exc}")
            continue
        finally:
            spent[0] += time.perf_counter() - started
        warnings.extend(extracted.warnings)
        raws, shared = trusted_ids(extracted.entries)
        warnings.extend(f"{document.url}: {warning}" for warning in shared)
        started = time.perf_counter()
        # a drop: one file, one article (a feed document dropped holds many)
        single = source.kind == "file" and len(raws) == 1
        origin = document.url if single else None
        for raw in raws:
            digest = None if dated_ahead(raw, now) else entry_digest(raw, context)
            # a drop read again at once next time only if what it became does not depend on now
            page = read if single and digest is not None else None
            same = unchanged.get(digest) if digest is not None else None
            if same is not None:
                made.pop(same, None)
                entries[same] = replace(known[same], origin=origin, document=page)
                continue
            article = tag_article(normalise(raw, source, now), source, vocabulary)
            title = story_title(article.title, article.text)  # as the story round reads it
            key = features_key(title, article.text)
            entries[article.id] = EntryMemo(key, digest, origin, page, alias_of(article))
            if (old := known.get(article.id)) is None or old.analysis != key:
                # analysed here, in parallel, so the story round (one process) need not
                features = features_of(title, article.text, key=key)
                article = replace(article, features=features)
            made[article.id] = article
        spent[1] += time.perf_counter() - started
    keep_edited_drops_ids(made, entries, known, now)
    keep_known_ids(made, entries, known)
    extract_seconds, normalise_seconds = spent
    if failures and len(failures) == len(fetched.documents):
        error = "; ".join(failures)
        return Processed((), tuple(warnings), error, extract_seconds, normalise_seconds)
    return Processed(
        tuple(made.values()), tuple(warnings + failures), None, extract_seconds,
        normalise_seconds, entries,
    )  # fmt: skip

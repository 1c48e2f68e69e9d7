"""The tag stage: keep stored tags in step with the vocabulary, and answer questions about tags.

Articles are tagged as they are normalised (in the workers, ``tags.tag_article``).
When the vocabulary, its rules or the sources' tags change, the articles
already stored carry tags from the old rules: ``retag_stored`` notices (the
*tagging fingerprint* stored by the last re-tagging differs from the
configuration's), re-tags every stored article chunk by chunk, rewrites only
those whose tags changed (marking their sources and stories for the next
publish) and stores the new fingerprint last, so a re-tagging cut short starts
again. ``rule_counts`` is the dry run behind ``feedsvc check --rules``;
``explain_tags`` shows where an article's tags came from. Orchestration
between the store and ``tags``: no SQL, no decisions of its own.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from feedsvc.config_types import Config, SourceConfig
from feedsvc.tags import Tagger, tagger_for
from feedsvc.types import Article, TagOrigin

if TYPE_CHECKING:
    from feedsvc.store import Store

log = logging.getLogger("feedsvc.tagging")

TAGGING_KEY = "tagging_fingerprint"
# Bump when tagging unchanged rules would now give different tags.
TAGGING_FORMAT = 2  # 2: terms in scripts without spaces match inside their text
CHUNK = 500


def tagging_fingerprint(config: Config) -> str:
    """A hash of what decides tags: the vocabulary, and each source's name, title and tags."""
    shape = {
        "format": TAGGING_FORMAT,
        "vocabulary": asdict(config.tags),
        "sources": [[s.name, s.title, list(s.tags)] for s in config.sources],
    }
    encoded = json.dumps(shape, sort_keys=True, ensure_ascii=False, default=str).encode("utf-8")
    return hashlib.sha256(encoded).hexdigest()


@dataclass(frozen=True, slots=True)
class RetagResult:
    """What one re-tagging did: articles read and articles whose tags changed."""

    checked: int = 0
    changed: int = 0
    ran: bool = False


def stored_articles(store: Store) -> Iterator[list[Article]]:
    """Every stored article (with the fields rules read and its stored tags), a chunk at a time."""
    after: tuple[str, str] | None = None
    while chunk := store.tagging_chunk(after, CHUNK):
        yield chunk
        after = (chunk[-1].source, chunk[-1].id)


def retag_stored(config: Config, store: Store, *, force: bool = False) -> RetagResult:
    """Re-tag the stored articles when the tagging configuration changed (or when ``force``d)."""
    fingerprint = tagging_fingerprint(config)
    if not force and store.service_state(TAGGING_KEY) == fingerprint:
        return RetagResult()
    tagger = tagger_for(config.tags)
    sources = {s.name: s for s in config.sources}
    checked = changed = 0
    for chunk in stored_articles(store):
        retagged = [tagger.tag(a, sources.get(a.source)) for a in chunk]
        differ = [new for new, old in zip(retagged, chunk, strict=True) if _differ(new, old)]
        if differ:
            store.save_retagged(differ)
        checked, changed = checked + len(chunk), changed + len(differ)
    store.save_retagged([], {TAGGING_KEY: fingerprint})
    log.info("re-tagged stored articles checked=%d changed=%d", checked, changed)
    return RetagResult(checked=checked, changed=changed, ran=True)


def _differ(new: Article, old: Article) -> bool:
    return (new.tags, new.tag_origins) != (old.tags, old.tag_origins)


@dataclass(frozen=True, slots=True)
class RuleCount:
    """How many stored articles a tag's rule matches, and how many carry the tag now."""

    tag: str
    title: str
    matched: int
    tagged: int


def rule_counts(config: Config, store: Store) -> tuple[list[RuleCount], int]:
    """For each tag with a rule: the stored articles it would match (a dry run), and the total.

    Only articles of configured sources count, as in the tag counts beside them:
    those of a source taken out of the file are in no feed, whatever they match.
    """
    tagger = tagger_for(config.tags)
    sources = {s.name: s for s in config.sources}
    matched: Counter[str] = Counter()
    total = 0
    for chunk in stored_articles(store):
        for article in chunk:
            if article.source not in sources:
                continue
            total += 1
            origins = tagger.origins(article, sources.get(article.source))
            matched.update({o.tag for o in origins if o.kind == "rule"})
    tagged = store.tag_counts()
    counts = [
        RuleCount(tag.slug, tag.title, matched[tag.slug], tagged.get(tag.slug, 0))
        for tag in config.tags.tags
        if tag.match is not None
    ]
    return counts, total


@dataclass(frozen=True, slots=True)
class TagExplanation:
    """An article's tags: stored with their origins, what the rules give now, its story's tags."""

    article: Article
    stored: tuple[TagOrigin, ...]
    current: tuple[TagOrigin, ...]
    story_id: str | None
    story_tags: tuple[str, ...]


def explain_tags(config: Config, store: Store, article: Article) -> TagExplanation:
    """Where each tag of ``article`` came from, now and as stored, and its story's tags."""
    tagger: Tagger = tagger_for(config.tags)
    source: SourceConfig | None = next(
        (s for s in config.sources if s.name == article.source), None
    )
    current = tagger.origins(article, source)
    story_id = store.story_of(article.source, article.id)
    story_tags = store.story_tags([story_id]).get(story_id, ()) if story_id else article.tags
    return TagExplanation(article, article.tag_origins, current, story_id, story_tags)

"""Tagging: an article and the vocabulary in, its tags with their provenance out.

Three places give a tag, and each is recorded as a ``TagOrigin``: the tags
listed under the article's source; a tag's rule (``match`` in sources.yaml)
that the article satisfies; and a category of the article's own feed that
names a tag by its slug, title or an alias. Rules are evaluated on folded text
(Unicode compatibility decomposition, accents dropped, case folded, dashes and
quotes unified), so terms match case- and accent-insensitively, on word
boundaries (none is needed at an edge in a script written without spaces, such as
Chinese or Thai), a space in a phrase standing for any run of white space. Without a
field, a term is looked for in the title, the text and the dateline place;
``re:`` terms are regular expressions matched case-insensitively against the
text as written. ``language`` and ``source`` conditions compare whole values
(``en`` also matches ``en-GB``).

Pure: no I/O, no clock, no global state beyond a small cache of compiled
vocabularies (``tagger_for``), which are immutable.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache

from feedsvc.config_types import (
    Condition,
    Group,
    Scoped,
    SourceConfig,
    TagConfig,
    TagField,
    Term,
    Vocabulary,
)
from feedsvc.types import Article, TagOrigin

REGEX_PREFIX = "re:"
TAG_FIELDS: tuple[TagField, ...] = (
    "title",
    "text",
    "place",
    "outlet",
    "category",
    "language",
    "source",
)
DEFAULT_FIELDS: tuple[TagField, ...] = ("title", "text", "place")
_EXACT_FIELDS = frozenset({"language", "source"})

_DASHES = dict.fromkeys(
    map(ord, "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d"), "-"
)
_QUOTES = dict.fromkeys(map(ord, "\u2018\u2019\u201a\u201b\u2032\uff07"), "'")
_SEPARATORS = re.compile(r"[\s_-]+")
# Scripts written without spaces between words (Thai, Lao, Myanmar, Khmer, the Han
# ideographs, kana, Bopomofo): the edge of a word there is no word boundary, so a
# term is not held to one on a side where it, or the text next to it, is in them.
_UNSPACED = (
    "\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u2e80-\u2fdf\u3005-\u3007\u3021-\u3029"
    "\u3031-\u3035\u3040-\u30ff\u3100-\u312f\u31a0-\u31ff\u3400-\u4dbf\u4e00-\u9fff"
    "\uf900-\ufaff\U00020000-\U0003134f"
)
_UNSPACED_CHAR = re.compile(f"[{_UNSPACED}]")
_SPACED_WORD_CHAR = f"[^\\W{_UNSPACED}]"


def fold(text: str) -> str:
    """``text`` for matching: accents dropped, case folded, dashes and apostrophes unified."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_DASHES).translate(_QUOTES))
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return unicodedata.normalize("NFC", stripped.casefold())


def name_key(name: str) -> str:
    """How tag names are compared: folded, with spaces, '-' and '_' alike."""
    return _SEPARATORS.sub(" ", fold(name)).strip()


def term_pattern(term: Term) -> re.Pattern[str]:
    """The compiled pattern of one term (raises ``re.error`` for a bad regular expression)."""
    if term.regex:
        return re.compile(term.text, re.IGNORECASE)
    words = fold(term.text).split()
    body = r"\s+".join(re.escape(word) for word in words)
    if not words:
        return re.compile(r"(?<!\w)(?!\w)")
    before = "" if _UNSPACED_CHAR.match(words[0][0]) else f"(?<!{_SPACED_WORD_CHAR})"
    after = "" if _UNSPACED_CHAR.match(words[-1][-1]) else f"(?!{_SPACED_WORD_CHAR})"
    return re.compile(before + body + after)


# --------------------------------------------------------------------------- the article's fields


@dataclass(slots=True)
class _Fields:
    """An article's fields as rules see them, raw and folded, computed on first use."""

    article: Article
    outlet: str
    _raw: dict[str, tuple[str, ...]] = field(default_factory=dict)
    _folded: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def raw(self, name: TagField) -> tuple[str, ...]:
        if name not in self._raw:
            self._raw[name] = _values(self.article, self.outlet, name)
        return self._raw[name]

    def folded(self, name: TagField) -> tuple[str, ...]:
        if name not in self._folded:
            self._folded[name] = tuple(fold(value) for value in self.raw(name))
        return self._folded[name]


def _values(article: Article, outlet: str, name: TagField) -> tuple[str, ...]:
    if name == "category":
        return article.categories
    value = {
        "title": article.title,
        "text": article.text,
        "place": article.dateline or "",
        "outlet": outlet,
        "language": article.language or "",
        "source": article.source,
    }[name]
    return (value,) if value else ()


# --------------------------------------------------------------------------- compiled rules

Evidence = list[str]
Matcher = Callable[[_Fields], Evidence | None]


def _term_matcher(term: Term, fields: Sequence[TagField]) -> Matcher:
    pattern = term_pattern(term)
    shown = f"{REGEX_PREFIX}{term.text}" if term.regex else term.text

    def matches(doc: _Fields) -> Evidence | None:
        for name in fields:
            values = doc.raw(name) if term.regex else doc.folded(name)
            if any(_found(pattern, name, value, term) for value in values):
                return [f"{shown!r} in {name}"]
        return None

    return matches


def _found(pattern: re.Pattern[str], name: TagField, value: str, term: Term) -> bool:
    if name in _EXACT_FIELDS and not term.regex:
        wanted = fold(term.text).strip()
        return value == wanted or (name == "language" and value.startswith(wanted + "-"))
    return pattern.search(value) is not None


def _group_matcher(group: Group, fields: Sequence[TagField] | None) -> Matcher:
    items = [compile_condition(item, fields) for item in group.items]

    def any_of(doc: _Fields) -> Evidence | None:
        return next((found for item in items if (found := item(doc)) is not None), None)

    def all_of(doc: _Fields) -> Evidence | None:
        evidence: Evidence = []
        for item in items:
            found = item(doc)
            if found is None:
                return None
            evidence += found
        return evidence

    def none_of(doc: _Fields) -> Evidence | None:
        return None if any(item(doc) is not None for item in items) else []

    return {"any": any_of, "all": all_of, "none": none_of}[group.op]


def compile_condition(condition: Condition, fields: Sequence[TagField] | None = None) -> Matcher:
    """A function of an article's fields that returns what matched, or None."""
    if isinstance(condition, Term):
        return _term_matcher(condition, fields or DEFAULT_FIELDS)
    if isinstance(condition, Scoped):
        return compile_condition(condition.condition, (condition.field,))
    return _group_matcher(condition, fields)


# --------------------------------------------------------------------------- the tagger


class Tagger:
    """A vocabulary compiled for tagging articles; immutable once built."""

    def __init__(self, vocabulary: Vocabulary) -> None:
        self.vocabulary = vocabulary
        self.tags: dict[str, TagConfig] = {tag.slug: tag for tag in vocabulary.tags}
        self._names = _name_index(vocabulary.tags)
        self._rules = [
            (tag.slug, compile_condition(tag.match)) for tag in vocabulary.tags if tag.match
        ]

    def lookup(self, name: str) -> str | None:
        """The slug of the tag whose slug, title or alias is ``name`` (compared folded), or None."""
        return self._names.get(name_key(name))

    def title(self, slug: str) -> str:
        """The tag's title (its slug when the vocabulary does not know it)."""
        tag = self.tags.get(slug)
        return tag.title if tag is not None else slug

    def origins(self, article: Article, source: SourceConfig | None) -> tuple[TagOrigin, ...]:
        """Every tag of ``article`` with where it came from, sorted."""
        found: set[TagOrigin] = set()
        if source is not None:
            for tag in source.tags:
                found.add(TagOrigin(self.lookup(tag) or tag, "source", source.name))
        for category in article.categories:
            slug = self.lookup(category)
            if slug is not None:
                found.add(TagOrigin(slug, "category", category))
        doc = _Fields(article, source.title if source is not None else article.source)
        for slug, matcher in self._rules:
            evidence = matcher(doc)
            if evidence is not None:
                found.add(TagOrigin(slug, "rule", "; ".join(evidence) or "no excluded term"))
        return tuple(sorted(found))

    def tag(self, article: Article, source: SourceConfig | None) -> Article:
        """``article`` with its tags and their origins set from the vocabulary."""
        origins = self.origins(article, source)
        tags = tuple(sorted({origin.tag for origin in origins}))
        return replace(article, tags=tags, tag_origins=origins)

    def rule_matches(self, slug: str, article: Article, source: SourceConfig | None) -> bool:
        """Whether the rule of tag ``slug`` matches ``article`` (False for a tag without one)."""
        outlet = source.title if source is not None else article.source
        doc = _Fields(article, outlet)
        return any(matcher(doc) is not None for tag, matcher in self._rules if tag == slug)

    def plain_categories(self, categories: Iterable[str]) -> tuple[str, ...]:
        """The categories that name no tag, or none when the vocabulary drops them."""
        if self.vocabulary.categories == "drop":
            return ()
        return tuple(c for c in categories if self.lookup(c) is None)


def _name_index(tags: Iterable[TagConfig]) -> dict[str, str]:
    index: dict[str, str] = {}
    for tag in tags:
        for name in (tag.slug, tag.title, *tag.aliases):
            index.setdefault(name_key(name), tag.slug)
    return index


@lru_cache(maxsize=4)
def tagger_for(vocabulary: Vocabulary) -> Tagger:
    """The compiled tagger of ``vocabulary`` (cached: workers tag many batches with one)."""
    return Tagger(vocabulary)


def tag_article(article: Article, source: SourceConfig, vocabulary: Vocabulary) -> Article:
    """``article`` with its tags and their provenance from ``source`` and ``vocabulary``."""
    return tagger_for(vocabulary).tag(article, source)


def describe_origin(origin: TagOrigin) -> str:
    """One line saying where a tag came from, e.g. "rule: 'Seoul' in text; 'Tokyo' in title"."""
    if origin.kind == "source":
        return f"source: listed under source {origin.detail!r}"
    if origin.kind == "category":
        return f"category: the feed's category {origin.detail!r}"
    return f"rule: {origin.detail}"

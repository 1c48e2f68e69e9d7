"""Feed bytes → Extracted: RSS 0.9x/1.0/2.0, Atom 0.3/1.0, CDF (feedparser) and JSON Feed.

This is the only module of feedsvc that imports feedparser, and the only place
its quirks live:

* feedparser gets the body as a byte stream (never a URL or a string, so it can
  never fetch or open a file) and the response headers, with
  ``content-location`` set to the document URL so relative links resolve.
* A missing Content-Type is given as ``application/xml`` (feedparser would
  otherwise read an undeclared document as ISO-8859-1), and ``text/xml``
  without a charset is given as ``application/xml`` too (RFC 7303 dropped the
  old US-ASCII default), so well-formed feeds raise no spurious bozo flag.
* ``updated`` silently falls back to ``published`` in ``FeedParserDict``: the
  raw dict keys are read, so the two dates stay apart.
* feedparser's own HTML sanitiser and relative-URI resolver are turned off
  (they are slow, sgmllib-based, and would be done twice): the normaliser
  sanitises every piece of markup once with nh3 and resolves relative URLs
  against ``RawEntry.base_url``, which is the ``xml:base`` in effect for the
  entry's content when the feed sets one, else the document URL.
* ``text/plain`` content is labelled ``text/plain`` (see
  ``_markup.harmonise``) so the normaliser escapes it.
* feedparser recomputes the base URL at every start tag, joining the base in
  effect with the element's ``xml:base`` or, nearly always, with itself
  (``feedparser.mixin.make_safe_absolute_uri``, a pure function of its two
  strings while ``feedparser.urls.ACCEPTABLE_URI_SCHEMES`` is left alone, as
  feedsvc leaves it): about a quarter of its time as feedsvc calls it. That
  one name is memoised (``_memoise_base_resolution``, bounded; the function
  itself is unchanged), so each distinct join is done once while it stays
  among the most recent.
* Before feedparser sees a document, its internal DTD subset is taken away
  (``_dtd.defuse``): no entity is expanded by an XML parser, so no billion
  laughs, quadratic blow-up or external entity. feedparser's XML reader never
  loads external entities or DTDs either.

JSON Feed, which feedparser 6.0 does not read, goes to ``_jsonfeed``. Nothing
here normalises URLs, sanitises HTML beyond feedparser, or makes ids. Any
failure surfaces as ExtractError.
"""

from __future__ import annotations

import functools
import io
import logging
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from typing import Any, cast

import feedparser
import feedparser.mixin
import feedparser.urls

from feedsvc.errors import ExtractError
from feedsvc.extract._dates import from_struct_time
from feedsvc.extract._decode import media_type, repair_utf8
from feedsvc.extract._dtd import defuse
from feedsvc.extract._jsonfeed import parse_json_feed
from feedsvc.extract._markup import Part, harmonise
from feedsvc.types import Document, Extracted, RawEntry

log = logging.getLogger("feedsvc.extract.feed")

_HTML_TYPES = frozenset({"", "html", "xhtml", "text/html", "application/xhtml+xml"})
_PLAIN_TYPES = frozenset({"text", "text/plain"})
_JSON_START = (b"{", b"\xef\xbb\xbf{")
_PROLOG = re.compile(
    rb"^(?:\s+|<\?.*?\?>|<!--.*?-->|<!DOCTYPE[^>\[]*(?:\[.*?\])?\s*>)*", re.S | re.I
)
_ROOT = re.compile(rb"<\s*(?:[A-Za-z_][\w.-]*:)?([A-Za-z_][\w.-]*)")
_FEED_ROOTS = frozenset({b"rss", b"feed", b"rdf", b"channel"})
_PROLOG_BYTES = 8192
# Bases remembered by the memo of feedparser's per-tag base join: a document has a
# few (one without ``xml:base``), a worker parses one document at a time.
_BASE_MEMO_SIZE = 64
_AUTHOR_FORMS = (
    re.compile(r"\s*\S+@\S+\s*\((?P<name>[^()]*)\)\s*"),
    re.compile(r"\s*(?P<name>[^<>]*?)\s*<\S+@[^<>\s]+>\s*"),
    re.compile(r"\s*(?P<name>[^()]*?)\s*\(\S+@[^()\s]+\)\s*"),
)


def parse_feed(document: Document) -> Extracted:
    """Parse a feed document into entries; raise ExtractError when it holds no feed."""
    if not document.body.strip():
        raise ExtractError("not a usable feed: the document is empty")
    if _is_json(document):
        return parse_json_feed(document)
    document, defused = defuse(document)
    repaired = repair_utf8(document)
    if repaired is not None:
        document = replace(document, body=repaired)
        defused += ("invalid UTF-8 bytes replaced",)
    result = _run_feedparser(document)
    notes = defused + _usability_warnings(result, _has_feed_root(document.body))
    feed: Mapping[str, Any] = _mapping(result.get("feed"))
    is_atom = str(result.get("version") or "").startswith("atom")
    entries = tuple(
        _entry(e, feed, document.url, is_atom) for e in _mappings(result.get("entries"))
    )
    log.debug(
        "feed parsed url=%s version=%s entries=%d",
        document.url,
        result.get("version"),
        len(entries),
    )
    return Extracted(
        entries=entries,
        warnings=notes,
        title=_text(_raw(feed, "title")),
        link=_text(_raw(feed, "link")),
        language=_text(_raw(feed, "language")),
    )


def feedparser_headers(document: Document) -> dict[str, str]:
    """The response headers handed to feedparser (see the module docstring)."""
    headers = {k.lower(): v for k, v in document.headers.items()}
    headers.setdefault("content-location", document.url)
    declared = headers.get("content-type") or document.content_type or "application/xml"
    media = declared.split(";")[0].strip().lower()
    if media == "text/xml" and "charset" not in declared.lower():
        declared = "application/xml"
    headers["content-type"] = declared
    return headers


# --------------------------------------------------------------------------- document level


def _is_json(document: Document) -> bool:
    """JSON by its first byte; by the Content-Type only when the body does not start as XML."""
    head = document.body.lstrip()[:3]
    if head.startswith(_JSON_START):
        return True
    return "json" in media_type(document) and not head.lstrip(b"\xef\xbb\xbf").startswith(b"<")


def _memoise_base_resolution() -> None:
    """Give feedparser's parser a memo of its base-URL join (see the module docstring).

    Only the parser's own name for the function is replaced, and only while it
    is feedparser's function: a second call, or a replacement made by someone
    else (a test comparing without the memo), is left alone.
    """
    name = "make_safe_absolute_uri"
    original = getattr(feedparser.urls, name, None)
    if not callable(original) or getattr(feedparser.mixin, name, None) is not original:
        return  # renamed by a newer feedparser, or memoised (or replaced) already
    join = cast("Callable[..., str]", original)
    setattr(feedparser.mixin, name, functools.lru_cache(_BASE_MEMO_SIZE)(join))


def _run_feedparser(document: Document) -> Any:
    _memoise_base_resolution()
    stream = io.BytesIO(document.body)
    try:
        return feedparser.parse(
            stream,
            response_headers=feedparser_headers(document),
            sanitize_html=False,
            resolve_relative_uris=False,
        )
    except Exception as exc:  # feedparser's failure modes are many and undocumented
        raise ExtractError(f"not a usable feed: {_describe(exc)}") from exc


def _has_feed_root(body: bytes) -> bool:
    """Whether the first element is rss, feed, rdf:RDF or (CDF) channel, in any case."""
    head = body[:_PROLOG_BYTES].lstrip(b"\xef\xbb\xbf")
    prolog = _PROLOG.match(head)
    root = _ROOT.match(head, prolog.end() if prolog else 0)
    return root is not None and root.group(1).lower() in _FEED_ROOTS


def _usability_warnings(result: Mapping[str, Any], feed_root: bool) -> tuple[str, ...]:
    """Warnings for a usable feed; ExtractError for an unusable one."""
    feed = _mapping(result.get("feed"))
    has_entries = bool(_mappings(result.get("entries")))
    has_title = _text(_raw(feed, "title")) is not None
    has_feed = feed_root or bool(result.get("version")) or has_title
    problem = _describe(result.get("bozo_exception")) if result.get("bozo") else None
    if not has_entries and not has_feed:
        reason = problem or "no RSS, Atom, RDF or CDF feed element found"
        raise ExtractError(f"not a usable feed: {reason}")
    return (f"malformed feed, ingested anyway: {problem}",) if problem else ()


def _describe(exc: object) -> str:
    text = str(exc).strip() if exc is not None else ""
    return text or (type(exc).__name__ if exc is not None else "unknown problem")


# --------------------------------------------------------------------------- entry level


def _entry(entry: Mapping[str, Any], feed: Mapping[str, Any], base: str, atom: bool) -> RawEntry:
    body = harmonise(_best_content(entry), _summary(entry))
    authors = _authors(entry) or (_authors(feed) if atom else ())
    return RawEntry(
        guid=_text(_raw(entry, "id")),
        link=_link(entry),
        title=_text(_raw(entry, "title")),
        summary=body.summary,
        content=body.content,
        content_type=body.content_type,
        published=from_struct_time(_raw(entry, "published_parsed")),
        updated=from_struct_time(_raw(entry, "updated_parsed")),
        authors=authors,
        categories=_categories(entry),
        language=_language(entry) or _text(_raw(feed, "language")),
        base_url=_markup_base(entry) or base,
    )


def _markup_base(entry: Mapping[str, Any]) -> str | None:
    """The base URL (``xml:base`` in effect) of the entry's content, else of its summary."""
    details = [*_mappings(_raw(entry, "content")), _mapping(_raw(entry, "summary_detail"))]
    return next((base for d in details if (base := _text(_raw(d, "base")))), None)


def _best_content(entry: Mapping[str, Any]) -> Part | None:
    """The best ``content`` element: HTML over plain text, then the longest."""
    candidates = [p for p in map(_part, _mappings(_raw(entry, "content"))) if p is not None]
    if not candidates:
        return None
    return max(candidates, key=lambda p: (not p.plain, len(p.value)))


def _summary(entry: Mapping[str, Any]) -> Part | None:
    """The entry's own summary; None when feedparser merely copied the content into it."""
    summary = _text(_raw(entry, "summary"))
    contents = {_text(_raw(c, "value")) for c in _mappings(_raw(entry, "content"))}
    if summary is None or summary in contents:
        return None
    detail = _mapping(_raw(entry, "summary_detail"))
    return Part(summary, plain=_type_of(detail) in _PLAIN_TYPES)


def _part(detail: Mapping[str, Any]) -> Part | None:
    value = _text(_raw(detail, "value"))
    kind = _type_of(detail)
    if value is None or (kind not in _HTML_TYPES and kind not in _PLAIN_TYPES):
        return None
    return Part(value, plain=kind in _PLAIN_TYPES)


def _type_of(detail: Mapping[str, Any]) -> str:
    return (_text(_raw(detail, "type")) or "").lower()


def _link(entry: Mapping[str, Any]) -> str | None:
    """The entry's rel=alternate link (HTML first), else feedparser's ``link``."""
    alternates = [
        link
        for link in _mappings(_raw(entry, "links"))
        if (_text(_raw(link, "rel")) or "alternate") == "alternate" and _text(_raw(link, "href"))
    ]
    alternates.sort(key=lambda link: _text(_raw(link, "type")) not in (None, "text/html"))
    if alternates:
        return _text(_raw(alternates[0], "href"))
    return _text(_raw(entry, "link"))


def _authors(obj: Mapping[str, Any]) -> tuple[str, ...]:
    """Author names (e-mail addresses when there is no name), in order, once each."""
    combined = _text(_raw(obj, "author"))
    people = [_person(p, combined) for p in _mappings(_raw(obj, "authors"))]
    names = [p for p in people if p]
    if not names and combined:
        names.append(_split_author(combined))
    return tuple(dict.fromkeys(names))


def _person(person: Mapping[str, Any], combined: str | None) -> str | None:
    """One author's name; re-split ``combined`` where feedparser cut a long e-mail TLD."""
    email = _text(_raw(person, "email"))
    if email and combined and re.search(re.escape(email) + r"[\w-]", combined):
        return _split_author(combined)
    return _text(_raw(person, "name")) or email


def _split_author(value: str) -> str:
    """The name in "mail@host (Name)", "Name <mail@host>" or "Name (mail@host)"."""
    for pattern in _AUTHOR_FORMS:
        match = pattern.fullmatch(value)
        if match and match.group("name").strip():
            return match.group("name").strip()
    return value


def _categories(entry: Mapping[str, Any]) -> tuple[str, ...]:
    tags = _mappings(_raw(entry, "tags"))
    labels = (_text(_raw(t, "label")) or _text(_raw(t, "term")) for t in tags)
    return tuple(dict.fromkeys(label for label in labels if label))


def _language(entry: Mapping[str, Any]) -> str | None:
    details = [*_mappings(_raw(entry, "content")), _mapping(_raw(entry, "summary_detail"))]
    details.append(_mapping(_raw(entry, "title_detail")))
    return next((lang for d in details if (lang := _text(_raw(d, "language")))), None)


# --------------------------------------------------------------------------- raw access


def _raw(obj: Mapping[str, Any], key: str) -> Any:
    """``obj[key]`` without FeedParserDict's key aliases (its ``updated`` → ``published``)."""
    if isinstance(obj, dict):
        return dict.get(obj, key)
    return obj.get(key)


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _mappings(value: object) -> list[Mapping[str, Any]]:
    if not isinstance(value, Iterable) or isinstance(value, str | bytes | Mapping):
        return []
    return [v for v in value if isinstance(v, Mapping)]


def _text(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    stripped = value.strip()
    return stripped or None

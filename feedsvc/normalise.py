"""RawEntry -> Article: ids, canonical URLs, dates, titles, text and summaries.

Pure code: no I/O, no network, no database; the current time is passed in.
HTML sanitising and HTML/text conversion live in ``feedsvc.htmltext``; this
module decides which field to use and how to clean it. It does not group
articles into stories, tag them beyond copying the source's tags, or store them.

Rules chosen where the design was silent:

* **Id.** The guid when trustworthy (see ``article_id``), else the canonical
  link, else ``"sha256:" + content_hash``. Ids are scoped by source in the store.
  (A drop of a ``file`` source edited in place keeps the id it was first
  given: ``processing`` carries it over, as it knows the drop's file.)
* **Dates.** A date more than one day after ``now`` is clamped to ``now``. With
  no published date, ``published`` takes ``updated``, else ``now`` with
  ``date_estimated=True``; a clamped published date is also marked estimated.
  An ``updated`` earlier than ``published`` is kept as the document gave it
  (the two are kept apart; consumers take the later of the two). A naive ``now``
  is a caller bug (ValueError); naive entry dates are taken as UTC.
* **Content type.** ``RawEntry.content_type`` describes both content and summary;
  anything that is not ``text/plain`` (or ``text``) is treated as HTML.
* **Summary.** The entry's own summary (as text) when it differs from the text,
  else the leading paragraph(s) of the text; both shortened to 300 characters.
"""

from __future__ import annotations

import functools
import hashlib
import html
import logging
import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from urllib.parse import SplitResult, quote, unquote_plus, urljoin, urlsplit, urlunsplit

from feedsvc.config_types import SourceConfig
from feedsvc.htmltext import (
    collapse_whitespace,
    sanitise_html,
    sanitised_to_text,
    split_paragraphs,
    text_to_html,
)
from feedsvc.types import CONTENT_ID_PREFIX, UNTITLED, Article, RawEntry

log = logging.getLogger("feedsvc.normalise")

TRACKING_PARAMS: frozenset[str] = frozenset(
    {
        "fbclid", "gclid", "gclsrc", "dclid", "gbraid", "wbraid", "msclkid", "yclid",
        "twclid", "ttclid", "igshid", "mc_cid", "mc_eid", "_ga", "_gl", "_hsenc",
        "_hsmi", "ref_src", "ref_url", "li_fat_id", "mkt_tok", "oly_anon_id",
        "oly_enc_id", "vero_id", "vero_conv", "wickedid", "rb_clickid", "s_cid",
        "ncid", "sr_share", "cmpid", "spm", "scid", "guccounter", "guce_referrer",
        "guce_referrer_sig", "__twitter_impression",
    }
)  # fmt: skip
"""Query parameters (compared case-insensitively) that ``canonical_url`` removes."""

TRACKING_PREFIXES: tuple[str, ...] = ("utm_", "mtm_", "pk_", "hsa_", "at_")
"""Query parameter prefixes that ``canonical_url`` removes (``utm_source``...)."""

GENERIC_GUIDS: frozenset[str] = frozenset({"null", "none", "undefined", "0", "-", "guid", "id"})
"""Guid values (case-insensitive) that identify nothing."""

FUTURE_TOLERANCE = timedelta(days=1)
SUMMARY_LIMIT = 300
TITLE_LIMIT = 100
TITLE_MAX = 500
"""Longer titles (a whole article pasted into one, a 100 kB hostile one) are shortened."""

_DEFAULT_PORTS = {"http": 80, "https": 443}
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_PATH_SAFE = "/:@!$&'()*+,;=-._~%"
_QUERY_SAFE = _PATH_SAFE + "?"
_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")
_STRAY_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
_TAG = re.compile(
    r"<!--.*?-->|<(script|style)\b.*?</\1\s*>|</?[A-Za-z][^<>]*>", re.DOTALL | re.IGNORECASE
)
# Control characters, and in titles the bidirectional embeddings, overrides and
# isolates that can make a title display as something else (U+202E "gpj.exe").
# What is left of a malformed tag ('<a href="x<">'): a reader that shows titles as
# HTML would open a tag there, so the "<" becomes a look-alike.
_TAG_OPEN = re.compile(r"<(?=[A-Za-z/!?])")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b\ufeff\u202a-\u202e\u2066-\u2069]")
_SEPARATOR = re.compile(r"\s*(?:[|›»]|\s[-–—/~•·]|::)\s*")
_LANGUAGE = re.compile(r"[a-z]{2,3}(?:-[a-z0-9]{1,8})*")
_SENTENCE_END = re.compile(r"[.!?][\"'”’)\]]?(?=\s|$)")
_DATELINE = re.compile(r"(?P<line>[^\W\d_][^\n]{0,80}?)\s+(?:—|–|--|-)\s+\S")
_AGENCY = re.compile(r"\s*\([^()]{1,30}\)$")
_PLACE_CHARS = re.compile(r"[^\W\d_][\w.'’\- ]*")


# --------------------------------------------------------------------------- the record


def normalise(raw: RawEntry, source: SourceConfig, now: datetime) -> Article:
    """Return the clean Article for one raw entry of ``source``, as of ``now``."""
    now = _require_utc(now)
    content_html = _content_html(raw)
    text = sanitised_to_text(content_html)
    title = shorten(clean_title(raw.title or "", raw.categories), TITLE_MAX) or fallback_title(text)
    published, updated, estimated = _dates(raw, now)
    digest = content_hash(title, text)
    canonical = canonical_url(raw.link, raw.base_url)
    return Article(
        source=source.name,
        id=article_id(raw, canonical, digest),
        url=canonical,
        title=title,
        summary=_summary(raw, text),
        content_html=content_html,
        text=text,
        published=published,
        updated=updated,
        date_estimated=estimated,
        content_hash=digest,
        authors=_clean_list(raw.authors),
        language=clean_language(raw.language),
        categories=_clean_list(raw.categories),
        dateline=_dateline(raw, text),
        tags=tuple(source.tags),
    )


# --------------------------------------------------------------------------- urls


def canonical_url(url: str | None, base: str | None = None) -> str | None:
    """Return the canonical http(s) form of ``url`` (resolved against ``base``), or None."""
    if url is None or not url.strip():
        return None
    try:
        parts = urlsplit(urljoin(base.strip(), url.strip()) if base else url.strip())
        scheme = parts.scheme.lower()
        netloc = _canonical_netloc(parts) if scheme in _DEFAULT_PORTS else ""
    except ValueError:
        log.debug("unparseable url=%r", url)
        return None
    if not netloc:
        return None
    path = _normalise_escapes(parts.path, _PATH_SAFE) or "/"
    return urlunsplit((scheme, netloc, path, _strip_tracking(parts.query), ""))


def is_tracking_param(name: str) -> bool:
    """Say whether a query parameter name is a known tracking parameter."""
    key = unquote_plus(name).strip().lower()
    return key in TRACKING_PARAMS or key.startswith(TRACKING_PREFIXES)


def _canonical_netloc(parts: SplitResult) -> str:
    """Lower-case the host, drop the default port; keep user info as written."""
    host = parts.hostname or ""
    if not host:
        return ""
    if ":" in host:
        host = f"[{host}]"
    port = parts.port  # raises ValueError for a bad port
    userinfo = parts.netloc.rpartition("@")[0] + "@" if "@" in parts.netloc else ""
    keep_port = port is not None and port != _DEFAULT_PORTS[parts.scheme.lower()]
    return f"{userinfo}{host}:{port}" if keep_port else f"{userinfo}{host}"


def _strip_tracking(query: str) -> str:
    """Drop tracking and empty parameters; keep the others, in order."""
    kept = [p for p in query.split("&") if p and not is_tracking_param(p.partition("=")[0])]
    return "&".join(_normalise_escapes(p, _QUERY_SAFE) for p in kept)


def _normalise_escapes(component: str, safe: str) -> str:
    """Upper-case escapes, decode escaped unreserved characters, escape the unsafe."""
    decoded = _ESCAPE.sub(_unescape_unreserved, component)
    return quote(_STRAY_PERCENT.sub("%25", decoded), safe=safe)


def _unescape_unreserved(match: re.Match[str]) -> str:
    char = chr(int(match.group(1), 16))
    return char if char in _UNRESERVED else "%" + match.group(1).upper()


# --------------------------------------------------------------------------- identity


def article_id(raw: RawEntry, canonical: str | None, content_hash: str) -> str:
    """Return the entry's id: trustworthy guid, else canonical link, else content hash.

    A guid is trustworthy when it is non-empty after stripping, is not a generic
    placeholder (``GENERIC_GUIDS``), and, when it is an http(s) URL, is neither
    the document's own address (``raw.base_url``) nor a bare site root. The
    link is not used when other entries of the document share it
    (``raw.link_identifies``).
    """
    guid = (raw.guid or "").strip()
    if guid and trustworthy_guid(guid, raw.base_url):
        return guid
    if canonical and raw.link_identifies:
        return canonical
    return CONTENT_ID_PREFIX + content_hash


def trustworthy_guid(guid: str, base_url: str | None) -> bool:
    """Whether a stripped guid can be an entry's id (see ``article_id``)."""
    if guid.lower() in GENERIC_GUIDS:
        return False
    as_url = canonical_url(guid)
    if as_url is None:
        return True
    if as_url == canonical_url(base_url):
        return False
    parts = urlsplit(as_url)
    return not (parts.path == "/" and not parts.query)


def content_hash(title: str, text: str) -> str:
    """Return the sha256 hex digest of casefolded, whitespace-collapsed title and text."""
    key = collapse_whitespace(title).casefold() + "\n" + collapse_whitespace(text).casefold()
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


# --------------------------------------------------------------------------- titles


def clean_title(title: str, categories: Sequence[str] = ()) -> str:
    """Return ``title`` as clean one-line text, without a category prefix glued to it.

    Entities are decoded (repeatedly, for double-escaped ones), tags (script and
    style with their content) and control characters removed, the "<" of what
    is left of a malformed tag replaced by "‹" (so no reader finds a tag), whitespace
    collapsed. A leading category is removed when it is glued to the title
    ("NorthKoreaKorea-Japan..." with "North Korea": the prefix ends in a
    lower-case letter and an upper-case letter follows) or set off by a
    separator ("Politics | Budget", "Politics » ...", "Politics - ...").
    May return an empty string.
    """
    text = _unescape_all(title)
    text = _TAG_OPEN.sub("‹", _TAG.sub("", text))
    text = collapse_whitespace(_CONTROL.sub(" ", text))
    return _strip_category_prefix(text, categories)


def _unescape_all(text: str, rounds: int = 3) -> str:
    """Decode HTML entities until nothing changes (at most ``rounds`` times)."""
    for _ in range(rounds):
        decoded = html.unescape(text)
        if decoded == text:
            break
        text = decoded
    return text


def _strip_category_prefix(title: str, categories: Sequence[str]) -> str:
    names = {collapse_whitespace(_unescape_all(c)) for c in categories}
    for name in sorted((n for n in names if n), key=len, reverse=True):
        rest = _after_prefix(title, name)
        if rest is not None:
            return rest
    return title


def _after_prefix(title: str, category: str) -> str | None:
    """The title after a leading ``category`` prefix, or None when there is none."""
    first = category.split()[0]
    if title[: len(first)].lower() != first.lower():
        return None  # the common case, decided without a regular expression
    glued_pattern, separated_pattern = _prefix_patterns(category)
    glued = glued_pattern.match(title)
    if glued and _is_glued(title, glued.end()):
        return title[glued.end() :]
    separated = separated_pattern.match(title)
    if separated and any(ch.isalnum() for ch in title[separated.end() :]):
        return title[separated.end() :]
    return None


@functools.lru_cache(maxsize=512)
def _prefix_patterns(category: str) -> tuple[re.Pattern[str], re.Pattern[str]]:
    """The category as a glued prefix (exact case) and as a prefix set off by a separator."""
    pattern = r"\s*".join(re.escape(word) for word in category.split())
    return re.compile(pattern), re.compile(pattern + _SEPARATOR.pattern, re.IGNORECASE)


def _is_glued(title: str, end: int) -> bool:
    """A prefix is glued when a lower-case letter meets an upper-case one."""
    return 0 < end < len(title) and title[end - 1].islower() and title[end].isupper()


def fallback_title(text: str) -> str:
    """Return a title made from the first sentence of ``text``, or "(untitled)"."""
    cleaned = (collapse_whitespace(_CONTROL.sub(" ", p)) for p in split_paragraphs(text))
    paragraphs = [p for p in cleaned if p]
    if not paragraphs:
        return UNTITLED
    first = _TAG_OPEN.sub("‹", paragraphs[0])
    end = _SENTENCE_END.search(first, 20)
    sentence = first[: end.end()] if end else first
    return shorten(sentence.removesuffix("."), TITLE_LIMIT)


def shorten(text: str, limit: int) -> str:
    """Return ``text`` cut at a word boundary to at most ``limit`` characters, with "…"."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    head, space, _ = cut.rpartition(" ")
    if space and len(head) >= limit // 2:
        cut = head
    return cut.rstrip(" ,;:-–—") + "…"


# --------------------------------------------------------------------------- dates


def _dates(raw: RawEntry, now: datetime) -> tuple[datetime, datetime | None, bool]:
    """Return (published, updated, date_estimated) after clamping and fallbacks."""
    published = _clamp(raw.published, now, "published")
    updated = _clamp(raw.updated, now, "updated")
    if published is not None:
        clamped = raw.published is not None and published != _as_utc(raw.published)
        return published, updated, clamped
    if updated is not None:
        return updated, updated, False
    return now, None, True


def dated_ahead(raw: RawEntry, now: datetime) -> bool:
    """Whether ``raw`` has a date so far ahead that normalising clamps it to ``now``."""
    limit = _require_utc(now) + FUTURE_TOLERANCE
    return any(d is not None and _as_utc(d) > limit for d in (raw.published, raw.updated))


def _clamp(value: datetime | None, now: datetime, field: str) -> datetime | None:
    """Return ``value`` in UTC, or ``now`` when it is more than a day in the future."""
    if value is None:
        return None
    value = _as_utc(value)
    if value > now + FUTURE_TOLERANCE:
        log.debug("future date clamped field=%s value=%s now=%s", field, value, now)
        return now
    return value


def _as_utc(value: datetime) -> datetime:
    """Convert to UTC; a naive datetime is taken to be UTC already."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _require_utc(now: datetime) -> datetime:
    if now.tzinfo is None:
        raise ValueError("normalise needs an aware 'now'")
    return now.astimezone(UTC)


# --------------------------------------------------------------------------- content


def _content_html(raw: RawEntry) -> str:
    """Sanitised HTML of the content, else of the summary ("" when neither)."""
    body = raw.content if raw.content and raw.content.strip() else raw.summary
    return _to_safe_html(body or "", raw)


def _to_safe_html(body: str, raw: RawEntry) -> str:
    if _is_plain(raw.content_type):
        body = text_to_html(body)
    return sanitise_html(body, raw.base_url)


def _is_plain(content_type: str) -> bool:
    kind = content_type.split(";")[0].strip().lower()
    return kind in {"text/plain", "text", "plain"}


def _summary(raw: RawEntry, text: str) -> str:
    """The entry's own summary as text when it differs from the text, else a lead."""
    has_content = bool(raw.content and raw.content.strip())
    if has_content and raw.summary and raw.summary.strip():
        own = collapse_whitespace(sanitised_to_text(_to_safe_html(raw.summary, raw)))
        if own and own != collapse_whitespace(text):
            return shorten(own, SUMMARY_LIMIT)
    return _lead(text)


def _lead(text: str) -> str:
    """The first paragraph(s) of ``text`` that fit the summary limit, as one line."""
    lead = ""
    for paragraph in split_paragraphs(text):
        candidate = f"{lead} {collapse_whitespace(paragraph)}".strip()
        if lead and len(candidate) > SUMMARY_LIMIT:
            break
        lead = candidate
    return shorten(lead, SUMMARY_LIMIT)


# --------------------------------------------------------------------------- small fields


def _clean_list(values: Sequence[str]) -> tuple[str, ...]:
    """Clean each value like a title; drop empties and case-insensitive repeats."""
    seen: set[str] = set()
    result: list[str] = []
    for value in values:
        clean = clean_title(value)
        if clean and clean.casefold() not in seen:
            seen.add(clean.casefold())
            result.append(clean)
    return tuple(result)


def clean_language(language: str | None) -> str | None:
    """Return a lower-case BCP-47-like tag ("en-US" -> "en-us"), or None."""
    if language is None:
        return None
    tag = language.strip().replace("_", "-").lower()
    return tag if _LANGUAGE.fullmatch(tag) else None


def _dateline(raw: RawEntry, text: str) -> str | None:
    if raw.dateline and raw.dateline.strip():
        return collapse_whitespace(raw.dateline)
    return detect_dateline(text)


def detect_dateline(text: str) -> str | None:
    """Return the dateline at the very start of ``text`` ("NARA", "HARTFORD, Conn.")."""
    match = _DATELINE.match(text)
    if match is None:
        return None
    line = _AGENCY.sub("", match.group("line")).strip()
    place, comma, region = line.partition(",")
    if not _is_place(place) or (comma and not _is_region(region)):
        return None
    return line


def _is_place(place: str) -> bool:
    """An upper-case place name of at most five words with at least two letters."""
    letters = [ch for ch in place if ch.isalpha()]
    return (
        len(letters) >= 2
        and place.isupper()
        and len(place.split()) <= 5
        and _PLACE_CHARS.fullmatch(place.strip()) is not None
    )


def _is_region(region: str) -> bool:
    """One to four capitalised words after the comma ("Conn.", "New South Wales")."""
    words = region.split()
    return 0 < len(words) <= 4 and all(w[0].isupper() and _PLACE_CHARS.fullmatch(w) for w in words)

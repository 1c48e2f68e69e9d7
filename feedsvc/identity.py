"""Which id an article keeps from one fetch to the next, where its entry's own id fails.

Pure decisions over what one fetch made and what the source's last stored
body held (``EntryMemo`` by id); ``processing`` applies them in the worker.
An entry's id is its guid when trustworthy, else its canonical link, else
its content hash (``normalise.article_id``). Three ways that goes wrong in
real feeds, each of which made a second article beside the first, or lost
one:

* **Guids or links shared by different entries** (a CMS that gives every
  item the same guid; items with no guid that all link to one page): the
  store keeps one article per id, so all but the last were lost. Entries of
  one document that share a guid but not their link are known by their link
  instead; those that share a link (and no guid) but differ in title or
  text, by their text (``trusted_ids``). The source gets a warning.
* **A URL that changed only its scheme** (a site moving to https changes its
  links, and a guid written relative to the feed changes with the feed's
  address, against which feedparser resolves it), **an entry known by its
  link that gained a guid** (including one whose guid was distrusted in the
  last fetch and is alone now), **or a guid that changed while link, title
  and text did not** (feeds that make a new guid at every request): the
  article keeps the id the last stored body knew it by (``keep_known_ids``).
* **A drop edited in place** (a ``file`` source's file with no guid or link
  is known by its text): the article keeps the id it had, as the memo
  remembers each article's file (``keep_edited_drops_ids``).

A kept id is only ever one the last stored body held and no entry of this
fetch holds; the article is then updated, not added.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime

from feedsvc.digests import blake2b
from feedsvc.types import Article, EntryMemo, RawEntry, is_content_id


def trusted_ids(raws: Sequence[RawEntry]) -> tuple[list[RawEntry], list[str]]:
    """The entries, without the guids and links that different entries share; warnings.

    A guid that entries with different links share is dropped: they are
    known by their links. A link that different entries (by title and text)
    share, among those not known by a guid, is not their id: they are known
    by their text. Entries of one guid and one link are versions of one
    entry, and keep their id (the last of them is stored).
    """
    raws = list(raws)
    warnings: list[str] = []
    guids = _groups(raws, lambda r: r.guid)
    # one guid, one link: versions of one entry (Atom says so of one id), the last kept
    for guid, positions in _differing(raws, guids, lambda r: (r.link or "").strip()).items():
        for p in positions:
            raws[p] = replace(raws[p], guid=None)
        warnings.append(
            f"{len(positions)} entries with different links share the guid {guid[:80]!r}:"
            " they are known by their links instead"
        )
    links = _groups(raws, lambda r: r.link)
    if any(len(positions) > 1 for positions in links.values()):  # rare: read the guids then
        from feedsvc.normalise import trustworthy_guid  # the workers load it anyway

        def by_link(p: int) -> bool:
            guid = (raws[p].guid or "").strip()
            return not (guid and trustworthy_guid(guid, raws[p].base_url))

        links = {k: [p for p in positions if by_link(p)] for k, positions in links.items()}
        told = _differing(raws, links, lambda r: (r.title, r.content, r.summary))
        for link, positions in told.items():
            for p in positions:
                raws[p] = replace(raws[p], link_identifies=False)
            warnings.append(
                f"{len(positions)} entries share the link {link[:80]!r} but differ:"
                " they are known by their text instead"
            )
    return raws, warnings


def _groups(
    raws: Sequence[RawEntry], key: Callable[[RawEntry], str | None]
) -> dict[str, list[int]]:
    """The positions of the entries under each non-blank value of ``key``."""
    groups: dict[str, list[int]] = defaultdict(list)
    for position, raw in enumerate(raws):
        if value := (key(raw) or "").strip():
            groups[value].append(position)
    return groups


def _differing(
    raws: Sequence[RawEntry], groups: Mapping[str, list[int]], told: Callable[[RawEntry], Hashable]
) -> dict[str, list[int]]:
    """The groups of two or more entries that tell different things."""
    return {
        value: positions
        for value, positions in groups.items()
        if len(positions) > 1 and len({told(raws[p]) for p in positions}) > 1
    }


def alias_of(article: Article) -> str:
    """A digest of an article's link, title and text: what tells it apart besides its id."""
    text = f"{article.url or ''}\0{article.title}\0{article.content_hash}"
    return blake2b(text.encode(errors="surrogatepass"), digest_size=12).hexdigest()


def keep_known_ids(
    made: dict[str, Article], entries: dict[str, EntryMemo], known: Mapping[str, EntryMemo]
) -> None:
    """Give each new article the id the last stored body knew it by, in ``made`` and ``entries``.

    That id is its own URL id with the other scheme, its link, its link with
    the other scheme, or the id of the article with its alias (the same link,
    title and text): the first of them that the last stored body held and no
    entry of this fetch holds.
    """
    aliased = {memo.alias: id_ for id_, memo in known.items() if memo.alias is not None}
    for id_ in [k for k in made if k not in known]:
        url = made[id_].url
        alias = entries[id_].alias
        aliases = (
            _other_scheme(id_),
            url,
            _other_scheme(url) if url else None,
            aliased.get(alias) if alias else None,
        )
        old = next((a for a in aliases if a and a in known and a not in entries), None)
        if old is None:
            continue
        made[old] = replace(made.pop(id_), id=old)
        entries[old] = entries.pop(id_)


def keep_edited_drops_ids(
    made: dict[str, Article],
    entries: dict[str, EntryMemo],
    known: Mapping[str, EntryMemo],
    now: datetime,
) -> None:
    """Give each drop edited in place the id its article had, in ``made`` and ``entries``.

    The article is then updated at ``now``, unless the drop says when.
    Only ids that are content hashes move (a guid or a link is the article's
    own id), and only to an id that no other drop of this fetch holds (two
    files with the same text were one article: an edit of one of them is new).
    """
    before = {memo.origin: id_ for id_, memo in known.items() if memo.origin is not None}
    for id_, memo in list(entries.items()):
        old = before.get(memo.origin) if memo.origin is not None else None
        if old is None or old in entries or id_ not in made:
            continue
        if not (is_content_id(id_) and is_content_id(old)):
            continue
        article = made.pop(id_)
        del entries[id_]
        made[old] = replace(article, id=old, updated=article.updated or now)
        entries[old] = memo


def _other_scheme(url: str) -> str | None:
    """The same http(s) URL with the other scheme, or None for a string that is no such URL."""
    for scheme, other in (("http://", "https://"), ("https://", "http://")):
        if url[: len(scheme)].lower() == scheme:
            return other + url[len(scheme) :]
    return None

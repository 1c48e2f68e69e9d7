"""Publishing: feed records in, RSS 2.0 / Atom 1.0 / JSON Feed 1.1, OPML and index.html out.

``entry_from_article`` and ``plan_feeds`` are pure (which feeds exist, which
entries they hold); ``write_output`` renders and writes them atomically,
rewriting a file only when its bytes change. The publisher gets records and
writes files: it runs no SQL and fetches nothing. It is the only feedgen user.

Modules: ``plan`` (pure planning), ``text`` (escaping, URLs, dates),
``syndication`` (RSS/Atom via feedgen), ``jsonfeed``, ``index`` (index.html),
``opml``, ``atomic`` (atomic writes), ``rendering`` (specs to bytes: the only
module of the writing path that loads feedgen), ``output`` (the orchestration). The names
below load their module on first use, so planning never imports feedgen.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from feedsvc.publish.atomic import write_if_changed
    from feedsvc.publish.output import write_output
    from feedsvc.publish.plan import (
        entry_from_article,
        entry_from_story,
        entry_guid,
        plan_feeds,
        story_guid,
    )

_HOMES = {
    "write_if_changed": "atomic",
    "write_output": "output",
    "entry_from_article": "plan",
    "entry_from_story": "plan",
    "entry_guid": "plan",
    "plan_feeds": "plan",
    "story_guid": "plan",
}

__all__ = [
    "entry_from_article",
    "entry_from_story",
    "entry_guid",
    "plan_feeds",
    "story_guid",
    "write_if_changed",
    "write_output",
]


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        return getattr(import_module(f"feedsvc.publish.{_HOMES[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

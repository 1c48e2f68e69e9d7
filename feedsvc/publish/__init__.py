"""Publishing: feed records in, RSS 2.0 / Atom 1.0 / JSON Feed 1.1, OPML and index.html out.

``entry_from_article`` and ``plan_feeds`` are pure (which feeds exist, which
entries they hold); ``write_output`` renders and writes them atomically,
rewriting a file only when its bytes change. The publisher gets records and
writes files: it runs no SQL and fetches nothing. It is the only feedgen user.

Modules: ``plan`` (pure planning), ``text`` (escaping, URLs, dates),
``syndication`` (RSS/Atom via feedgen), ``jsonfeed``, ``index`` (index.html),
``opml``, ``atomic`` (atomic writes), ``output`` (the orchestration).
"""

from feedsvc.publish.atomic import write_if_changed
from feedsvc.publish.output import write_output
from feedsvc.publish.plan import (
    entry_from_article,
    entry_from_story,
    entry_guid,
    plan_feeds,
    story_guid,
)

__all__ = [
    "entry_from_article",
    "entry_from_story",
    "entry_guid",
    "plan_feeds",
    "story_guid",
    "write_if_changed",
    "write_output",
]

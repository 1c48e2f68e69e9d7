"""Drive the ``reader`` library for one benchmark step; runs under reader's own venv.

usage: python reader_driver.py STEP DB URLS_FILE

STEP is ``first`` (add every URL, then update all feeds), ``again`` (update all
feeds, due or not: every one should answer 304), ``changed`` (the same, after a
tenth of the feeds gained an entry), ``due`` (update the scheduled
feeds only: none is due an hour after the last update) or ``count`` (print
feed and entry counts as JSON). Updates use one worker, like reader's default.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from reader import make_reader


def main(step: str, db: str, urls_file: str) -> None:
    """Run one step against the database ``db``."""
    reader = make_reader(db)
    try:
        if step == "first":
            for url in Path(urls_file).read_text(encoding="utf-8").split():
                reader.add_feed(url, exist_ok=True)
            reader.update_feeds(scheduled=False, workers=1)
        elif step in ("again", "changed"):
            reader.update_feeds(scheduled=False, workers=1)
        elif step == "due":
            reader.update_feeds(scheduled=True, workers=1)
        elif step == "count":
            feeds, entries = reader.get_feed_counts(), reader.get_entry_counts()
            print(
                json.dumps({"feeds": feeds.total, "broken": feeds.broken, "entries": entries.total})
            )
        else:
            raise SystemExit(f"unknown step {step!r}")
    finally:
        reader.close()


if __name__ == "__main__":
    main(*sys.argv[1:4])

"""The ``cluster`` command of the ``feedsvc`` command line.

Like ``cli``: a plain function whose docstring is its help. It reads the JSON
lines itself so that an input it cannot use (a missing file, bytes that are
not UTF-8, a line that is not an item) is one clear message per bad line,
``FILE:LINE: problem``, and exit code 2, instead of a traceback; the grouping
is the story engine's (``feedsvc.stories.cluster.write_stories``), on the
items read once here.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from feedsvc.stories import StoryItem

EXIT_OK = 0
EXIT_USAGE = 2
SHOWN_PROBLEMS = 20  # a wholly wrong file is not worth a screenful per line

log = logging.getLogger("feedsvc.cli")


def cmd_cluster(args: argparse.Namespace) -> int:
    """Group JSON-lines items (id, title, text, outlet, published) into stories on stdout."""
    from feedsvc.stories import StoryParams
    from feedsvc.stories.cluster import write_stories

    name = "<stdin>" if str(args.input) == "-" else str(args.input)
    try:
        text = sys.stdin.read() if name == "<stdin>" else Path(args.input).read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        print(f"feedsvc: cannot read {name}: {_reason(exc)}", file=sys.stderr)
        return EXIT_USAGE
    items, problems = read_items(text, name)
    if problems:
        shown = problems[:SHOWN_PROBLEMS]
        more = len(problems) - len(shown)
        tail = [f"feedsvc: ... and {more} more bad lines"] if more else []
        print("\n".join([*(f"feedsvc: {p}" for p in shown), *tail]), file=sys.stderr)
        return EXIT_USAGE
    count = write_stories(items, sys.stdout, StoryParams())
    log.info("clustered items=%d", count)
    return EXIT_OK


def read_items(text: str, name: str) -> tuple[list[StoryItem], list[str]]:
    """The items of JSON lines, and ``NAME:LINE: problem`` for each non-blank line that is none."""
    from feedsvc.stories.cluster import parse_item

    items: list[StoryItem] = []
    problems = []
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            if not isinstance(record, dict):
                raise TypeError(f"expected a JSON object, got {type(record).__name__}")
            items.append(parse_item(record))
        except json.JSONDecodeError as exc:
            problems.append(f"{name}:{number}: not JSON: {exc.msg} (column {exc.colno})")
        except KeyError as exc:
            problems.append(f"{name}:{number}: missing key {exc.args[0]!r}")
        except (TypeError, ValueError) as exc:
            problems.append(f"{name}:{number}: {exc}")
    return items, problems


def _reason(exc: OSError | UnicodeDecodeError) -> str:
    if isinstance(exc, UnicodeDecodeError):
        return f"not UTF-8 (byte {exc.start})"
    return exc.strerror or str(exc)

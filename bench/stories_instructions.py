"""The story engine's instructions, this checkout against a git revision (issue 7).

The machine is shared and noisy: two timed runs of the engine differ by 5-10 %
from one minute to the next, more than most single changes save. This counts
instead the CPU instructions the engine executes (valgrind's cachegrind, the
``I refs`` total), which are the same from run to run, so a change of 1 % is
seen. It runs the engine of this checkout and of ``--against`` (default
``HEAD``, unpacked with ``git archive`` into a scratch directory) on the same
deterministic items of ``bench/stories_speed.py`` (with their stored analyses,
as a round reads them), each in a fresh process under cachegrind, the two
trees side by side on the two cores. A second process per tree does all but
the engine (start-up, imports, making the items); the engine's count is the
difference. It also checks that both engines made the same decisions (a
digest of every decision and of the stories left in the window).

Instructions are not time (a cache miss costs many), so confirm a gain with
``bench/stories_speed.py``; but they tell at once whether a change does less.
valgrind is installed from Debian when missing and we are root.

usage: python bench/stories_instructions.py [--against REV] [--corpus giant|news] [--items N]
       (default: --against HEAD --corpus giant --items 5000; about 3 minutes)
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from speedlib.debian import ensure_program

HERE = Path(__file__).resolve().parent
CHECKOUT = HERE.parent
_REFS = re.compile(r"I\s+refs:\s+([\d,]+)")


def unpack(revision: str, into: Path) -> Path:
    """The tree of ``revision`` of this checkout, written under ``into``."""
    archive = subprocess.run(
        ["git", "-C", str(CHECKOUT), "archive", revision, "feedsvc"],
        check=True,
        capture_output=True,
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def counted(valgrind: str, root: Path, corpus: str, items: int, engine: bool) -> tuple[int, str]:
    """Instructions of one child process, and what it printed (the decisions' digest)."""
    command = [
        valgrind, "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null",
        sys.executable, __file__, "--child", str(root), "--corpus", corpus, "--items", str(items),
    ]  # fmt: skip
    if not engine:
        command.append("--no-engine")
    env = {**os.environ, "PYTHONHASHSEED": "0"}  # the same string hashes in every process
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    found = _REFS.search(done.stderr)
    if done.returncode != 0 or found is None:
        sys.exit(f"the run of {root} failed:\n{done.stdout}\n{done.stderr[-3000:]}")
    return int(found.group(1).replace(",", "")), done.stdout.strip()


def engine_count(valgrind: str, root: Path, corpus: str, items: int) -> tuple[int, str]:
    """The engine's instructions in ``root`` (a run less a run without it), and its digest."""
    whole, digest = counted(valgrind, root, corpus, items, engine=True)
    rest, _ = counted(valgrind, root, corpus, items, engine=False)
    return whole - rest, digest


def child(root: Path, corpus: str, items: int, engine: bool) -> None:
    """Make the items and (unless told not to) run the engine of ``root`` on them."""
    sys.path[:0] = [str(root), str(HERE)]
    import hashlib

    import feedsvc

    if not Path(feedsvc.__file__).resolve().is_relative_to(root.resolve()):
        sys.exit(f"imported {feedsvc.__file__}, not the tree under {root}")
    import stories_speed

    from feedsvc.stories import StoryEngine

    if corpus == "giant":
        made = stories_speed.giant_items(items)
    else:
        made = stories_speed.NewsGenerator(7).items(items)
    stored, _ = stories_speed.with_analyses(list(made))
    if not engine:
        return
    story_engine = StoryEngine()
    digest = hashlib.blake2b(digest_size=16)
    for item in stored:
        decision = story_engine.add(item)
        digest.update(f"{decision.story_id} {decision.layer} {decision.score!r}\n".encode())
    for story_id in sorted(story_engine.active_stories()):
        digest.update(f"{story_engine.story(story_id)}\n".encode())
    print(digest.hexdigest())


def main(argv: list[str] | None = None) -> int:
    """Count both trees' engines and print the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", default="HEAD", help="git revision to compare with")
    parser.add_argument("--corpus", choices=("giant", "news"), default="giant")
    parser.add_argument("--items", type=int, default=5000)
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--no-engine", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child, args.corpus, args.items, not args.no_engine)
        return 0
    valgrind = ensure_program("valgrind", "valgrind")
    with tempfile.TemporaryDirectory(prefix="feedsvc-instructions-") as scratch:
        base = unpack(args.against, Path(scratch))
        with ThreadPoolExecutor(2) as pool:
            before = pool.submit(engine_count, valgrind, base, args.corpus, args.items)
            after = pool.submit(engine_count, valgrind, CHECKOUT, args.corpus, args.items)
            (old, old_digest), (new, new_digest) = before.result(), after.result()
    print(f"{args.corpus} corpus, {args.items} items, engine instructions (cachegrind):")
    print(f"  {args.against:<12} {old / 1e6:12,.0f} M")
    print(f"  {'this tree':<12} {new / 1e6:12,.0f} M   ratio {new / old:.4f}")
    same = old_digest == new_digest
    print(f"  decisions: {'the same' if same else 'DIFFERENT'} ({old_digest} / {new_digest})")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())

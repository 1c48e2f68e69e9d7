"""The tag, schema and OPML commands of the ``feedsvc`` command line.

Like ``cli``: each command is a plain function whose docstring is its help;
it wires arguments to the service and formats what comes back. No logic.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from feedsvc.service import Service
    from feedsvc.subscriptions import ImportPlan
    from feedsvc.tagging import RuleCount, TagExplanation
    from feedsvc.types import TagConfig, TagOrigin

EXIT_OK = 0
EXIT_USAGE = 2


def _service(args: argparse.Namespace) -> Service:
    from feedsvc.cli import service_for

    return service_for(args.config)


def cmd_tags(args: argparse.Namespace) -> int:
    """List every tag of the vocabulary with how many stored articles carry it."""
    vocabulary, counts = _service(args).tags()
    if args.json:
        rows = [_tag_json(tag, counts.get(tag.slug, 0)) for tag in vocabulary]
        print(json.dumps(rows, indent=2, ensure_ascii=False))
    else:
        print(format_tags(vocabulary, counts))
    return EXIT_OK


def _tag_json(tag: TagConfig, count: int) -> dict[str, object]:
    return {
        "tag": tag.slug,
        "title": tag.title,
        "aliases": list(tag.aliases),
        "rule": tag.match is not None,
        "articles": count,
    }


def format_tags(vocabulary: Sequence[TagConfig], counts: dict[str, int]) -> str:
    """A plain-text table of tags: slug, article count, whether a rule gives it, title."""
    rows = [("TAG", "ARTICLES", "RULE", "TITLE")]
    rows += [
        (tag.slug, str(counts.get(tag.slug, 0)), "yes" if tag.match else "-", tag.title)
        for tag in vocabulary
    ]
    others = sorted(set(counts) - {tag.slug for tag in vocabulary})
    rows += [(slug, str(counts[slug]), "-", "(not in the vocabulary any more)") for slug in others]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row[:3], widths, strict=True))
        + "  "
        + row[3]
        for row in rows
    ).rstrip()


def cmd_tags_explain(args: argparse.Namespace) -> int:
    """Show which rule, source or feed category gave each tag of an article (SOURCE:ID)."""
    print(format_tag_explanation(_service(args).explain_tags(args.ref)))
    return EXIT_OK


def format_tag_explanation(explanation: TagExplanation) -> str:
    """The tags of one article with their origins, and its story's tags, as text."""
    article = explanation.article
    lines = [f"article: {article.source}:{article.id}", f"title: {article.title}", "tags:"]
    lines += _origin_lines(explanation.stored) or ["  (none)"]
    if explanation.current != explanation.stored:
        lines.append("with the rules as configured now (the next run re-tags it):")
        lines += _origin_lines(explanation.current) or ["  (none)"]
    story = explanation.story_id or "(not in a story yet)"
    lines.append(f"story: {story}")
    lines.append(
        f"story tags (every tag of any member): {', '.join(explanation.story_tags) or '-'}"
    )
    return "\n".join(lines)


def _origin_lines(origins: Sequence[TagOrigin]) -> list[str]:
    from feedsvc.tags import describe_origin

    return [f"  {origin.tag:<20} {describe_origin(origin)}" for origin in origins]


def tag_lines(explanation: TagExplanation, label: str) -> list[str]:
    """The tag lines ``stories explain`` prints for one of its two articles."""
    lines = [f"tags of {label}:"]
    return lines + (_origin_lines(explanation.stored) or ["  (none)"])


def format_rule_counts(counts: Sequence[RuleCount], total: int) -> str:
    """What ``check --rules`` prints: per rule, the stored articles it would match."""
    if not counts:
        return "no tag has a rule ('match') in the vocabulary"
    rows = [("TAG", "WOULD MATCH", "TAGGED NOW", "TITLE")]
    rows += [(c.tag, str(c.matched), str(c.tagged), c.title) for c in counts]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    table = [
        "  ".join(cell.ljust(width) for cell, width in zip(row[:3], widths, strict=True))
        + "  "
        + row[3]
        for row in rows
    ]
    return "\n".join([*table, f"({total} stored articles checked; nothing was changed)"])


def cmd_config_schema(args: argparse.Namespace) -> int:
    """Print the JSON Schema of sources.yaml (for editors that complete and check YAML)."""
    from feedsvc.config import config_schema

    print(json.dumps(config_schema(), indent=2, ensure_ascii=False))
    return EXIT_OK


def cmd_import_opml(args: argparse.Namespace) -> int:
    """Add the feeds of a feed reader's OPML export to sources.yaml (folders become tags)."""
    from feedsvc.subscriptions import OpmlError

    try:
        data = args.file.read_bytes()
        plan = _service(args).import_opml(data, dry_run=args.dry_run)
    except (OSError, OpmlError) as exc:
        print(f"feedsvc: {args.file}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(format_import(plan, dry_run=args.dry_run))
    return EXIT_OK


def format_import(plan: ImportPlan, *, dry_run: bool) -> str:
    """The report of an import: sources added (or that would be), tags added, feeds skipped."""
    verb = "would add" if dry_run else "added"
    lines = [f"{verb} {len(plan.sources)} source{'s' if len(plan.sources) != 1 else ''}"]
    for source in plan.sources:
        tags = f"  [{', '.join(source.tags)}]" if source.tags else ""
        lines.append(f"  + {source.name}: {source.title} <{source.url}>{tags}")
    for slug, title in plan.new_tags:
        lines.append(f"  + tag {slug}: {title}")
    if plan.skipped:
        lines.append(f"skipped {len(plan.skipped)}")
        lines += [f"  - {url}: {reason}" for url, reason in plan.skipped]
    return "\n".join(lines)


def cmd_export_opml(args: argparse.Namespace) -> int:
    """Write the configured feed sources as OPML 2.0 (to stdout, or to --output)."""
    from feedsvc.subscriptions import export_opml

    data = export_opml(_service(args).config)
    if args.output is None:
        sys.stdout.write(data.decode("utf-8"))
    else:
        from feedsvc.publish.atomic import write_if_changed

        write_if_changed(args.output, data)
    return EXIT_OK

"""Checks of published HTML pages: HTML5 validity, structure, and links that lead somewhere.

``html_errors`` parses a page with html5lib, the reference implementation of
the HTML5 parsing algorithm, and returns every parse error it reports (what
``HTMLParser(strict=True)`` raises on, all of them, not only the first).
``page_problems`` adds what a parser does not check: a language, a title, one
``<h1>``, unique ids, no scripts or embedded resources (the one ``<link>``
that loads something is the site's icon, a local file), and every relative link
pointing at a file that exists under output/ (and at an id in it, when the
link has a fragment).
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from urllib.parse import unquote, urlsplit

import html5lib
from html5lib.constants import E

EMBEDDING = frozenset({"script", "img", "iframe", "object", "embed", "audio", "video", "source"})
LINK_RELS = frozenset({"alternate", "canonical", "icon"})


def html_errors(data: bytes) -> list[str]:
    """Every HTML5 parse error in ``data`` (empty for a valid document)."""
    parser = html5lib.HTMLParser(strict=False, namespaceHTMLElements=False)
    parser.parse(data, useChardet=False, override_encoding="utf-8")
    found = []
    for position, code, variables in parser.errors:
        message = E.get(code, code)
        with contextlib.suppress(KeyError, TypeError, ValueError):
            message = message % (variables or {})
        found.append(f"{position}: {code}: {message}")
    return found


def parse(data: bytes) -> object:
    """The page as an ElementTree element (html5lib's default tree)."""
    parser = html5lib.HTMLParser(strict=True, namespaceHTMLElements=False)
    return parser.parse(data, useChardet=False, override_encoding="utf-8")


def page_problems(path: Path, output: Path) -> list[str]:
    """What is wrong with the page at ``path`` (a file under ``output``), besides parse errors."""
    data = path.read_bytes()
    where = path.relative_to(output).as_posix()
    problems = [f"{where}: {e}" for e in html_errors(data)]
    root = parse(data)
    elements = list(root.iter())  # type: ignore[attr-defined]
    if not root.get("lang"):  # type: ignore[attr-defined]
        problems.append(f"{where}: <html> has no lang")
    titles = [e for e in elements if e.tag == "title"]
    if len(titles) != 1 or not "".join(titles[0].itertext()).strip():
        problems.append(f"{where}: not exactly one non-empty <title>")
    if sum(1 for e in elements if e.tag == "h1") != 1:
        problems.append(f"{where}: not exactly one <h1>")
    ids = [e.get("id") for e in elements if e.get("id")]
    problems += [f"{where}: id {i!r} repeated" for i in sorted(set(ids)) if ids.count(i) > 1]
    for element in elements:
        if element.tag in EMBEDDING:
            problems.append(f"{where}: <{element.tag}> loads or runs something")
        rels = set(element.get("rel", "").split())
        if element.tag == "link" and not rels <= LINK_RELS:
            problems.append(f"{where}: <link rel={element.get('rel')!r}> loads something")
        if element.tag == "link" and rels & {"icon", "canonical"}:
            problems += _link_problem(element.get("href", ""), path, output, where)
        if element.tag == "a" and element.get("href") is not None:
            problems += _link_problem(element.get("href"), path, output, where)
    return problems


def _link_problem(href: str, page: Path, output: Path, where: str) -> list[str]:
    parts = urlsplit(href)
    if parts.scheme or parts.netloc:
        return [] if parts.scheme in ("http", "https") else [f"{where}: link {href!r}"]
    target = (page.parent / unquote(parts.path)).resolve() if parts.path else page
    if not target.is_relative_to(output.resolve()):
        return [f"{where}: link {href!r} leaves the output dir"]
    if not target.is_file():
        return [f"{where}: link {href!r} leads nowhere"]
    if parts.fragment and target.suffix == ".html":
        ids = {e.get("id") for e in parse(target.read_bytes()).iter()}  # type: ignore[attr-defined]
        if parts.fragment not in ids:
            return [f"{where}: link {href!r}: no such id"]
    return []


def all_page_problems(output: Path) -> list[str]:
    """The problems of every ``.html`` page under ``output``."""
    return [
        problem
        for path in sorted(output.rglob("*.html"))
        if not path.name.startswith(".")
        for problem in page_problems(path, output)
    ]

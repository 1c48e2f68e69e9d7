"""Wrong sources.yaml files: each gets one-line errors with file, line and key, and nothing starts.

test_config.py checks the messages of the common mistakes; this table adds the
hostile and the odd ones, and runs every case through ``feedsvc run`` too:
exit code 78, every problem on one line as ``file:line: key: message``, no
data or output directory created, no connection made.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from feedsvc.cli import EXIT_CONFIG, main
from feedsvc.config import load_config
from feedsvc.errors import ConfigError

GOOD = "name: tide\n    kind: feed\n    url: https://tide.example/feed\n"


def source(extra: str = "", base: str = GOOD) -> str:
    """A config with one source whose mapping is ``base`` plus ``extra`` lines."""
    return "sources:\n  - " + base + "".join(f"    {line}\n" for line in extra.splitlines())


def settings(text: str) -> str:
    return "settings:\n" + "".join(f"  {line}\n" for line in text.splitlines()) + "sources: []\n"


LOL = "l0: &l0 [lol]\n" + "".join(
    f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]\n" for i in range(1, 9)
)  # a YAML "billion laughs": 9**8 leaves if anything expanded it
RULE_LOL = "tags:\n  t0: {match: &r0 [lol]}\n" + "".join(
    f"  t{i}: {{match: &r{i} [{', '.join([f'*r{i - 1}'] * 9)}]}}\n" for i in range(1, 9)
)  # the same through tag rules, which are walked: t4's rule already has 13,942 parts
DEEP_RULE = "tags:\n  deep:\n    match: " + "[" * 400 + "x" + "]" * 400 + "\nsources: []\n"
CASES = [
    # (config text, line, key, fragment of the message)
    (
        source("", "name: t\n    kind: feed\n    url: 'https://[::1/'\n"),
        4,
        "sources[0].url",
        "Invalid IPv6 URL",
    ),
    (
        source("", "name: t\n    kind: feed\n    url: 'http://%zz/'\n"),
        4,
        "sources[0].url",
        "valid host name",
    ),
    (
        source("", "name: t\n    kind: feed\n    url: 'https://t.example:0/'\n"),
        4,
        "sources[0].url",
        "valid port",
    ),
    (
        source("", f"name: t\n    kind: feed\n    url: 'https://t.example/{'a' * 3000}'\n"),
        4,
        "sources[0].url",
        "at most 2000 characters",
    ),
    (
        source("", 'name: t\n    kind: feed\n    url: "https://t.example/\\u202egpj"\n'),
        4,
        "sources[0].url",
        "without spaces",
    ),
    (
        source("", "name: t\n    kind: feed\n    url: 'javascript:alert(1)'\n"),
        4,
        "sources[0].url",
        "http(s) URL with a host",
    ),
    (
        source("", "name: t\n    kind: feed\n    url: 'data:text/xml,<rss/>'\n"),
        4,
        "sources[0].url",
        "http(s) URL with a host",
    ),
    (
        source("", "name: t\n    kind: page\n    url: 'file:///etc/shadow'\n"),
        4,
        "sources[0].url",
        "a page source fetches http(s) URLs only",
    ),
    (
        source("", "name: t\n    kind: feed\n    url: 'gopher://127.0.0.1:70/'\n"),
        4,
        "sources[0].url",
        "http(s)",
    ),
    (
        source("", "name: ../../etc\n    kind: feed\n    url: https://t.example/\n"),
        2,
        "sources[0].name",
        "lower-case letters",
    ),
    (
        source("", f"name: {'n' * 65}\n    kind: feed\n    url: https://t.example/\n"),
        2,
        "sources[0].name",
        "a name of 1-64",
    ),
    (
        source("", "name: tïde\n    kind: feed\n    url: https://t.example/\n"),
        2,
        "sources[0].name",
        "lower-case letters",
    ),
    (source("tags: ['../up']"), 5, "sources[0].tags[0]", "a tag of"),
    (source("tags: [[nested]]"), 5, "sources[0].tags[0]", "expected a string, got a list"),
    (source("interval: -5m"), 5, "sources[0].interval", "duration like"),
    (
        source("interval: 99999999999999999999d"),
        5,
        "sources[0].interval",
        "from 1m to 7d, got '99999999999999999999d'",
    ),
    (
        source("interval: !!python/object:os.system 'rm -rf /'"),
        5,
        "sources[0].interval",
        "python/object",
    ),
    (source("title: !!binary aGVsbG8="), 5, "sources[0].title", "binary"),
    (source("enabled: 1"), 5, "sources[0].enabled", "true or false"),
    (
        settings("fetch:\n  allow_private_addresses: 'yes'"),
        3,
        "settings.fetch.allow_private_addresses",
        "expected true or false, got a string 'yes'",
    ),
    (
        settings("fetch:\n  allow_private_addresses: 1"),
        3,
        "settings.fetch.allow_private_addresses",
        "expected true or false, got an integer",
    ),
    (
        settings("fetch:\n  allow_private_adresses: true"),
        3,
        "settings.fetch.allow_private_adresses",
        "did you mean 'allow_private_addresses'?",
    ),
    (settings("fetch:\n  concurrency: 0"), 3, "settings.fetch.concurrency", "from 1 to 256"),
    (settings("fetch:\n  max_redirects: 21"), 3, "settings.fetch.max_redirects", "from 0 to 20"),
    (settings("fetch:\n  max_body_size: 2GiB"), 3, "settings.fetch.max_body_size", "2147483648"),
    (settings("fetch:\n  per_host: 0"), 3, "settings.fetch.per_host", "from 1 to 64"),
    (settings("feed_size: 1e9"), 2, "settings.feed_size", "expected an integer"),
    (settings("stories:\n  window: 0h"), 3, "settings.stories.window", "from 1h to 30d"),
    (
        settings("stories:\n  representative: loudest"),
        3,
        "settings.stories.representative",
        "expected one of",
    ),
    (settings("database_url: 'mysql+evil://x'"), 2, "settings.database_url", "sqlite:///"),
    (settings("base_url: 'https://[::1/'"), 2, "settings.base_url", "Invalid IPv6 URL"),
    (settings("websub_hub: 'file:///tmp/hub'"), 2, "settings.websub_hub", "http(s)"),
    ("sources:\n\t- name: tide\n", 2, "", "invalid YAML"),
    ("sources: [\n", 2, "", "invalid YAML"),
    ("sources: []\nsettings: &a {feed_size: *a}\n", 2, "settings.feed_size", "expected an integer"),
    (LOL + "sources: *l8\n", 1, "l0", "unknown key 'l0'"),
    (RULE_LOL + "sources: []\n", 6, "tags.t4.match", "more than 10000 parts"),
    (DEEP_RULE, 3, "tags.deep.match", "nests more than 50 levels deep"),
    ("sources: []\n# caf\u00e9\n\x00\n", 3, "", "unacceptable character U+0000"),
    ("{1: 2}\n", 1, "1", "unknown key '1'"),
    ("sources: []\n" + "#" * 200 + "\n" + "x: y\n", 3, "x", "unknown key 'x'"),
]


@pytest.mark.parametrize(("text", "line", "key", "fragment"), CASES)
def test_wrong_config_is_one_line_per_problem_and_nothing_starts(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    text: str,
    line: int,
    key: str,
    fragment: str,
) -> None:
    path = tmp_path / "sources.yaml"
    path.write_text(text)
    started = time.monotonic()
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert time.monotonic() - started < 5.0
    first = info.value.problems[0]
    assert (first.line, first.key) == (line, key), info.value.problems
    assert fragment in first.message, first.message
    assert main(["--config", str(path), "run"]) == EXIT_CONFIG
    lines = capsys.readouterr().err.strip().splitlines()
    shape = re.compile(re.escape(str(path)) + r":\d+: ")
    problem_lines = [x for x in lines if shape.match(x)]
    assert len(problem_lines) == len(info.value.problems)
    assert all("\n" not in str(p) for p in info.value.problems)
    assert not (tmp_path / "data").exists() and not (tmp_path / "output").exists()

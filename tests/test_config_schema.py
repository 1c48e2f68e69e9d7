"""The JSON Schema of sources.yaml: generated from the loader's declarations, and it agrees."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from feedsvc.config import config_schema, parse_config
from feedsvc.errors import ConfigError


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = config_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def documented_examples(repo_dir: Path) -> list[str]:
    """Every YAML block of docs/config.md that is a whole sources.yaml."""
    text = (repo_dir / "docs" / "config.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```yaml\n(.*?)```", text, re.DOTALL)
    return [block for block in blocks if re.search(r"^sources:", block, re.MULTILINE)]


def test_the_published_schema_file_is_current(repo_dir: Path) -> None:
    published = json.loads((repo_dir / "docs" / "sources.schema.json").read_text())
    assert published == config_schema(), "regenerate: feedsvc config-schema > docs/..."


def test_the_bundled_sources_yaml_is_accepted(
    repo_dir: Path, validator: jsonschema.Draft202012Validator
) -> None:
    document = yaml.safe_load((repo_dir / "sources.yaml").read_text(encoding="utf-8"))
    assert list(validator.iter_errors(document)) == []


def test_the_documented_examples_are_accepted(
    repo_dir: Path, validator: jsonschema.Draft202012Validator
) -> None:
    examples = documented_examples(repo_dir)
    assert len(examples) >= 2
    for example in examples:
        document = yaml.safe_load(example)
        assert [e.message for e in validator.iter_errors(document)] == [], example[:200]


WRONG: list[tuple[str, Any]] = [
    ("unknown root key", {"sources": [], "colour": "blue"}),
    ("missing sources", {"settings": {}}),
    ("bad duration", {"sources": [], "settings": {"fetch": {"connect_timeout": "soon"}}}),
    ("feed_size out of range", {"sources": [], "settings": {"feed_size": 0}}),
    ("unknown kind", {"sources": [{"name": "a", "kind": "paper", "url": "https://a.test/"}]}),
    (
        "url and path",
        {"sources": [{"name": "a", "kind": "feed", "url": "https://a/", "path": "x"}]},
    ),
    ("bad name", {"sources": [{"name": "A B", "kind": "feed", "url": "https://a.test/"}]}),
    (
        "tags as a string",
        {"sources": [{"name": "a", "kind": "feed", "url": "https://a/", "tags": "x"}]},
    ),
    ("bad tag slug", {"sources": [], "tags": {"Bad Slug": {}}}),
    ("unknown field in a rule", {"sources": [], "tags": {"x": {"match": {"titel": "a"}}}}),
    ("empty rule list", {"sources": [], "tags": {"x": {"match": {"any": []}}}}),
    ("unknown feed format", {"sources": [], "settings": {"feeds": {"formats": ["gopher"]}}}),
]


@pytest.mark.parametrize(("why", "document"), WRONG, ids=[w for w, _ in WRONG])
def test_wrong_files_are_rejected_by_both(
    validator: jsonschema.Draft202012Validator, tmp_path: Path, why: str, document: Any
) -> None:
    assert list(validator.iter_errors(document)), why
    with pytest.raises(ConfigError):
        parse_config(yaml.safe_dump(document), tmp_path / "sources.yaml")


def test_a_nested_rule_is_accepted(validator: jsonschema.Draft202012Validator) -> None:
    document = {
        "sources": [],
        "tags": {
            "x": {
                "title": "X",
                "aliases": ["ex"],
                "match": {
                    "all": [{"any": ["a", "re:b+"]}, {"title": ["c"]}],
                    "none": ["d"],
                    "language": "en",
                },
            }
        },
    }
    assert list(validator.iter_errors(document)) == []

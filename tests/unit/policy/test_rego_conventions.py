"""House rules of the shipped Rego: every deny rule documents its reason code, and uses it."""

from __future__ import annotations

import re

import pytest

from tests.unit.policy.contexts import POLICIES

_DENY = re.compile(r"^deny contains reason if \{$", re.MULTILINE)
_CODE = re.compile(r'"code": "(?P<code>[a-z0-9_.]+)"')

SOURCES = sorted(p for p in POLICIES.rglob("*.rego") if not p.name.endswith("_test.rego"))


def _deny_rules(text: str):
    """(comment block above, rule body) for each `deny contains` rule."""
    lines = text.splitlines()
    for match in _DENY.finditer(text):
        line_no = text.count("\n", 0, match.start())
        comments = []
        i = line_no - 1
        while i >= 0 and lines[i].startswith("#"):
            comments.insert(0, lines[i])
            i -= 1
        body = text[match.end() : text.index("\n}\n", match.end())]
        yield "\n".join(comments), body


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.relative_to(POLICIES).as_posix())
def test_every_deny_rule_has_metadata_with_its_reason_code(path):
    for comments, body in _deny_rules(path.read_text()):
        assert comments.startswith("# METADATA"), body
        assert "# description: " in comments, comments
        declared = re.search(r"#   code: (?P<code>\S+)", comments)
        assert declared is not None, comments
        used = _CODE.search(body)
        assert used is not None, body
        assert used["code"] == declared["code"]
        assert declared["code"].startswith("policy.")


def test_every_package_with_deny_rules_has_tests_beside_it():
    for path in SOURCES:
        if _DENY.search(path.read_text()):
            assert path.with_name(path.stem + "_test.rego").exists(), path

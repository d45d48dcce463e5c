from __future__ import annotations

import pytest

from gateway.policy.sources import PolicyLoadError, read_policy_sources
from tests.unit.policy.contexts import MINIMAL_DECISION, write_policy


def test_json_files_are_placed_at_their_directory_path_like_opa(tmp_path):
    root = write_policy(
        tmp_path,
        {
            "gateway/decision.rego": MINIMAL_DECISION,
            "data/licenses.json": '{"licenses": {"mit": {}}}',
            "data/models.json": '{"models": {"m": {"license": "mit"}}}',
            "top.json": '{"flag": true}',
        },
    )
    sources = read_policy_sources(root)
    assert sources.data == {"data": {"licenses": {"mit": {}}, "models": {"m": {"license": "mit"}}}, "flag": True}


def test_version_is_a_content_hash(tmp_path):
    root = write_policy(tmp_path, {"gateway/decision.rego": MINIMAL_DECISION})
    first = read_policy_sources(root).version
    assert first.startswith("sha256:")
    assert read_policy_sources(root).version == first
    (root / "gateway/decision.rego").write_text(MINIMAL_DECISION + "\n# edited\n")
    assert read_policy_sources(root).version != first


def test_editor_leftovers_and_hidden_files_are_ignored(tmp_path):
    root = write_policy(
        tmp_path,
        {
            "gateway/decision.rego": MINIMAL_DECISION,
            "gateway/.#decision.rego": "garbage",
            "gateway/decision.rego~": "garbage",
            ".git/x.json": "garbage",
            "notes.md": "not policy",
        },
    )
    sources = read_policy_sources(root)
    assert [path for path, _ in sources.modules] == ["gateway/decision.rego"]


def test_test_modules_are_kept_apart_from_serving_modules(tmp_path):
    root = write_policy(
        tmp_path,
        {"gateway/decision.rego": MINIMAL_DECISION, "gateway/decision_test.rego": "package gateway_test\n"},
    )
    sources = read_policy_sources(root)
    assert [p for p, _ in sources.policy_modules] == ["gateway/decision.rego"]
    assert len(sources.modules) == 2


def test_invalid_json_is_reported_with_file_and_line(tmp_path):
    root = write_policy(tmp_path, {"gateway/decision.rego": MINIMAL_DECISION, "data/x.json": '{\n  "a": ,\n}'})
    with pytest.raises(PolicyLoadError) as info:
        read_policy_sources(root)
    (problem,) = info.value.problems
    assert (problem.file, problem.line, info.value.kind) == ("data/x.json", 2, "read")


def test_a_key_defined_by_two_data_files_is_refused(tmp_path):
    root = write_policy(
        tmp_path,
        {"gateway/decision.rego": MINIMAL_DECISION, "data/a.json": '{"k": 1}', "data/b.json": '{"k": 2}'},
    )
    with pytest.raises(PolicyLoadError, match=r"data\.data\.k` is defined twice"):
        read_policy_sources(root)


def test_missing_directory_is_refused(tmp_path):
    with pytest.raises(PolicyLoadError, match="does not exist"):
        read_policy_sources(tmp_path / "nope")


def test_directory_without_rego_is_refused(tmp_path):
    root = write_policy(tmp_path, {"data/a.json": "{}"})
    with pytest.raises(PolicyLoadError, match=r"no \.rego files"):
        read_policy_sources(root)

"""Load-time checks: the embedded engine refuses what OPA 1.x refuses."""

from __future__ import annotations

import pytest

from gateway.policy.embedded import compile_policy
from gateway.policy.sources import PolicyLoadError, read_policy_sources
from tests.unit.policy.contexts import MINIMAL_DECISION, write_policy


def _refusal(tmp_path, extra: str) -> PolicyLoadError:
    root = write_policy(tmp_path, {"gateway/decision.rego": MINIMAL_DECISION, "gateway/extra/extra.rego": extra})
    with pytest.raises(PolicyLoadError) as info:
        compile_policy(read_policy_sources(root))
    return info.value


def test_shipped_policy_set_compiles(shipped_policy):
    assert shipped_policy.version.startswith("sha256:")


def test_rego_v0_rule_without_if_is_refused_with_file_and_line(tmp_path):
    error = _refusal(tmp_path, "package gateway.extra\n\nallow {\n  input.x == 1\n}\n")
    (problem,) = error.problems
    assert (problem.file, problem.line) == ("gateway/extra/extra.rego", 3)
    assert "`if` keyword is required" in problem.message


def test_rego_v0_partial_set_without_contains_is_refused(tmp_path):
    error = _refusal(tmp_path, "package gateway.extra\n\ndeny[msg] {\n  msg := input.x\n}\n")
    assert error.problems[0].line == 3


def test_unsafe_variable_is_refused(tmp_path):
    error = _refusal(tmp_path, "package gateway.extra\n\nallow if {\n  x == 1\n}\n")
    (problem,) = error.problems
    assert problem.line == 4
    assert "unsafe" in problem.message


def test_builtins_removed_in_opa_1_are_refused(tmp_path):
    error = _refusal(tmp_path, 'package gateway.extra\n\nallow if re_match("a", input.x)\n')
    assert any("deprecated built-in `re_match`" in p.message for p in error.problems)


def test_two_default_rules_for_one_name_are_refused(tmp_path):
    error = _refusal(tmp_path, "package gateway.extra\n\ndefault allow := false\n\ndefault allow := true\n")
    assert "multiple default rules data.gateway.extra.allow" in str(error)


def test_call_of_an_undefined_function_is_refused(tmp_path):
    error = _refusal(tmp_path, "package gateway.extra\n\nallow if no_such_function(input.x)\n")
    assert "undefined function no_such_function" in str(error)


def test_shadowing_input_is_refused(tmp_path):
    error = _refusal(tmp_path, "package gateway.extra\n\nallow if {\n  input := 1\n  input == 1\n}\n")
    assert "input cannot be shadowed" in str(error)


def test_policy_set_without_a_decision_rule_is_refused(tmp_path):
    root = write_policy(tmp_path, {"gateway/other.rego": "package gateway\n\nallow := true\n"})
    with pytest.raises(PolicyLoadError, match=r"no rule defines data\.gateway\.decision"):
        compile_policy(read_policy_sources(root))


def test_rego_v1_import_is_accepted(tmp_path):
    root = write_policy(
        tmp_path,
        {"gateway/decision.rego": MINIMAL_DECISION.replace("package gateway\n", "package gateway\n\nimport rego.v1\n")},
    )
    assert compile_policy(read_policy_sources(root)).version.startswith("sha256:")


def test_call_with_the_wrong_number_of_arguments_is_refused(tmp_path):
    error = _refusal(tmp_path, "package gateway.extra\n\nf(x) := x\n\ny := f(1, 2, 3)\n")
    assert "f takes 1 arguments, got 3" in str(error)


def test_function_called_with_an_output_argument_is_accepted(tmp_path):
    root = write_policy(
        tmp_path,
        {
            "gateway/decision.rego": MINIMAL_DECISION,
            "gateway/extra/extra.rego": "package gateway.extra\n\nf(x) := x\n\ny if f(1, 1)\n",
        },
    )
    assert compile_policy(read_policy_sources(root)).version.startswith("sha256:")

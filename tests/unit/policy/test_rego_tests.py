"""`gateway policy test` and `gateway policy eval`: the Rego test runner and its CLI functions."""

from __future__ import annotations

import io
import json

from gateway.policy.cli import policy_eval, policy_test
from gateway.policy.sources import read_policy_sources
from gateway.policy.testing import format_report, run_policy_tests
from tests.unit.policy.contexts import MINIMAL_DECISION, POLICIES, write_policy

TESTS = """package gateway_test

import data.gateway

test_allowed_input_is_allowed if {
\tgateway.decision.allow with input as {"allow": true, "backends": []}
}

test_this_one_fails if {
\tgateway.decision.allow with input as {"allow": false, "backends": []}
}

test_errors if {
\tto_number("not a number") == 1
}

todo_test_later if {
\tfalse
}
"""


def _policy_dir(tmp_path, tests: str = TESTS):
    return write_policy(tmp_path, {"gateway/decision.rego": MINIMAL_DECISION, "gateway/decision_test.rego": tests})


def test_shipped_policy_tests_all_pass(shipped_sources):
    report = run_policy_tests(shipped_sources)
    assert report.ok
    assert report.count("PASS") == len(report.outcomes) >= 70


def test_each_test_rule_gets_its_own_outcome_and_with_input_is_honoured(tmp_path):
    report = run_policy_tests(read_policy_sources(_policy_dir(tmp_path)))
    statuses = {o.name: o.status for o in report.outcomes}
    assert statuses == {
        "test_allowed_input_is_allowed": "PASS",
        "test_this_one_fails": "FAIL",
        "test_errors": "ERROR",
        "todo_test_later": "SKIPPED",
    }
    assert not report.ok


def test_report_reads_like_opa_test_verbose(tmp_path):
    report = run_policy_tests(read_policy_sources(_policy_dir(tmp_path)))
    lines = list(format_report(report))
    assert lines[0] == "gateway/decision_test.rego:"
    assert lines[1].startswith("data.gateway_test.test_allowed_input_is_allowed: PASS (")
    assert lines[-5] == "-" * 80
    assert lines[-4:] == ["PASS: 1/4", "FAIL: 1/4", "ERROR: 1/4", "SKIPPED: 1/4"]


def test_run_pattern_selects_tests(tmp_path):
    report = run_policy_tests(read_policy_sources(_policy_dir(tmp_path)), pattern="allowed_input")
    assert [o.name for o in report.outcomes] == ["test_allowed_input_is_allowed"]


def test_policy_test_command_exits_non_zero_on_a_failing_test(tmp_path):
    out = io.StringIO()
    assert policy_test(_policy_dir(tmp_path), out=out) == 1
    assert "data.gateway_test.test_this_one_fails: FAIL" in out.getvalue()


def test_policy_test_command_passes_on_the_shipped_policies():
    out = io.StringIO()
    assert policy_test(POLICIES, out=out) == 0
    assert out.getvalue().rstrip().splitlines()[-1].startswith("PASS: ")


def test_policy_test_command_reports_a_compile_error_with_location(tmp_path):
    root = write_policy(tmp_path, {"gateway/decision.rego": "package gateway\n\ndecision { true }\n"})
    out = io.StringIO()
    assert policy_test(root, out=out) == 2
    assert "gateway/decision.rego:3:" in out.getvalue()


def test_policy_test_command_fails_when_there_are_no_tests(tmp_path):
    root = write_policy(tmp_path, {"gateway/decision.rego": MINIMAL_DECISION})
    out = io.StringIO()
    assert policy_test(root, out=out) == 1
    assert "no tests found" in out.getvalue()


def test_policy_eval_prints_the_decision_with_reasons(tmp_path):
    input_file = tmp_path / "input.json"
    input_file.write_text(
        json.dumps(
            {
                "request": {"id": "r", "endpoint": "chat", "model": "llama-3.1-8b", "estimated_tokens": 10},
                "principal": {
                    "key_id": "k",
                    "tenant": "acme",
                    "roles": ["app"],
                    "attributes": {"commercial": True, "monthly_active_users": 800000000},
                },
                "pii": {"request": {}},
                "backends": [{"name": "gpu", "tags": {"location": "on-prem"}}],
                "model": {"id": "llama-3.1-8b"},
            }
        )
    )
    out = io.StringIO()
    assert policy_eval(input_file, directory=POLICIES, out=out) == 0
    printed = json.loads(out.getvalue())
    assert printed["policy_version"].startswith("sha256:")
    assert printed["decision"]["allow"] is False
    (reason,) = printed["decision"]["reasons"]
    assert reason["code"] == "policy.license.mau_exceeded"
    assert "Llama 3.1 Community License Agreement" in reason["message"]


def test_policy_eval_refuses_an_input_that_is_not_json(tmp_path):
    input_file = tmp_path / "input.json"
    input_file.write_text("{not json")
    out = io.StringIO()
    assert policy_eval(input_file, directory=POLICIES, out=out) == 2
    assert "cannot read input" in out.getvalue()

"""`gateway policy test` and `gateway policy eval`, as plain functions the CLI wires in.

Each takes paths and an output stream and returns the process exit code: 0 success, 1 a
test failed, 2 the policy set or the input could not be used. Nothing here parses argv.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TextIO

from gateway.policy.decision import parse_decision
from gateway.policy.embedded import EmbeddedPolicyEngine, EvaluationError, compile_policy, problem_from_error
from gateway.policy.sources import PolicyLoadError, read_policy_sources
from gateway.policy.testing import format_report, run_policy_tests

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_UNUSABLE = 2


def _report_load_error(exc: PolicyLoadError, out: TextIO) -> int:
    out.write(f"policy set refused ({exc.kind}):\n")
    out.writelines(f"  {problem}\n" for problem in exc.problems)
    return EXIT_UNUSABLE


def policy_test(
    directory: Path = Path("policies"),
    *,
    verbose: bool = True,
    run: str | None = None,
    out: TextIO | None = None,
) -> int:
    """Run every `test_*` rule of the `*_test.rego` files under `directory`, like `opa test -v`.

    `run` keeps only tests whose full name matches the regular expression. Returns 0 when all
    ran tests pass, 1 when one fails or errors (or none was found), 2 when the set does not load.
    """
    out = out or sys.stdout
    try:
        report = run_policy_tests(read_policy_sources(directory), pattern=run)
    except PolicyLoadError as exc:
        return _report_load_error(exc, out)
    for line in format_report(report, verbose=verbose):
        out.write(line + "\n")
    if not report.outcomes:
        return EXIT_FAILED
    return EXIT_OK if report.ok else EXIT_FAILED


def policy_eval(
    input_file: Path,
    *,
    directory: Path = Path("policies"),
    out: TextIO | None = None,
) -> int:
    """Evaluate `data.gateway.decision` for the JSON input in `input_file` (`-` for stdin).

    Prints `{"policy_version": ..., "decision": ...}` with the validated decision (reasons
    included). Returns 0 when a decision was printed, 2 when the input or policy set is unusable.
    """
    out = out or sys.stdout
    try:
        text = sys.stdin.read() if str(input_file) == "-" else input_file.read_text(encoding="utf-8")
        document = json.loads(text)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        out.write(f"cannot read input {input_file}: {exc}\n")
        return EXIT_UNUSABLE
    if not isinstance(document, dict):
        out.write("the input must be a JSON object\n")
        return EXIT_UNUSABLE
    try:
        policy = compile_policy(read_policy_sources(directory))
    except PolicyLoadError as exc:
        return _report_load_error(exc, out)
    engine = EmbeddedPolicyEngine(policy)
    try:
        raw = engine.evaluate(json.dumps(document))
    except EvaluationError as exc:
        out.write(f"evaluation failed: {problem_from_error(exc, str(input_file))}\n")
        return EXIT_UNUSABLE
    decision = parse_decision(raw)
    result = {"policy_version": policy.version, "decision": decision.to_json()}
    out.write(json.dumps(result, indent=2) + "\n")
    return EXIT_OK

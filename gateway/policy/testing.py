"""Running the Rego unit tests of a policy set, as `opa test` does.

A test is a rule named `test_*` in a `*_test.rego` module; it passes when it evaluates to
`true`, fails when it is false or undefined, and errors when evaluation raises. `todo_test_*`
rules are reported as skipped. Tests run on one regorus engine in the calling thread, built with
the same load-time checks as the serving engine, so a set whose tests pass here also loads.
Used by `gateway policy test` and by the hot-reload loader before a version is swapped in.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from gateway.policy.embedded import checked_engine, problem_from_error
from gateway.policy.sources import TEST_SUFFIX, PolicySources, Problem

TestStatus = Literal["PASS", "FAIL", "ERROR", "SKIPPED"]
_RULE = re.compile(r"^(todo_)?test_")


@dataclass(frozen=True, slots=True)
class TestOutcome:
    """The result of one Rego test rule."""

    __test__ = False  # not a pytest class

    file: str
    package: str
    name: str
    status: TestStatus
    duration_ms: float
    message: str = ""

    @property
    def full_name(self) -> str:
        return f"data.{self.package}.{self.name}"


@dataclass(frozen=True, slots=True)
class TestReport:
    """Every test of a policy set, in file order."""

    __test__ = False  # not a pytest class

    outcomes: tuple[TestOutcome, ...]

    def count(self, status: TestStatus) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    @property
    def ok(self) -> bool:
        """True when no test failed or errored (skipped tests do not count against)."""
        return self.count("FAIL") == 0 and self.count("ERROR") == 0

    def failures(self) -> tuple[Problem, ...]:
        """Failed and errored tests as problems, for the loader's status."""
        return tuple(
            Problem(o.file, None, f"{o.full_name}: {o.status}{': ' + o.message if o.message else ''}")
            for o in self.outcomes
            if o.status in {"FAIL", "ERROR"}
        )


def run_policy_tests(sources: PolicySources, *, pattern: str | None = None) -> TestReport:
    """Run the tests of a policy set; raises `PolicyLoadError` if the set does not compile.

    `pattern` (a regular expression) keeps the tests whose full name matches, like `opa test --run`.
    """
    engine, infos = checked_engine(sources, include_tests=True)
    selector = re.compile(pattern) if pattern else None
    outcomes: list[TestOutcome] = []
    for module in infos:
        if not module.file.endswith(TEST_SUFFIX):
            continue
        seen: set[str] = set()
        for head in module.rules:
            if head.kind != "rule" or not _RULE.match(head.name) or head.name in seen:
                continue
            seen.add(head.name)
            full = f"data.{module.package}.{head.name}"
            if selector is not None and not selector.search(full):
                continue
            if head.name.startswith("todo_"):
                outcomes.append(TestOutcome(module.file, module.package, head.name, "SKIPPED", 0.0))
                continue
            started = time.perf_counter()
            try:
                passed = engine.eval_rule_as_json(full).strip() == "true"
            except RuntimeError as exc:
                elapsed = (time.perf_counter() - started) * 1000.0
                problem = problem_from_error(exc, module.file)
                outcomes.append(TestOutcome(module.file, module.package, head.name, "ERROR", elapsed, str(problem)))
                continue
            elapsed = (time.perf_counter() - started) * 1000.0
            status: TestStatus = "PASS" if passed else "FAIL"
            outcomes.append(TestOutcome(module.file, module.package, head.name, status, elapsed))
    return TestReport(tuple(outcomes))


def format_report(report: TestReport, *, verbose: bool = True) -> Iterable[str]:
    """Lines in the shape of `opa test [-v]`: per-file results, a rule, then totals."""
    total = len(report.outcomes)
    current_file: str | None = None
    for outcome in report.outcomes:
        if not verbose and outcome.status in {"PASS", "SKIPPED"}:
            continue
        if outcome.file != current_file:
            if current_file is not None:
                yield ""
            yield f"{outcome.file}:"
            current_file = outcome.file
        line = f"{outcome.full_name}: {outcome.status} ({outcome.duration_ms:.3f}ms)"
        if outcome.status == "ERROR":
            line += f"\n  {outcome.message}"
        yield line
    if current_file is not None:
        yield "-" * 80
    if total == 0:
        yield "no tests found"
        return
    for status in ("PASS", "FAIL", "ERROR", "SKIPPED"):
        n = report.count(status)
        if n:
            yield f"{status}: {n}/{total}"

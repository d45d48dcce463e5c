"""Hot reload: watch a policy directory, check each new version, swap it in or refuse it.

A new version is read, compiled with the load-time checks and (by default) its Rego tests are
run, all in a worker thread; only a version that passes is handed to `on_activate`, on the event
loop thread, in one step. A refused version leaves the last good one serving; the refusal (file,
line, message) is logged, counted in Prometheus and shown by `status()` (for `GET /admin/policy`).
The first load (`load()`) raises instead, so a gateway never starts without a valid policy.
Not here: how a version is evaluated (`embedded.py`, `opa.py`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import anyio
import anyio.to_thread
import structlog
import watchfiles

from gateway.policy import metrics
from gateway.policy.decision import JsonValue
from gateway.policy.embedded import CompiledPolicy, compile_policy
from gateway.policy.sources import PolicyLoadError, PolicySources, Problem, read_policy_sources
from gateway.policy.testing import run_policy_tests

log = structlog.get_logger(__name__)

Outcome = Literal["applied", "unchanged", "refused_read", "refused_compile", "refused_test"]


@dataclass(frozen=True, slots=True)
class ReloadAttempt:
    """What happened the last time the directory was read."""

    at: datetime
    outcome: Outcome
    version: str | None
    problems: tuple[Problem, ...] = ()
    tests_passed: int = 0
    duration_ms: float = 0.0

    @property
    def ok(self) -> bool:
        return self.outcome in {"applied", "unchanged"}

    def to_json(self) -> dict[str, JsonValue]:
        return {
            "at": self.at.isoformat(),
            "outcome": self.outcome,
            "ok": self.ok,
            "version": self.version,
            "errors": [dict(p.to_json()) for p in self.problems],
            "tests_passed": self.tests_passed,
            "duration_ms": round(self.duration_ms, 1),
        }


def check_policy_dir(directory: Path, *, run_tests: bool) -> tuple[CompiledPolicy, int]:
    """Read, compile and test a policy directory (blocking). Returns the policy and tests passed.

    Raises `PolicyLoadError` whose `kind` says which stage refused it.
    """
    sources = read_policy_sources(directory)
    try:
        compiled = compile_policy(sources)
        passed = _passing_tests(sources) if run_tests else 0
    except PolicyLoadError as exc:
        exc.version = sources.version
        raise
    return compiled, passed


def _passing_tests(sources: PolicySources) -> int:
    report = run_policy_tests(sources)
    if not report.ok:
        raise PolicyLoadError(report.failures(), kind="test")
    return report.count("PASS")


class PolicyLoader:
    """Keeps one policy directory's last good version active."""

    def __init__(
        self,
        directory: Path,
        *,
        on_activate: Callable[[CompiledPolicy], None],
        role: Literal["active", "shadow"] = "active",
        run_tests: bool = True,
        debounce_ms: int = 100,
    ) -> None:
        self.directory = directory
        self.role = role
        self._on_activate = on_activate
        self._run_tests = run_tests
        self._debounce_ms = debounce_ms
        self._active: CompiledPolicy | None = None
        self._active_since: datetime | None = None
        self._last: ReloadAttempt | None = None
        self._applied = 0
        self._refused = 0
        self._watching = False
        self._lock = anyio.Lock()

    @property
    def active(self) -> CompiledPolicy | None:
        return self._active

    @property
    def version(self) -> str | None:
        return self._active.version if self._active is not None else None

    @property
    def last_attempt(self) -> ReloadAttempt | None:
        return self._last

    def load(self) -> CompiledPolicy:
        """First load, blocking: raises `PolicyLoadError` so a broken policy stops start-up."""
        started = time.perf_counter()
        try:
            compiled, passed = check_policy_dir(self.directory, run_tests=self._run_tests)
        except PolicyLoadError as exc:
            self._record_refusal(exc, started)
            raise
        self._apply(compiled, passed, started)
        return compiled

    async def reload(self) -> ReloadAttempt:
        """Check the directory now and swap in its version if it is new and good."""
        async with self._lock:
            started = time.perf_counter()
            try:
                compiled, passed = await anyio.to_thread.run_sync(
                    lambda: check_policy_dir(self.directory, run_tests=self._run_tests)
                )
            except PolicyLoadError as exc:
                return self._record_refusal(exc, started)
            if self._active is not None and compiled.version == self._active.version:
                attempt = ReloadAttempt(_now(), "unchanged", compiled.version, tests_passed=passed)
                self._last = attempt
                metrics.RELOADS.labels(self.role, "unchanged").inc()
                metrics.LAST_RELOAD_OK.labels(self.role).set(1)
                return attempt
            return self._apply(compiled, passed, started)

    async def run(self) -> None:
        """Watch the directory until cancelled, reloading after each settled batch of changes."""
        self._watching = True
        log.info("policy.watching", role=self.role, dir=str(self.directory))
        try:
            # awatch waits for its watcher thread on cancellation; a short rust_timeout bounds that
            # wait (the default is 5 s) at the cost of a wake-up twice a second.
            async for _ in watchfiles.awatch(self.directory, debounce=self._debounce_ms, step=50, rust_timeout=500):
                await self.reload()
        finally:
            self._watching = False

    def status(self) -> dict[str, JsonValue]:
        """The loader's state for `GET /admin/policy`."""
        return {
            "role": self.role,
            "dir": str(self.directory),
            "active_version": self.version,
            "active_since": self._active_since.isoformat() if self._active_since else None,
            "watching": self._watching,
            "run_tests_on_reload": self._run_tests,
            "reloads_applied": self._applied,
            "reloads_refused": self._refused,
            "last_attempt": self._last.to_json() if self._last else None,
        }

    def _apply(self, compiled: CompiledPolicy, passed: int, started: float) -> ReloadAttempt:
        previous = self.version
        self._on_activate(compiled)
        self._active = compiled
        self._active_since = _now()
        self._applied += 1
        attempt = ReloadAttempt(
            self._active_since,
            "applied",
            compiled.version,
            tests_passed=passed,
            duration_ms=(time.perf_counter() - started) * 1000.0,
        )
        self._last = attempt
        metrics.RELOADS.labels(self.role, "applied").inc()
        metrics.LAST_RELOAD_OK.labels(self.role).set(1)
        log.info(
            "policy.activated",
            role=self.role,
            dir=str(self.directory),
            version=compiled.version,
            previous_version=previous,
            tests_passed=passed,
            duration_ms=round(attempt.duration_ms, 1),
        )
        return attempt

    def _record_refusal(self, exc: PolicyLoadError, started: float) -> ReloadAttempt:
        outcome = _refusal(exc.kind)
        attempt = ReloadAttempt(
            _now(), outcome, exc.version, exc.problems, duration_ms=(time.perf_counter() - started) * 1000.0
        )
        self._last = attempt
        self._refused += 1
        metrics.RELOADS.labels(self.role, outcome).inc()
        metrics.LAST_RELOAD_OK.labels(self.role).set(0)
        log.error(
            "policy.reload_refused",
            role=self.role,
            dir=str(self.directory),
            stage=exc.kind,
            version=exc.version,
            active_version=self.version,
            errors=[p.to_json() for p in exc.problems],
        )
        return attempt


def _refusal(kind: str) -> Outcome:
    match kind:
        case "read":
            return "refused_read"
        case "test":
            return "refused_test"
    return "refused_compile"


def _now() -> datetime:
    return datetime.now(UTC)

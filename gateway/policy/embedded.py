"""The embedded policy engine: Rego evaluated in-process by regorus.

Why regorus: it evaluates the shipped policy set in a few tenths of a millisecond, agrees with OPA on
the differential test (`tests/integration/test_policy_differential.py`) and needs no server.
Its `Engine` objects may only be used, and released, by the thread that created them (pyo3
`unsendable`), so each evaluating thread builds its own engine from the active
`CompiledPolicy` and rebuilds it when the version changes; swapping versions is one reference
assignment. Regorus's faster `Program`/`Rvm` compiler is not used: it returned decisions that
differ from its own interpreter and from OPA on most generated inputs.

Compilation refuses what OPA 1.x refuses, whichever engine later runs the policy: v0 syntax
and unsafe variables (regorus, Rego v1 mode), plus checks regorus lacks (`regoast.py`):
several `default` rules for one name, built-ins removed in OPA 1.0, calls of functions that
exist nowhere or with the wrong number of arguments. Not here: hot reload (`loader.py`), the
remote OPA engine (`opa.py`).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import json
import queue
import re
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Final

import anyio
import msgspec
import regorus
import structlog

from gateway.errors import PolicyEngineUnavailable
from gateway.policy.decision import UNDEFINED, JsonValue, Undefined, parse_decision
from gateway.policy.engine import PolicyResult
from gateway.policy.metrics import CACHE_HITS as POLICY_CACHE_HITS
from gateway.policy.regoast import ModuleInfo, module_info, static_problems
from gateway.policy.sources import PolicyLoadError, PolicySources, Problem

log = structlog.get_logger(__name__)

DECISION_RULE: Final = "data.gateway.decision"
_UNDEFINED_JSON: Final = '"<undefined>"'
_LOCATION = re.compile(r"-->\s*(?P<file>[^\n]+?):(?P<line>\d+):(?P<col>\d+)")
_ERROR_LINE = re.compile(r"^error:\s*(?P<message>.+)$", re.MULTILINE)


def problem_from_error(exc: BaseException, default_file: str) -> Problem:
    """A located problem from a regorus error (its text carries `--> file:line:col` and `error: ...`)."""
    text = str(exc).split("Stack backtrace:", 1)[0]
    location = _LOCATION.search(text)
    message = _ERROR_LINE.search(text)
    summary = message["message"].strip() if message else (text.strip().splitlines() or ["unknown error"])[0]
    if location:
        return Problem(location["file"].strip(), int(location["line"]), summary)
    return Problem(default_file, None, summary)


@functools.lru_cache(maxsize=512)
def _is_builtin(name: str) -> bool:
    # Regorus has no list of its built-ins; a zero-argument call tells "unknown" from "wrong arity".
    probe = regorus.Engine()
    probe.add_policy("probe.rego", f"package probe\np if {name}()\n")
    try:
        probe.eval_rule("data.probe.p")
    except RuntimeError as exc:
        return "could not find function" not in str(exc)
    return True


def _call_problems(infos: list[ModuleInfo]) -> list[Problem]:
    """Calls of functions that exist nowhere, or with an argument count no definition takes."""
    arities: dict[str, set[int]] = {}
    for module in infos:
        for head in module.rules:
            if head.kind == "function":
                arities.setdefault(head.name, set()).add(head.arity)
    problems: list[Problem] = []
    for module in infos:
        for call in module.calls:
            short = call.name.rsplit(".", 1)[-1]
            if short in arities:
                # A function may also be called with one extra argument that receives its output.
                if not arities[short] & {call.argc, call.argc - 1}:
                    expected = " or ".join(str(n) for n in sorted(arities[short]))
                    problems.append(
                        Problem(module.file, call.line, f"{call.name} takes {expected} arguments, got {call.argc}")
                    )
            elif not _is_builtin(call.name):
                problems.append(Problem(module.file, call.line, f"undefined function {call.name}"))
    return problems


# Regorus engines must be released by the thread that built them (pyo3 `unsendable`). Keeping
# them in a module-level thread-local, rather than on an object that the garbage collector might
# free from any thread, guarantees that: a thread's engines go away when that thread ends.
_PER_THREAD = threading.local()
_ENGINES_PER_THREAD = 4


def thread_engine(policy: CompiledPolicy) -> regorus.Engine:
    """The calling thread's engine for `policy`, built on first use (a few recent versions are kept)."""
    cache: OrderedDict[str, regorus.Engine] | None = getattr(_PER_THREAD, "engines", None)
    if cache is None:
        cache = OrderedDict()
        _PER_THREAD.engines = cache
    engine = cache.get(policy.version)
    if engine is None:
        engine = new_engine(policy.sources.policy_modules, policy.sources.data_json())
        cache[policy.version] = engine
        while len(cache) > _ENGINES_PER_THREAD:
            cache.popitem(last=False)
    else:
        cache.move_to_end(policy.version)
    return engine


def new_engine(modules: tuple[tuple[str, str], ...], data_json: str) -> regorus.Engine:
    """A regorus engine (Rego v1) holding the modules and data, for the calling thread only."""
    engine = regorus.Engine()
    engine.set_rego_v0(False)
    for path, source in modules:
        engine.add_policy(path, source)
    engine.add_data_json(data_json)
    return engine


def checked_engine(sources: PolicySources, *, include_tests: bool) -> tuple[regorus.Engine, list[ModuleInfo]]:
    """Build an engine and run every load-time check; raises `PolicyLoadError` (kind `compile`).

    Engines are bound to their thread (pyo3 `unsendable`): on refusal the engine is released
    here, so the exception's traceback cannot carry it to another thread.
    """
    modules = sources.modules if include_tests else sources.policy_modules
    engine = regorus.Engine()
    engine.set_rego_v0(False)
    problems: list[Problem] = []
    for path, source in modules:
        try:
            engine.add_policy(path, source)
        except RuntimeError as exc:
            problems.append(problem_from_error(exc, path))
    infos: list[ModuleInfo] = []
    if not problems:
        engine.add_data_json(sources.data_json())
        infos = [i for i in map(module_info, json.loads(engine.get_ast_as_json())) if i is not None]
        problems.extend(static_problems(infos))
        problems.extend(_call_problems(infos))
        try:
            # Evaluating anything makes regorus check every module (unsafe variables, shadowing).
            engine.eval_query("true")
        except RuntimeError as exc:
            problems.append(problem_from_error(exc, sources.root))
    if problems:
        del engine
        raise PolicyLoadError(tuple(problems))
    return engine, infos


# Built-ins whose result is not a function of input and data: decisions using them are not cached.
_NONDETERMINISTIC = re.compile(r"\b(time\.now_ns|rand\.|uuid\.|http\.send|net\.lookup|opa\.runtime|crypto\.)")


_REQUEST_ID = re.compile(r"request\s*(\.\s*id\b|\[\s*\"id\")")


@dataclass(frozen=True, slots=True)
class CompiledPolicy:
    """A policy set that passed the load-time checks and defines `data.gateway.decision`."""

    sources: PolicySources

    @property
    def version(self) -> str:
        return self.sources.version

    @property
    def reads_request_id(self) -> bool:
        """True when a module mentions `request.id`; then the id is part of the decision cache key."""
        return any(_REQUEST_ID.search(text) for _, text in self.sources.policy_modules)

    @property
    def is_deterministic(self) -> bool:
        """True when the decision depends only on input and data, so equal inputs may share it."""
        return not any(_NONDETERMINISTIC.search(text) for _, text in self.sources.policy_modules)


def compile_policy(sources: PolicySources) -> CompiledPolicy:
    """Check a policy set for serving; raises `PolicyLoadError` naming file, line and message."""
    engine, infos = checked_engine(sources, include_tests=False)
    del engine  # checked and no longer needed; dropped on the thread that made it
    if not any(m.package == "gateway" and any(r.name == "decision" for r in m.rules) for m in infos):
        raise PolicyLoadError((Problem(sources.root, None, "no rule defines data.gateway.decision"),))
    return CompiledPolicy(sources)


class EvaluationError(Exception):
    """Regorus failed to evaluate (a conflict, a built-in error); the message is regorus's."""


def evaluate_json(engine: regorus.Engine, input_json: str, rule: str = DECISION_RULE) -> JsonValue | Undefined:
    """Evaluate one rule for one input on an engine owned by the calling thread.

    Raises `EvaluationError`, whose traceback holds no reference to the thread-bound engine.
    """
    try:
        engine.set_input_json(input_json)
        raw = engine.eval_rule_as_json(rule)
    except RuntimeError as exc:
        message = str(exc)
        del engine
        raise EvaluationError(message) from None
    if raw == _UNDEFINED_JSON:
        return UNDEFINED
    value: JsonValue = msgspec.json.decode(raw)
    return value


class _EvaluationThreads:
    """Dedicated worker threads for offloaded evaluation; each uses its own thread's engines."""

    def __init__(self, count: int) -> None:
        self._count = count
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def submit(self, policy: CompiledPolicy, input_json: str) -> concurrent.futures.Future[JsonValue | Undefined]:
        with self._lock:
            if not self._threads:
                for i in range(self._count):
                    thread = threading.Thread(target=self._work, name=f"policy-eval-{i}", daemon=True)
                    thread.start()
                    self._threads.append(thread)
        future: concurrent.futures.Future[JsonValue | Undefined] = concurrent.futures.Future()
        self._queue.put(_Job(policy, input_json, future))
        return future

    def close(self, timeout_s: float = 2.0) -> None:
        """Stop the threads and wait (bounded) for them to end and release their engines."""
        with self._lock:
            threads, self._threads = self._threads, []
        for _ in threads:
            self._queue.put(None)
        deadline = time.monotonic() + timeout_s
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def _work(self) -> None:
        while (job := self._queue.get()) is not None:
            if not job.future.set_running_or_notify_cancel():
                continue
            try:
                job.future.set_result(evaluate_json(thread_engine(job.policy), job.input_json))
            except EvaluationError as exc:
                job.future.set_exception(exc)


@dataclass(frozen=True, slots=True)
class _Job:
    policy: CompiledPolicy
    input_json: str
    future: concurrent.futures.Future[JsonValue | Undefined]


class EmbeddedPolicyEngine:
    """`PolicyEngine` running Rego in-process with regorus.

    By default a decision is evaluated on the calling (event loop) thread: it takes a fraction
    of a millisecond, less than a hop to a worker thread. With `offload=True` it runs on `threads`
    dedicated worker threads instead. Either way a decision that took longer than `timeout_s` is
    discarded and reported as unavailable: regorus holds the GIL while evaluating, so a deadline
    cannot interrupt it, only refuse its late answer.
    """

    name = "embedded"

    def __init__(
        self, policy: CompiledPolicy, *, timeout_s: float = 0.5, offload: bool = False, threads: int = 2
    ) -> None:
        self._active = policy
        self._timeout_s = timeout_s
        self._offload = offload
        self._threads = _EvaluationThreads(threads)
        self._cache: OrderedDict[tuple[str, str], JsonValue | Undefined] = OrderedDict()
        self._cacheable = policy.is_deterministic
        self._keep_id = policy.reads_request_id

    @property
    def version(self) -> str:
        return self._active.version

    @property
    def active(self) -> CompiledPolicy:
        return self._active

    def activate(self, policy: CompiledPolicy) -> None:
        """Serve `policy` from the next decision on; calls in flight finish on the old version."""
        self._active = policy
        self._cacheable = policy.is_deterministic
        self._keep_id = policy.reads_request_id
        self._cache.clear()

    def prewarm(self) -> None:
        """Build the calling thread's engine for the active version now rather than on first use."""
        thread_engine(self._active)

    def close(self) -> None:
        """Stop the offload threads (their engines are released by the threads themselves)."""
        self._threads.close()

    def evaluate(self, input_json: str, policy: CompiledPolicy | None = None) -> JsonValue | Undefined:
        """Evaluate `data.gateway.decision` synchronously on this thread (raw document, not validated)."""
        return evaluate_json(thread_engine(policy or self._active), input_json)

    async def decide(self, policy_input: dict[str, JsonValue], /) -> PolicyResult:
        policy = self._active
        payload = msgspec.json.encode(policy_input).decode()
        started = time.perf_counter()
        key = (policy.version, _cache_key(policy_input, keep_id=self._keep_id)) if self._cacheable else None
        if key is not None and key in self._cache:
            self._cache.move_to_end(key)
            cached = self._cache[key]
            POLICY_CACHE_HITS.inc()
            return PolicyResult(
                parse_decision(cached), policy.version, self.name, (time.perf_counter() - started) * 1000
            )
        try:
            if self._offload:
                with anyio.fail_after(self._timeout_s):
                    value = await asyncio.wrap_future(self._threads.submit(policy, payload))
            else:
                value = self.evaluate(payload, policy)
        except EvaluationError as exc:
            problem = problem_from_error(exc, "(evaluation)")
            log.error(  # noqa: TRY400 - the located problem is the useful part, not the traceback
                "policy.engine_error",
                engine=self.name,
                policy_version=policy.version,
                file=problem.file,
                line=problem.line,
                error=problem.message[:200],
            )
            raise PolicyEngineUnavailable("The policy engine failed to evaluate the request.") from exc
        except TimeoutError:
            value = None  # reported below, like a late answer
        elapsed_ms = (time.perf_counter() - started) * 1000.0
        if elapsed_ms > self._timeout_s * 1000.0:
            # Regorus holds the GIL while it evaluates, so a deadline can only be checked once it
            # returns; a late decision is discarded like one that never came.
            log.error("policy.engine_timeout", engine=self.name, timeout_s=self._timeout_s, eval_ms=elapsed_ms)
            raise PolicyEngineUnavailable("The policy engine did not answer in time.")
        if key is not None:
            self._cache[key] = value
            if len(self._cache) > _CACHE_SIZE:
                self._cache.popitem(last=False)
        return PolicyResult(parse_decision(value), policy.version, self.name, elapsed_ms)


_CACHE_SIZE = 4096


def _cache_key(policy_input: dict[str, JsonValue], *, keep_id: bool) -> str:
    """The input without the request id (unless a rule reads it), so equal calls share a decision."""
    request = policy_input.get("request")
    if not keep_id and isinstance(request, dict) and "id" in request:
        policy_input = {**policy_input, "request": {k: v for k, v in request.items() if k != "id"}}
    return msgspec.json.encode(policy_input, order="sorted").decode()

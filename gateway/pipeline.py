"""The governance pipeline: a context, the step protocol and the loop that runs steps in order.

Nothing else lives here. Which steps run, and in which order, is decided in `app.py`; what
each step does lives in its concern's package (auth, ratelimit, pii, policy, audit). A step
takes a context and returns a new one; denial is data (`Context.denial`), exceptions are for
failures. Steps know nothing about HTTP.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal, Protocol

from gateway.auth import Principal
from gateway.errors import ClientError, GatewayError

Endpoint = Literal["chat", "completion", "embedding"]
StoreContent = Literal["redacted", "none", "full"]


@dataclass(frozen=True, slots=True)
class CallRequest:
    """One front-API call as the client sent it, decoded and validated."""

    request_id: str
    endpoint: Endpoint
    requested_model: str
    """The model name the client asked for (maybe an alias)."""
    model: str
    """The canonical model id after alias resolution."""
    body: Mapping[str, Any]
    """The decoded JSON body, untouched. Never logged."""
    stream: bool = False
    client_addr: str | None = None
    user_agent: str | None = None

    @property
    def max_tokens(self) -> int | None:
        value = self.body.get("max_completion_tokens", self.body.get("max_tokens"))
        return value if isinstance(value, int) and not isinstance(value, bool) else None


@dataclass(frozen=True, slots=True)
class Usage:
    """Token usage of one call; `estimated` when the backend did not report it."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    estimated: bool = False

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True, slots=True)
class Context:
    """Everything the pipeline knows about one call. Steps return updated copies."""

    request: CallRequest
    principal: Principal
    body: Mapping[str, Any]
    """The body that will be forwarded: starts as the client's, steps may replace it (redaction)."""
    backends: tuple[str, ...]
    """Candidate backend names for the model, narrowed by policy."""
    denial: ClientError | None = None
    reasons: tuple[str, ...] = ()
    """Reason codes collected on the way (also for allowed calls, e.g. `pii.redacted`)."""
    policy_version: str | None = None
    pii_actions: Mapping[str, str] = field(default_factory=dict)
    """Entity type -> action (mask | pseudonymize | hash | block) decided for this call."""
    pii_counts: Mapping[str, int] = field(default_factory=dict)
    """Entity type -> count found in the prompt (never values)."""
    store_content: StoreContent = "redacted"
    max_tokens_cap: int | None = None
    extras: Mapping[str, Any] = field(default_factory=dict)
    """Per-call state owned by one step and read by its own finisher (e.g. a restore map)."""
    timings_ms: dict[str, float] = field(default_factory=dict)
    """Latency per step, filled by `run`; the one mutable part, owned by this call."""

    @property
    def is_final(self) -> bool:
        """True once a step denied the call; later steps do not run."""
        return self.denial is not None

    def deny(self, error: ClientError, *reasons: str) -> Context:
        return replace(self, denial=error, reasons=(*self.reasons, *reasons, error.code))

    def with_extra(self, key: str, value: Any) -> Context:
        return replace(self, extras={**self.extras, key: value})


@dataclass(frozen=True, slots=True)
class Outcome:
    """How a call ended, handed to finishers (audit, token settlement)."""

    status_code: int
    error: GatewayError | None = None
    backend: str | None = None
    usage: Usage | None = None
    response_pii_counts: Mapping[str, int] = field(default_factory=dict)
    answer_text: str | None = None
    """The answer as the client's content store should see it (already redacted); may be None."""
    upstream_ms: float | None = None
    total_ms: float | None = None


class Step(Protocol):
    """One governance step: read the context, return it (updated)."""

    @property
    def name(self) -> str:
        """Stable dotted name, used for per-step latency in logs, metrics and the audit log."""
        ...

    async def __call__(self, ctx: Context, /) -> Context: ...


class Finisher(Protocol):
    """Runs after every call, allowed or not (audit's response event, token settlement)."""

    async def finish(self, ctx: Context, outcome: Outcome, /) -> None: ...


async def run(steps: Sequence[Step], ctx: Context) -> Context:
    """Run steps in order until one denies; record each step's latency in `ctx.timings_ms`."""
    for step in steps:
        if ctx.is_final:
            break
        started = time.perf_counter()
        ctx = await step(ctx)
        ctx.timings_ms[step.name] = (time.perf_counter() - started) * 1000.0
    return ctx

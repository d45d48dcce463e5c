"""Audit events as plain values, and the pure functions that build them from a call.

An event is shaped after OPA's decision log: who asked (tenant, key id, roles), what
(endpoint, model, masked input as `content`), the result (decision, reasons, PII actions,
status), the policy revision, and latency metrics. Building one is pure: the caller passes
the clock reading and the event id, so these functions are tested without a database.

This module decides *what* is recorded; it does not hash (`chain.py`) or store
(`writer.py`). Values are clipped to their column sizes and stripped of NUL characters
here, so a hostile header cannot make a batch fail at the database.
"""

from __future__ import annotations

import hashlib
import json
import math
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Literal

from gateway.errors import PolicyDenied
from gateway.pipeline import Context, Outcome

EventType = Literal["request", "response", "denied", "error", "purge"]
Decision = Literal["allow", "deny"]
Direction = Literal["request", "response"]

EVENT_TYPES: tuple[EventType, ...] = ("request", "response", "denied", "error", "purge")
OUTCOME_EVENT_TYPES: tuple[EventType, ...] = ("response", "denied", "error")
"""Exactly one of these ends every call, so counting them counts calls."""

JsonObject = Mapping[str, object]

# Column sizes (models.py uses the same numbers).
LEN_ID = 64
LEN_NAME = 128
LEN_MODEL = 256
LEN_ENDPOINT = 32
LEN_ADDR = 64
LEN_USER_AGENT = 512
LEN_VERSION = 32
LEN_CODE = 64


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """One audit event before it joins a hash chain.

    `content` is what the log keeps of the prompt or answer (already redacted), or None.
    `content_hash` is its SHA-256, kept even after a retention purge drops the content.
    """

    event_id: str
    event_type: EventType
    occurred_at: datetime
    """UTC, microsecond precision."""
    request_id: str
    gateway_version: str
    tenant: str | None = None
    key_id: str | None = None
    roles: tuple[str, ...] = ()
    endpoint: str | None = None
    requested_model: str | None = None
    model: str | None = None
    backend: str | None = None
    stream: bool | None = None
    decision: Decision | None = None
    """`allow`, `deny`, or None when the call failed before a decision was reached."""
    reasons: tuple[str, ...] = ()
    pii_actions: Mapping[str, str] = field(default_factory=dict)
    policy_version: str | None = None
    pii_request: Mapping[str, int] = field(default_factory=dict)
    """Entity type -> count found in the prompt. Never values."""
    pii_response: Mapping[str, int] = field(default_factory=dict)
    """Entity type -> count found in the answer. Never values."""
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    tokens_estimated: bool | None = None
    latency_ms: Mapping[str, float] = field(default_factory=dict)
    status_code: int | None = None
    error_code: str | None = None
    client_addr: str | None = None
    user_agent: str | None = None
    details: Mapping[str, str] = field(default_factory=dict)
    """Event-specific facts, e.g. a purge's cutoff. Never content."""
    content: JsonObject | None = None
    content_hash: str | None = None

    @property
    def pii_index(self) -> tuple[tuple[Direction, str, int], ...]:
        """The (direction, entity type, count) rows this event adds to the PII search index."""
        rows: list[tuple[Direction, str, int]] = [("request", t, n) for t, n in sorted(self.pii_request.items())]
        rows.extend(("response", t, n) for t, n in sorted(self.pii_response.items()))
        return tuple(rows)


# One encoder for every call: `json.dumps` with options builds a new one each time.
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def canonical_json(value: object) -> bytes:
    """The one byte encoding that is hashed: sorted keys, no spaces, UTF-8, no NaN.

    Raises ValueError for values JSON cannot carry exactly (NaN, infinities).
    """
    return _CANONICAL.encode(value).encode()


def sha256_hex(data: bytes) -> str:
    """Lower-case hex SHA-256."""
    return hashlib.sha256(data).hexdigest()


def uuid7(now: datetime, random_bytes: bytes) -> str:
    """A UUIDv7 (RFC 9562) string: time-ordered, so ids sort roughly by event time.

    `random_bytes` must be 10 bytes from a CSPRNG (the caller passes `os.urandom(10)`).
    """
    millis = int(now.timestamp() * 1000) & ((1 << 48) - 1)
    rand = int.from_bytes(random_bytes[:10].rjust(10, b"\0"), "big")
    rand_a, rand_b = (rand >> 62) & 0xFFF, rand & ((1 << 62) - 1)
    value = (millis << 80) | (0x7 << 76) | (rand_a << 64) | (0b10 << 62) | rand_b
    return str(uuid.UUID(int=value))


def format_time(moment: datetime) -> str:
    """ISO 8601 in UTC with microseconds and a `Z`: the form that is hashed and exported."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _clip(value: str | None, limit: int) -> str | None:
    if value is None:
        return None
    return value.replace("\x00", "\ufffd")[:limit]


def _counts(counts: Mapping[str, int]) -> dict[str, int]:
    return {str(_clip(k, LEN_NAME)): int(v) for k, v in sorted(counts.items()) if int(v) > 0}


def _latencies(timings: Mapping[str, float]) -> dict[str, float]:
    return {str(_clip(k, LEN_NAME)): round(float(v), 3) for k, v in timings.items() if math.isfinite(v)}


def _effective_storage(ctx: Context, configured: str) -> bool:
    """Whether content may be kept: settings and the per-call policy must both allow it."""
    return configured != "none" and ctx.store_content != "none"


def _with_content(event: AuditEvent, content: JsonObject | None) -> AuditEvent:
    if content is None:
        return event
    try:
        encoded = canonical_json(content)
    except (TypeError, ValueError):
        details = {**event.details, "content": "not_json_encodable"}
        return replace(event, details=details)
    # Store the decoded canonical form, so what is read back hashes to the same digest.
    stored: JsonObject = json.loads(encoded)
    return replace(event, content=stored, content_hash=sha256_hex(encoded))


def _base(ctx: Context, *, event_id: str, event_type: EventType, now: datetime, gateway_version: str) -> AuditEvent:
    request = ctx.request
    principal = ctx.principal
    return AuditEvent(
        event_id=event_id,
        event_type=event_type,
        occurred_at=now.astimezone(UTC),
        request_id=str(_clip(request.request_id, LEN_NAME)),
        gateway_version=str(_clip(gateway_version, LEN_VERSION)),
        tenant=_clip(principal.tenant, LEN_NAME),
        key_id=_clip(principal.key_id, LEN_ID),
        roles=tuple(sorted(principal.roles)),
        endpoint=_clip(request.endpoint, LEN_ENDPOINT),
        # Empty when the call was refused before its model was known (a malformed body).
        requested_model=_clip(request.requested_model or None, LEN_MODEL),
        model=_clip(request.model or None, LEN_MODEL),
        stream=request.stream,
        reasons=tuple(str(_clip(r, LEN_NAME)) for r in ctx.reasons),
        # What was done to each type found in the prompt, not the whole table of defaults.
        pii_actions={
            str(_clip(k, LEN_NAME)): str(_clip(v, LEN_NAME))
            for k, v in sorted(ctx.pii_actions.items())
            if ctx.pii_counts.get(k)
        },
        policy_version=_clip(ctx.policy_version, LEN_NAME),
        pii_request=_counts(ctx.pii_counts),
        latency_ms=_latencies(ctx.timings_ms),
        client_addr=_clip(request.client_addr, LEN_ADDR),
        user_agent=_clip(request.user_agent, LEN_USER_AGENT),
    )


def request_event(
    ctx: Context, *, event_id: str, now: datetime, gateway_version: str, store_content: str
) -> AuditEvent:
    """The `request` event: the call as allowed by policy, with the redacted body it forwards.

    Call only after the policy allowed the call and the PII step redacted `ctx.body`.
    """
    event = replace(
        _base(ctx, event_id=event_id, event_type="request", now=now, gateway_version=gateway_version),
        decision="allow",
    )
    content = {"request": dict(ctx.body)} if _effective_storage(ctx, store_content) else None
    return _with_content(event, content)


def outcome_event_type(ctx: Context, outcome: Outcome) -> EventType:
    """`denied` when a step refused the call, `error` when it failed, else `response`."""
    if ctx.is_final:
        return "denied"
    if outcome.error is not None or outcome.status_code >= 400:
        return "error"
    return "response"


def outcome_event(
    ctx: Context,
    outcome: Outcome,
    *,
    event_id: str,
    now: datetime,
    gateway_version: str,
    store_content: str,
    allowed: bool,
) -> AuditEvent:
    """The event that ends a call: `response`, `denied` or `error`.

    `allowed` says whether the policy allowed the call (its request event was written); a
    call that failed before that has no decision. Only the answer is kept as content: a
    denied or failed call's body may still hold unredacted PII, so it is never stored here.
    """
    event_type = outcome_event_type(ctx, outcome)
    decision: Decision | None = "deny" if ctx.is_final else ("allow" if allowed else None)
    if ctx.denial is not None:
        error_code: str | None = ctx.denial.code
    elif outcome.error is not None:
        error_code = outcome.error.code
    else:
        error_code = None
    latency = dict(ctx.timings_ms)
    if outcome.upstream_ms is not None:
        latency["upstream"] = outcome.upstream_ms
    if outcome.total_ms is not None:
        latency["total"] = outcome.total_ms
    usage = outcome.usage
    base = _base(ctx, event_id=event_id, event_type=event_type, now=now, gateway_version=gateway_version)
    if isinstance(ctx.denial, PolicyDenied):
        # The policy's own reasons, in case the step that denied did not copy them to the context.
        extra = tuple(str(_clip(r, LEN_NAME)) for r in ctx.denial.reasons if r not in base.reasons)
        base = replace(base, reasons=(*base.reasons, *extra))
    event = replace(
        base,
        decision=decision,
        backend=_clip(outcome.backend, LEN_NAME),
        pii_response=_counts(outcome.response_pii_counts),
        prompt_tokens=usage.prompt_tokens if usage else None,
        completion_tokens=usage.completion_tokens if usage else None,
        tokens_estimated=usage.estimated if usage else None,
        latency_ms=_latencies(latency),
        status_code=outcome.status_code,
        error_code=_clip(error_code, LEN_CODE),
    )
    keep = _effective_storage(ctx, store_content) and outcome.answer_text is not None and not ctx.is_final
    return _with_content(event, {"answer": outcome.answer_text} if keep else None)


def purge_event(
    *, event_id: str, request_id: str, now: datetime, gateway_version: str, older_than: datetime, actor: str
) -> AuditEvent:
    """The event a retention purge writes before it drops content older than `older_than`."""
    return AuditEvent(
        event_id=event_id,
        event_type="purge",
        occurred_at=now.astimezone(UTC),
        request_id=request_id,
        gateway_version=str(_clip(gateway_version, LEN_VERSION)),
        details={"action": "purge-content", "older_than": format_time(older_than), "actor": str(_clip(actor, 128))},
    )


def event_fields(event: AuditEvent) -> dict[str, object]:
    """The event's own fields as plain values: the shared part of a database row and an export line.

    `occurred_at` stays a datetime and `content` is left out; each caller adds its chain position
    and renders what its format needs. (The chain hash keeps its own explicit field list.)
    """
    return {
        "event_id": event.event_id,
        "event_type": event.event_type,
        "occurred_at": event.occurred_at,
        "request_id": event.request_id,
        "gateway_version": event.gateway_version,
        "tenant": event.tenant,
        "key_id": event.key_id,
        "roles": list(event.roles),
        "endpoint": event.endpoint,
        "requested_model": event.requested_model,
        "model": event.model,
        "backend": event.backend,
        "stream": event.stream,
        "decision": event.decision,
        "reasons": list(event.reasons),
        "pii_actions": dict(event.pii_actions),
        "policy_version": event.policy_version,
        "pii_request": dict(event.pii_request),
        "pii_response": dict(event.pii_response),
        "prompt_tokens": event.prompt_tokens,
        "completion_tokens": event.completion_tokens,
        "tokens_estimated": event.tokens_estimated,
        "latency_ms": dict(event.latency_ms),
        "status_code": event.status_code,
        "error_code": event.error_code,
        "client_addr": event.client_addr,
        "user_agent": event.user_agent,
        "details": dict(event.details),
        "content_hash": event.content_hash,
    }

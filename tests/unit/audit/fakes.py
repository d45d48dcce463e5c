"""Builders for audit tests: calls as the pipeline sees them, events, and an in-memory AuditLog."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from gateway.audit.record import AuditEvent, request_event, uuid7
from gateway.auth import Principal
from gateway.errors import AuditUnavailable
from gateway.pipeline import CallRequest, Context

T0 = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)

RAW_BODY: dict[str, Any] = {
    "model": "llama-3.1-8b",
    "messages": [{"role": "user", "content": "Mail jane.doe@example.com about the merger"}],
}
REDACTED_BODY: dict[str, Any] = {
    "model": "llama-3.1-8b",
    "messages": [{"role": "user", "content": "Mail <EMAIL_ADDRESS> about the merger"}],
}


def make_context(
    *,
    request_id: str = "req-1",
    tenant: str = "acme",
    key_id: str = "key_0123456789ab",
    body: Mapping[str, Any] = REDACTED_BODY,
    pii_counts: Mapping[str, int] | None = None,
    stream: bool = False,
    **changes: Any,
) -> Context:
    request = CallRequest(
        request_id=request_id,
        endpoint="chat",
        requested_model="gpt-4o-mini",
        model="llama-3.1-8b",
        body=RAW_BODY,
        stream=stream,
        client_addr="10.0.0.7",
        user_agent="OpenAI/Python 1.40.0",
    )
    principal = Principal(key_id=key_id, tenant=tenant, roles=frozenset({"app"}))
    ctx = Context(
        request=request,
        principal=principal,
        body=body,
        backends=("vllm-a", "vllm-b"),
        reasons=("pii.redacted",),
        policy_version="rev-42",
        pii_actions={"EMAIL_ADDRESS": "mask"},
        pii_counts={"EMAIL_ADDRESS": 1} if pii_counts is None else pii_counts,
        timings_ms={"auth": 0.1234, "pii": 2.5, "policy": 0.75},
    )
    return replace(ctx, **changes) if changes else ctx


def make_event(n: int, *, at: datetime | None = None, **changes: Any) -> AuditEvent:
    """The n-th request event of a test chain, one second apart."""
    moment = at or T0 + timedelta(seconds=n)
    ctx = make_context(request_id=f"req-{n}", pii_counts={"EMAIL_ADDRESS": n % 3} if n % 2 else {})
    event = request_event(
        ctx, event_id=uuid7(moment, os.urandom(10)), now=moment, gateway_version="0.1.0", store_content="redacted"
    )
    return replace(event, **changes) if changes else event


class RecordingAuditLog:
    """An AuditLog that keeps events in a list; `fail` makes every append raise AuditUnavailable."""

    def __init__(self, *, fail: bool = False) -> None:
        self.events: list[AuditEvent] = []
        self.waits: list[bool] = []
        self.fail = fail

    @property
    def chain_id(self) -> str:
        return "test-chain"

    async def append(self, event: AuditEvent, /, *, wait: bool) -> None:
        self.waits.append(wait)
        if self.fail:
            raise AuditUnavailable("audit log unavailable (database error)")
        self.events.append(event)

"""The audit log in the pipeline: a step that records the allowed call, a finisher that records its end.

`AuditRequest` runs after the policy decision and the PII redaction: it appends the `request`
event (with the redacted body it is about to forward) and, in strict mode, returns only once
that event is committed, so nothing is forwarded without a durable record. If the database is
unreachable it raises `AuditUnavailable` (503) and the call stops there.

`AuditFinisher` runs after every call and appends exactly one outcome event: `response`,
`denied` or `error`. In strict mode it returns only once the event is committed; a
`response` event that cannot be committed raises `AuditUnavailable`, so the gateway can refuse
to acknowledge a call that has no record. Denied and failed calls already end in an error, so
a failure to record them is logged (the event stays queued and is retried).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import structlog

import gateway
from gateway.audit.record import outcome_event, request_event, uuid7
from gateway.audit.settings import AuditSettings
from gateway.audit.writer import AuditLog
from gateway.errors import AuditUnavailable
from gateway.pipeline import Context, Outcome

log = structlog.get_logger(__name__)

AUDIT_EXTRA = "audit"
"""Key of the `AuditMark` this step leaves in `Context.extras` for the finisher."""


@dataclass(frozen=True, slots=True)
class AuditMark:
    """What the step recorded for this call."""

    event_id: str
    event_type: str


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _new_event_id(now: datetime) -> str:
    return uuid7(now, os.urandom(10))


# Not frozen: `Step.name` is declared as a settable attribute in the protocol.
@dataclass(slots=True)
class AuditRequest:
    """Step: record the call as allowed (the `request` event) before it is forwarded."""

    log: AuditLog
    settings: AuditSettings
    clock: Callable[[], datetime] = field(default=_utc_now)
    gateway_version: str = gateway.__version__
    name: str = "audit"

    async def __call__(self, ctx: Context, /) -> Context:
        now = self.clock()
        event_id = _new_event_id(now)
        if ctx.is_final:
            # The pipeline normally stops before this step on a denial; if it is run anyway,
            # the denial is recorded here and the finisher does not record it twice.
            denial = ctx.denial
            status = denial.status_code if denial is not None else 403
            event = outcome_event(
                ctx,
                Outcome(status_code=status, error=denial),
                event_id=event_id,
                now=now,
                gateway_version=self.gateway_version,
                store_content=self.settings.store_content,
                allowed=False,
            )
        else:
            event = request_event(
                ctx,
                event_id=event_id,
                now=now,
                gateway_version=self.gateway_version,
                store_content=self.settings.store_content,
            )
        await self.log.append(event, wait=self.settings.mode == "strict")
        return ctx.with_extra(AUDIT_EXTRA, AuditMark(event.event_id, event.event_type))


@dataclass(frozen=True, slots=True)
class AuditFinisher:
    """Finisher: record how the call ended (`response`, `denied` or `error`)."""

    log: AuditLog
    settings: AuditSettings
    clock: Callable[[], datetime] = field(default=_utc_now)
    gateway_version: str = gateway.__version__

    async def finish(self, ctx: Context, outcome: Outcome, /) -> None:
        mark = ctx.extras.get(AUDIT_EXTRA)
        if isinstance(mark, AuditMark) and mark.event_type == "denied":
            return
        now = self.clock()
        event = outcome_event(
            ctx,
            outcome,
            event_id=_new_event_id(now),
            now=now,
            gateway_version=self.gateway_version,
            store_content=self.settings.store_content,
            allowed=isinstance(mark, AuditMark) and mark.event_type == "request",
        )
        try:
            await self.log.append(event, wait=self.settings.mode == "strict")
        except AuditUnavailable:
            if event.event_type == "response":
                raise
            log.warning(
                "audit.outcome_not_committed",
                request_id=event.request_id,
                event_id=event.event_id,
                event_type=event.event_type,
            )

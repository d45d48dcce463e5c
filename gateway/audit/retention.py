"""Retention: drop the content of old events, keep the events, their hashes and the chain.

The purge is itself audited: it first appends a `purge` event (cutoff, who ran it) and waits
for it to commit, then sets `content` to NULL on older events in small batches. Because the
chain hashes each event's `content_hash`, not its content, every chain still verifies; the
verifier accepts missing content only for events older than a recorded purge's cutoff. This
is the one write path besides the writer, and the only UPDATE the database triggers allow.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime

import structlog
from sqlalchemy import null, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

import gateway
from gateway.audit.models import AuditEventRow
from gateway.audit.record import purge_event, uuid7
from gateway.audit.writer import AuditLog

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class PurgeResult:
    """What a purge did: its cutoff, the event recording it and how many events lost content."""

    older_than: datetime
    event_id: str
    purged: int


async def purge_content(
    engine: AsyncEngine,
    audit_log: AuditLog,
    *,
    older_than: datetime,
    actor: str,
    now: datetime | None = None,
    batch_size: int = 1000,
    gateway_version: str = gateway.__version__,
) -> PurgeResult:
    """Drop the content of events that occurred before `older_than`.

    Raises ValueError if `older_than` is in the future, and `AuditUnavailable` if the purge
    event cannot be committed (then nothing is purged).
    """
    now = now or datetime.now(UTC)
    cutoff = older_than.astimezone(UTC)
    if cutoff > now:
        raise ValueError("the purge cutoff lies in the future")
    event_id = uuid7(now, os.urandom(10))
    event = purge_event(
        event_id=event_id,
        request_id=f"purge-{event_id}",
        now=now,
        gateway_version=gateway_version,
        older_than=cutoff,
        actor=actor,
    )
    await audit_log.append(event, wait=True)
    t = AuditEventRow
    purged = 0
    while True:
        batch = select(t.id).where(t.occurred_at < cutoff, t.content.is_not(None)).limit(batch_size).scalar_subquery()
        async with engine.begin() as conn:
            result = await conn.execute(update(t).where(t.id.in_(batch)).values(content=null()))
        purged += result.rowcount
        if result.rowcount < batch_size:
            break
    log.info("audit.content_purged", event_id=event_id, older_than=cutoff.isoformat(), events=purged)
    return PurgeResult(cutoff, event_id, purged)

"""Reading the audit log: search with cursor pagination, single events, streamed export, stats.

`AuditStore` is the read side officers use, through the HTTP API (`gateway/api/audit.py`) and
the CLI (`gateway/audit/cli.py`). Every read walks keyset batches (`WHERE id > last ORDER BY
id LIMIT n`), one short transaction per batch, so exporting millions of events holds one
batch in memory and never keeps a long transaction open. It never writes; the writer and the
retention purge are the only write paths.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, cast

from sqlalchemy import ColumnElement, Select, and_, exists, func, select
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.audit.chain import ChainLink, StoredEvent
from gateway.audit.models import AuditEventPiiRow, AuditEventRow
from gateway.audit.record import OUTCOME_EVENT_TYPES, AuditEvent, Decision, EventType

StatsDimension = Literal["tenant", "model", "backend", "key_id", "decision", "event_type", "status", "pii_type"]
STATS_DIMENSIONS: tuple[StatsDimension, ...] = (
    "tenant",
    "model",
    "backend",
    "key_id",
    "decision",
    "event_type",
    "status",
    "pii_type",
)
Bucket = Literal["minute", "hour", "day"]
BUCKETS: tuple[Bucket, ...] = ("minute", "hour", "day")

MAX_PAGE_SIZE = 1000


class InvalidCursor(ValueError):
    """A pagination cursor that this store did not hand out."""


@dataclass(frozen=True, slots=True)
class EventFilter:
    """Which events to read. `since` is inclusive, `until` exclusive; None means no bound."""

    since: datetime | None = None
    until: datetime | None = None
    tenant: str | None = None
    key_id: str | None = None
    model: str | None = None
    backend: str | None = None
    decision: Decision | None = None
    event_type: EventType | None = None
    pii_type: str | None = None
    """Events whose prompt or answer held this entity type (e.g. `EMAIL_ADDRESS`)."""
    status: int | None = None
    request_id: str | None = None
    chain_id: str | None = None


@dataclass(frozen=True, slots=True)
class EventPage:
    """One page of search results, newest first; pass `next_cursor` back for the next page."""

    events: tuple[StoredEvent, ...]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class StatsRow:
    """Calls (outcome events) in one time bucket for one value of the dimension."""

    bucket: datetime
    key: str | None
    events: int
    entities: int | None = None
    """For `pii_type`: how many entities of that type were found in those calls."""


def encode_cursor(row_id: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"before": row_id}).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    """The row id a cursor points before. Raises `InvalidCursor`."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value = json.loads(base64.urlsafe_b64decode(padded.encode()))["before"]
    except (binascii.Error, ValueError, KeyError, TypeError) as exc:
        raise InvalidCursor("invalid cursor") from exc
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise InvalidCursor("invalid cursor")
    return value


def as_utc(moment: datetime) -> datetime:
    """Aware UTC datetime; SQLite hands back naive datetimes, which are UTC by construction."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def stored_event(row: Row[Any] | AuditEventRow) -> StoredEvent:
    """An `audit_events` row as a `StoredEvent` (the form the chain verifier and the API use)."""
    event = AuditEvent(
        event_id=row.event_id,
        # Taken as stored, unchecked: a tampered value must reach the verifier unchanged.
        event_type=cast("EventType", row.event_type),
        occurred_at=as_utc(row.occurred_at),
        request_id=row.request_id,
        gateway_version=row.gateway_version,
        tenant=row.tenant,
        key_id=row.key_id,
        roles=tuple(row.roles or ()),
        endpoint=row.endpoint,
        requested_model=row.requested_model,
        model=row.model,
        backend=row.backend,
        stream=row.stream,
        decision=cast("Decision | None", row.decision),
        reasons=tuple(row.reasons or ()),
        pii_actions=row.pii_actions or {},
        policy_version=row.policy_version,
        pii_request=row.pii_request or {},
        pii_response=row.pii_response or {},
        prompt_tokens=row.prompt_tokens,
        completion_tokens=row.completion_tokens,
        tokens_estimated=row.tokens_estimated,
        latency_ms=row.latency_ms or {},
        status_code=row.status_code,
        error_code=row.error_code,
        client_addr=row.client_addr,
        user_agent=row.user_agent,
        details=row.details or {},
        content=row.content,
        content_hash=row.content_hash,
    )
    return StoredEvent(row.id, event, ChainLink(row.chain_id, row.seq, row.prev_hash, row.hash))


def _conditions(filters: EventFilter) -> list[ColumnElement[bool]]:
    t = AuditEventRow
    conds: list[ColumnElement[bool]] = []
    if filters.since is not None:
        conds.append(t.occurred_at >= as_utc(filters.since))
    if filters.until is not None:
        conds.append(t.occurred_at < as_utc(filters.until))
    for column, value in (
        (t.tenant, filters.tenant),
        (t.key_id, filters.key_id),
        (t.model, filters.model),
        (t.backend, filters.backend),
        (t.decision, filters.decision),
        (t.event_type, filters.event_type),
        (t.status_code, filters.status),
        (t.request_id, filters.request_id),
        (t.chain_id, filters.chain_id),
    ):
        if value is not None:
            conds.append(column == value)
    if filters.pii_type is not None:
        p = AuditEventPiiRow
        conds.append(exists().where(and_(p.event_id == t.event_id, p.entity_type == filters.pii_type)))
    return conds


class AuditStore:
    """Read access to the audit log (the `audit_store` dependency of the officer API).

    Holds the app's engine; build one per process and share it: `AuditStore(engine)`.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    @property
    def engine(self) -> AsyncEngine:
        return self._engine

    async def search(self, filters: EventFilter, *, limit: int = 100, cursor: str | None = None) -> EventPage:
        """Events matching `filters`, newest first. Raises `InvalidCursor` for a bad cursor."""
        limit = max(1, min(limit, MAX_PAGE_SIZE))
        stmt = select(AuditEventRow).where(*_conditions(filters))
        if cursor is not None:
            stmt = stmt.where(AuditEventRow.id < decode_cursor(cursor))
        stmt = stmt.order_by(AuditEventRow.id.desc()).limit(limit + 1)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(stmt)).all()
        events = tuple(stored_event(r) for r in rows[:limit])
        next_cursor = encode_cursor(events[-1].row_id) if len(rows) > limit else None
        return EventPage(events, next_cursor)

    async def get(self, event_id: str) -> StoredEvent | None:
        """One event by its id, or None."""
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(AuditEventRow).where(AuditEventRow.event_id == event_id))).first()
        return None if row is None else stored_event(row)

    async def iter_events(self, filters: EventFilter, *, batch_size: int = 500) -> AsyncIterator[StoredEvent]:
        """Every matching event, oldest first, fetched in keyset batches (constant memory)."""
        last_id = 0
        conds = _conditions(filters)
        while True:
            stmt: Select[Any] = (
                select(AuditEventRow)
                .where(AuditEventRow.id > last_id, *conds)
                .order_by(AuditEventRow.id)
                .limit(batch_size)
            )
            async with self._engine.connect() as conn:
                rows = (await conn.execute(stmt)).all()
            for row in rows:
                yield stored_event(row)
            if len(rows) < batch_size:
                return
            last_id = rows[-1].id

    async def count(self, filters: EventFilter) -> int:
        async with self._engine.connect() as conn:
            value = await conn.scalar(select(func.count()).select_from(AuditEventRow).where(*_conditions(filters)))
        return int(value or 0)

    async def stats(self, filters: EventFilter, *, by: StatsDimension, bucket: Bucket = "hour") -> Sequence[StatsRow]:
        """Calls per time bucket and per value of `by`.

        A call is counted by its outcome event (`response`, `denied` or `error`: exactly one
        per call), unless `filters.event_type` picks another type.
        """
        t = AuditEventRow
        conds = _conditions(filters)
        if filters.event_type is None:
            conds.append(t.event_type.in_(OUTCOME_EVENT_TYPES))
        bucket_expr = self._bucket_expr(bucket)
        if by == "pii_type":
            p = AuditEventPiiRow
            stmt = (
                select(
                    bucket_expr.label("bucket"),
                    p.entity_type.label("key"),
                    func.count(func.distinct(t.id)).label("events"),
                    func.sum(p.count).label("entities"),
                )
                .join(p, p.event_id == t.event_id)
                .where(*conds)
                .group_by(bucket_expr, p.entity_type)
                .order_by(bucket_expr, p.entity_type)
            )
        else:
            column = {
                "tenant": t.tenant,
                "model": t.model,
                "backend": t.backend,
                "key_id": t.key_id,
                "decision": t.decision,
                "event_type": t.event_type,
                "status": t.status_code,
            }[by]
            stmt = (
                select(bucket_expr.label("bucket"), column.label("key"), func.count().label("events"))
                .where(*conds)
                .group_by(bucket_expr, column)
                .order_by(bucket_expr, column)
            )
        async with self._engine.connect() as conn:
            rows = (await conn.execute(stmt)).all()
        return [
            StatsRow(
                bucket=self._bucket_value(r.bucket),
                key=None if r.key is None else str(r.key),
                events=int(r.events),
                entities=int(r.entities) if by == "pii_type" else None,
            )
            for r in rows
        ]

    def _bucket_expr(self, bucket: Bucket) -> ColumnElement[Any]:
        occurred = AuditEventRow.occurred_at
        if self._engine.dialect.name == "sqlite":
            fmt = {"minute": "%Y-%m-%d %H:%M:00", "hour": "%Y-%m-%d %H:00:00", "day": "%Y-%m-%d 00:00:00"}[bucket]
            return func.strftime(fmt, occurred)
        return func.date_trunc(bucket, occurred)

    @staticmethod
    def _bucket_value(value: datetime | str) -> datetime:
        if isinstance(value, str):
            return datetime.fromisoformat(value).replace(tzinfo=UTC)
        return as_utc(value)

"""The compliance officers' HTTP API over the audit log (role `auditor`; admins too).

    GET /audit/events          search, newest first, cursor pagination
    GET /audit/events/{id}     one event, with its stored content
    GET /audit/export          JSONL or CSV, streamed in keyset batches (flat memory)
    GET /audit/verify          verify the hash chains (optionally a time range)
    GET /audit/stats           calls per time bucket by tenant, model, decision, PII type, ...

The controller has no constructor and no state. It needs two dependencies the app registers:
`principal` (a `gateway.auth.Principal`, or 401) and `audit_store` (a
`gateway.audit.query.AuditStore` built on the app's audit engine). Callers without the
`auditor` role get 403. Reading never writes to the audit log.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar

from litestar import Controller, get
from litestar.di import NamedDependency, Provide
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery
from litestar.response import Stream

from gateway.audit.export import EXPORT_FORMATS, ExportFormat, event_json, export_lines
from gateway.audit.query import (
    BUCKETS,
    MAX_PAGE_SIZE,
    STATS_DIMENSIONS,
    AuditStore,
    Bucket,
    EventFilter,
    InvalidCursor,
    StatsDimension,
)
from gateway.audit.record import EVENT_TYPES, Decision, EventType
from gateway.audit.verification import report_json, verify
from gateway.auth import Principal
from gateway.errors import Forbidden, InvalidRequest

_T = TypeVar("_T")
_MEDIA_TYPES = {"jsonl": "application/x-ndjson", "csv": "text/csv; charset=utf-8"}
_DECISIONS: dict[str, Decision] = {"allow": "allow", "deny": "deny"}
_EVENT_TYPES: dict[str, EventType] = {t: t for t in EVENT_TYPES}
_DIMENSIONS: dict[str, StatsDimension] = {d: d for d in STATS_DIMENSIONS}
_BUCKETS: dict[str, Bucket] = {b: b for b in BUCKETS}
_FORMATS: dict[str, ExportFormat] = {f: f for f in EXPORT_FORMATS}


def _require_auditor(principal: Principal) -> None:
    if not principal.has_role("auditor"):
        raise Forbidden("The audit log is open to the auditor role only.")


def _choice(choices: dict[str, _T], value: str | None, param: str) -> _T | None:
    if value is None:
        return None
    try:
        return choices[value]
    except KeyError:
        allowed = ", ".join(sorted(choices))
        raise InvalidRequest(f"`{param}` must be one of: {allowed}.", param=param) from None


def provide_filters(
    *,
    since: FromQuery[datetime | None] = None,
    until: FromQuery[datetime | None] = None,
    tenant: FromQuery[str | None] = None,
    key_id: FromQuery[str | None] = None,
    model: FromQuery[str | None] = None,
    backend: FromQuery[str | None] = None,
    decision: FromQuery[str | None] = None,
    event_type: FromQuery[str | None] = None,
    pii_type: FromQuery[str | None] = None,
    status: FromQuery[int | None] = None,
    request_id: FromQuery[str | None] = None,
) -> EventFilter:
    """The `filters` dependency: the query parameters every read endpoint shares."""
    if since is not None and until is not None and since >= until:
        raise InvalidRequest("`since` must be before `until`.", param="since")
    return EventFilter(
        since=since,
        until=until,
        tenant=tenant,
        key_id=key_id,
        model=model,
        backend=backend,
        decision=_choice(_DECISIONS, decision, "decision"),
        event_type=_choice(_EVENT_TYPES, event_type, "event_type"),
        pii_type=pii_type,
        status=status,
        request_id=request_id,
    )


def _without_content(data: dict[str, object]) -> dict[str, object]:
    return {k: v for k, v in data.items() if k != "content"}


class AuditController(Controller):
    """Officer endpoints under `/audit`."""

    path = "/audit"
    tags = ["audit"]  # noqa: RUF012 - Litestar's documented way to tag a controller
    dependencies = {"filters": Provide(provide_filters, sync_to_thread=False)}  # noqa: RUF012 - same

    @get("/events")
    async def list_events(
        self,
        *,
        principal: NamedDependency[Principal],
        audit_store: NamedDependency[AuditStore],
        filters: NamedDependency[EventFilter],
        cursor: FromQuery[str | None] = None,
        limit: FromQuery[int] = 100,
        include_content: FromQuery[bool] = False,
    ) -> dict[str, Any]:
        """Events matching the filters, newest first; follow `next_cursor` for more."""
        _require_auditor(principal)
        if not 1 <= limit <= MAX_PAGE_SIZE:
            raise InvalidRequest(f"`limit` must be between 1 and {MAX_PAGE_SIZE}.", param="limit")
        try:
            page = await audit_store.search(filters, limit=limit, cursor=cursor)
        except InvalidCursor as exc:
            raise InvalidRequest("`cursor` is not a cursor this API handed out.", param="cursor") from exc
        events = [event_json(e) for e in page.events]
        return {
            "data": events if include_content else [_without_content(e) for e in events],
            "next_cursor": page.next_cursor,
        }

    @get("/events/{event_id:str}")
    async def get_event(
        self,
        *,
        principal: NamedDependency[Principal],
        audit_store: NamedDependency[AuditStore],
        event_id: FromPath[str],
    ) -> dict[str, Any]:
        """One event, with its stored (redacted) content."""
        _require_auditor(principal)
        stored = await audit_store.get(event_id)
        if stored is None:
            raise NotFoundException(f"No audit event {event_id}.")
        return event_json(stored)

    @get("/export")
    async def export(
        self,
        *,
        principal: NamedDependency[Principal],
        audit_store: NamedDependency[AuditStore],
        filters: NamedDependency[EventFilter],
        format: FromQuery[str] = "jsonl",  # noqa: A002 - the public query parameter is called `format`
    ) -> Stream:
        """Every matching event, oldest first, as JSONL or CSV, streamed in keyset batches."""
        _require_auditor(principal)
        fmt = _choice(_FORMATS, format, "format") or "jsonl"
        lines = export_lines(audit_store.iter_events(filters), fmt)
        return Stream(
            lines,
            media_type=_MEDIA_TYPES[fmt],
            headers={"content-disposition": f'attachment; filename="audit-export.{fmt}"'},
        )

    @get("/verify")
    async def verify_chains(
        self,
        *,
        principal: NamedDependency[Principal],
        audit_store: NamedDependency[AuditStore],
        since: FromQuery[datetime | None] = None,
        until: FromQuery[datetime | None] = None,
    ) -> dict[str, Any]:
        """Verify every hash chain; `ok` is false and `broken` names the first bad event per chain."""
        _require_auditor(principal)
        report = await verify(audit_store.engine, since=since, until=until)
        return report_json(report)

    @get("/stats")
    async def stats(
        self,
        *,
        principal: NamedDependency[Principal],
        audit_store: NamedDependency[AuditStore],
        filters: NamedDependency[EventFilter],
        by: FromQuery[str] = "tenant",
        bucket: FromQuery[str] = "hour",
    ) -> dict[str, Any]:
        """Calls per time bucket, by one dimension (tenant, model, decision, pii_type, ...)."""
        _require_auditor(principal)
        dimension = _choice(_DIMENSIONS, by, "by") or "tenant"
        size = _choice(_BUCKETS, bucket, "bucket") or "hour"
        rows = await audit_store.stats(filters, by=dimension, bucket=size)
        return {
            "by": dimension,
            "bucket": size,
            "data": [
                {
                    "bucket": r.bucket.isoformat(),
                    "key": r.key,
                    "events": r.events,
                    **({"entities": r.entities} if r.entities is not None else {}),
                }
                for r in rows
            ],
        }

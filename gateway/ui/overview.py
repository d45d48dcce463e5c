"""The overview page's numbers: calls, denials and PII findings over time, per tenant and model.

Counting happens in the database (`AuditStore.stats`, one grouped query per chart, counting
each call once by its outcome event); this module picks the queries, the bucket size for the
range, and hands the rows to `charts.stacked_bars` for layout. It does not render.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from gateway.audit.query import AuditStore, Bucket, EventFilter, StatsDimension, StatsRow
from gateway.ui.charts import BarChart, Point, bucket_starts, choose_bucket, stacked_bars
from gateway.ui.filters import parse_bucket


@dataclass(frozen=True, slots=True)
class OverviewCharts:
    """Totals for the range and the charts, in page order."""

    bucket: Bucket
    since: datetime | None
    until: datetime
    calls: int
    allowed: int
    denied: int
    failed: int
    pii_entities: int
    charts: tuple[BarChart, ...]


def _points(rows: list[StatsRow] | tuple[StatsRow, ...], *, entities: bool = False) -> list[Point]:
    return [Point(r.bucket, r.key, (r.entities or 0) if entities else r.events) for r in rows]


async def overview_charts(
    store: AuditStore, filters: EventFilter, *, bucket: str | None, now: datetime
) -> OverviewCharts:
    """Aggregate the range in `filters` (until defaults to `now`) and lay out the overview's charts."""
    until = filters.until or now
    size: Bucket = parse_bucket(bucket) or (choose_bucket(filters.since, until) if filters.since else "day")
    buckets = bucket_starts(filters.since, until, size) if filters.since else ()
    denials = replace(filters, decision="deny")

    async def rows(dimension: StatsDimension, scope: EventFilter = filters) -> list[StatsRow]:
        return list(await store.stats(scope, by=dimension, bucket=size))

    by_type = await rows("event_type")
    totals = {t: sum(r.events for r in by_type if r.key == t) for t in ("response", "denied", "error")}
    pii = await rows("pii_type")
    charts = (
        stacked_bars("Calls by tenant", _points(await rows("tenant")), buckets, size),
        stacked_bars("Calls by model", _points(await rows("model")), buckets, size),
        stacked_bars("Denials by tenant", _points(await rows("tenant", denials)), buckets, size),
        stacked_bars("Denials by model", _points(await rows("model", denials)), buckets, size),
        stacked_bars("PII findings by entity type", _points(pii, entities=True), buckets, size),
    )
    return OverviewCharts(
        bucket=size,
        since=filters.since,
        until=until,
        calls=sum(r.events for r in by_type),
        allowed=totals["response"],
        denied=totals["denied"],
        failed=totals["error"],
        pii_entities=sum(r.entities or 0 for r in pii),
        charts=charts,
    )

"""Verifying the stored audit log: walk every chain through `chain.ChainVerifier`.

Each chain (one per gateway process start, listed in `audit_chains`) is read in sequence
order in keyset batches, with its rows of the PII search index, and fed to the pure
verifier; memory stays flat however long the chain. A time range narrows the walk: the
event just before the range is taken as the anchor. Content dropped by a retention purge is
accepted for events older than the latest recorded purge's cutoff, and only for those.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from gateway.audit.chain import ChainBreak, ChainHead, ChainReport, ChainVerifier, StoredEvent
from gateway.audit.models import AuditChainRow, AuditEventPiiRow, AuditEventRow
from gateway.audit.query import as_utc, stored_event

_MAX_ID = 2**62


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """The result of `verify`: one report per chain, OK only if every chain verifies."""

    chains: tuple[ChainReport, ...]
    purged_before: datetime | None
    since: datetime | None = None
    until: datetime | None = None

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.chains)

    @property
    def checked(self) -> int:
        return sum(c.checked for c in self.chains)

    @property
    def breaks(self) -> tuple[ChainBreak, ...]:
        return tuple(c.broken for c in self.chains if c.broken is not None)


async def latest_purge_cutoff(conn: AsyncConnection) -> datetime | None:
    """The newest `older_than` recorded by a purge event, if any purge ran."""
    rows = await conn.execute(select(AuditEventRow.details).where(AuditEventRow.event_type == "purge"))
    cutoffs = [
        as_utc(datetime.fromisoformat(details["older_than"]))
        for (details,) in rows
        if isinstance(details, dict) and isinstance(details.get("older_than"), str)
    ]
    return max(cutoffs, default=None)


async def _chain_ids(conn: AsyncConnection, since: datetime | None, until: datetime | None) -> list[str]:
    stmt = select(AuditEventRow.chain_id).distinct()
    if since is not None:
        stmt = stmt.where(AuditEventRow.occurred_at >= since)
    if until is not None:
        stmt = stmt.where(AuditEventRow.occurred_at < until)
    with_events = set((await conn.execute(stmt)).scalars())
    if since is None and until is None:
        with_events |= set((await conn.execute(select(AuditChainRow.chain_id))).scalars())
    return sorted(with_events)


async def _seq_range(
    conn: AsyncConnection, chain_id: str, since: datetime | None, until: datetime | None
) -> tuple[ChainHead | None, int | None]:
    """The anchor before `since` (None: chain start) and the last seq before `until` (None: no bound)."""
    t = AuditEventRow
    anchor: ChainHead | None = None
    if since is not None:
        first = await conn.scalar(select(func.min(t.seq)).where(t.chain_id == chain_id, t.occurred_at >= since))
        if first is not None:
            row = (
                await conn.execute(
                    select(t.seq, t.hash).where(t.chain_id == chain_id, t.seq < first).order_by(t.seq.desc()).limit(1)
                )
            ).first()
            anchor = ChainHead(chain_id, row.seq, row.hash) if row is not None else None
    last: int | None = None
    if until is not None:
        last = await conn.scalar(select(func.max(t.seq)).where(t.chain_id == chain_id, t.occurred_at < until))
        last = -1 if last is None else last
    return anchor, last


async def _batch(
    conn: AsyncConnection, chain_id: str, after: tuple[int, int], last_seq: int | None, size: int
) -> list[StoredEvent]:
    t = AuditEventRow
    stmt = select(t).where(t.chain_id == chain_id, tuple_(t.seq, t.id) > tuple_(*after))
    if last_seq is not None:
        stmt = stmt.where(t.seq <= last_seq)
    rows = (await conn.execute(stmt.order_by(t.seq, t.id).limit(size))).all()
    if not rows:
        return []
    p = AuditEventPiiRow
    index: dict[str, list[tuple[str, str, int]]] = defaultdict(list)
    pii_rows = await conn.execute(
        select(p.event_id, p.direction, p.entity_type, p.count).where(p.event_id.in_([r.event_id for r in rows]))
    )
    for event_id, direction, entity_type, count in pii_rows:
        index[event_id].append((direction, entity_type, count))
    events: list[StoredEvent] = []
    for row in rows:
        stored = stored_event(row)
        events.append(
            StoredEvent(stored.row_id, stored.event, stored.link, indexed_pii=tuple(index.get(row.event_id, ())))
        )
    return events


async def _verify_chain(
    engine: AsyncEngine,
    chain_id: str,
    *,
    since: datetime | None,
    until: datetime | None,
    purged_before: datetime | None,
    batch_size: int,
) -> ChainReport:
    async with engine.connect() as conn:
        anchor, last_seq = await _seq_range(conn, chain_id, since, until)
    verifier = ChainVerifier(chain_id, anchor=anchor, purged_before=purged_before)
    after = (anchor.seq, _MAX_ID) if anchor is not None else (-_MAX_ID, 0)
    fed = 0
    while verifier.broken is None:
        async with engine.connect() as conn:
            events = await _batch(conn, chain_id, after, last_seq, batch_size)
        for stored in events:
            verifier.feed(stored)
        fed += len(events)
        if len(events) < batch_size:
            break
        after = (events[-1].link.seq, events[-1].row_id)
    report = verifier.finish()
    if fed == 0 and since is None and until is None and report.broken is None:
        return _all_deleted(chain_id)
    return report


def _all_deleted(chain_id: str) -> ChainReport:
    broken = ChainBreak(chain_id, "deleted", "", 1, 0, "the chain is registered but all of its events are missing")
    return ChainReport(chain_id, 0, ChainHead(chain_id), broken)


async def verify(
    engine: AsyncEngine,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    chain_ids: Sequence[str] | None = None,
    batch_size: int = 1000,
) -> VerifyReport:
    """Verify every chain (or `chain_ids`), optionally only the events in [since, until)."""
    since_utc = as_utc(since) if since is not None else None
    until_utc = as_utc(until) if until is not None else None
    async with engine.connect() as conn:
        purged_before = await latest_purge_cutoff(conn)
        ids = list(chain_ids) if chain_ids is not None else await _chain_ids(conn, since_utc, until_utc)
    reports = [
        await _verify_chain(
            engine, chain_id, since=since_utc, until=until_utc, purged_before=purged_before, batch_size=batch_size
        )
        for chain_id in ids
    ]
    return VerifyReport(tuple(reports), purged_before, since_utc, until_utc)


def report_json(report: VerifyReport) -> dict[str, Any]:
    """The report as JSON for the API and the CLI's `--json`."""
    return {
        "ok": report.ok,
        "checked": report.checked,
        "since": report.since.isoformat() if report.since else None,
        "until": report.until.isoformat() if report.until else None,
        "content_purged_before": report.purged_before.isoformat() if report.purged_before else None,
        "chains": [
            {
                "chain_id": c.chain_id,
                "ok": c.ok,
                "checked": c.checked,
                "head": {"seq": c.head.seq, "hash": c.head.hash},
                "broken": None
                if c.broken is None
                else {
                    "kind": c.broken.kind,
                    "event_id": c.broken.event_id,
                    "seq": c.broken.seq,
                    "detail": c.broken.detail,
                },
            }
            for c in report.chains
        ],
    }

"""Writing one batch of sealed events in one transaction, the fastest way each database allows.

PostgreSQL: one statement, in autocommit mode: `unnest()` turns one array per column into
rows, and data-modifying CTEs add the PII index rows (and, for a new chain, its
`audit_chains` row) in the same statement. A single statement is atomic, so the batch still
commits all-or-nothing, in one round trip instead of BEGIN / INSERT / INSERT / COMMIT, and the
statement text does not depend on the batch size, so asyncpg prepares it once per connection.

SQLite: an ordinary transaction with `executemany` (no network, nothing to save).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.audit.chain import SealedEvent
from gateway.audit.models import AuditChainRow, AuditEventPiiRow, AuditEventRow
from gateway.audit.record import event_fields

_JSON_COLUMNS = frozenset({"roles", "reasons", "pii_actions", "pii_request", "pii_response", "latency_ms", "details"})
_ARRAY_TYPES = {
    "occurred_at": "timestamptz[]",
    "seq": "int8[]",
    "stream": "bool[]",
    "prompt_tokens": "int4[]",
    "completion_tokens": "int4[]",
    "tokens_estimated": "bool[]",
    "status_code": "int4[]",
}
_CHAIN_TYPES = {
    "chain_id": "text",
    "started_at": "timestamptz",
    "gateway_version": "text",
    "hostname": "text",
    "pid": "int4",
    "hash_version": "int4",
}
EVENT_COLUMNS: tuple[str, ...] = tuple(c.name for c in AuditEventRow.__table__.columns if c.name != "id")


def event_row(sealed: SealedEvent) -> dict[str, Any]:
    """The `audit_events` row of a sealed event."""
    event, link = sealed.event, sealed.link
    return {
        **event_fields(event),
        "chain_id": link.chain_id,
        "seq": link.seq,
        "prev_hash": link.prev_hash,
        "hash": link.hash,
        "content": None if event.content is None else dict(event.content),
    }


def pii_rows(sealed: Sequence[SealedEvent]) -> list[dict[str, Any]]:
    """The `audit_event_pii` rows of sealed events."""
    return [
        {"event_id": s.event.event_id, "direction": direction, "entity_type": entity, "count": count}
        for s in sealed
        for direction, entity, count in s.event.pii_index
    ]


def _postgres_statement() -> str:
    def cast_in(column: str) -> str:
        kind = "text[]" if column in _JSON_COLUMNS or column == "content" else _ARRAY_TYPES.get(column, "text[]")
        return f"CAST(:{column} AS {kind})"

    def cast_out(column: str) -> str:
        return f"CAST({column} AS json)" if column in _JSON_COLUMNS or column == "content" else column

    names = ", ".join(EVENT_COLUMNS)
    chain = ", ".join(_CHAIN_TYPES)
    chain_params = ", ".join(f"CAST(:chain_{c} AS {kind})" for c, kind in _CHAIN_TYPES.items())
    # Built once at import from the model's column names: no caller-supplied text reaches it.
    return (
        f"WITH new_events AS (INSERT INTO audit_events ({names}) "  # noqa: S608
        f"SELECT {', '.join(cast_out(c) for c in EVENT_COLUMNS)} "
        f"FROM unnest({', '.join(cast_in(c) for c in EVENT_COLUMNS)}) AS batch({names})), "
        "new_pii AS (INSERT INTO audit_event_pii (event_id, direction, entity_type, count) "
        "SELECT * FROM unnest(CAST(:pii_event_id AS text[]), CAST(:pii_direction AS text[]), "
        "CAST(:pii_entity_type AS text[]), CAST(:pii_count AS int4[]))) "
        f"INSERT INTO audit_chains ({chain}) SELECT {chain_params} WHERE CAST(:register_chain AS bool)"
    )


_POSTGRES_BATCH = text(_postgres_statement())


def _json_text(value: object) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False, separators=(",", ":"))


async def insert_batch(
    engine: AsyncEngine, sealed: Sequence[SealedEvent], *, new_chain: Mapping[str, Any] | None
) -> None:
    """Insert `sealed` (and `new_chain`, the chain's row, on its first batch) atomically."""
    rows = [event_row(s) for s in sealed]
    pii = pii_rows(sealed)
    if engine.dialect.name == "postgresql":
        params: dict[str, Any] = {
            column: [
                _json_text(row[column]) if column in _JSON_COLUMNS or column == "content" else row[column]
                for row in rows
            ]
            for column in EVENT_COLUMNS
        }
        params |= {f"pii_{key}": [p[key] for p in pii] for key in ("event_id", "direction", "entity_type", "count")}
        params |= {f"chain_{c}": (new_chain or {}).get(c) for c in _CHAIN_TYPES}
        params["register_chain"] = new_chain is not None
        async with engine.connect() as conn:
            autocommit = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await autocommit.execute(_POSTGRES_BATCH, params)
        return
    async with engine.begin() as conn:
        if new_chain is not None:
            await conn.execute(insert(AuditChainRow), [dict(new_chain)])
        await conn.execute(insert(AuditEventRow), rows)
        if pii:
            await conn.execute(insert(AuditEventPiiRow), pii)

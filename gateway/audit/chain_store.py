"""Reading a writer's own chain back from the database: where it ends, and what it holds.

The writer asks at start-up (to continue a named chain) and after a retried batch is refused
as a duplicate (to tell "already committed, the answer was lost" from bad data).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.audit.chain import ChainHead
from gateway.audit.models import AuditChainRow, AuditEventRow


async def load_head(engine: AsyncEngine, chain_id: str) -> tuple[bool, ChainHead]:
    """Whether the chain is registered, and its last stored event (the empty head if none)."""
    async with engine.connect() as conn:
        registered = await conn.scalar(select(AuditChainRow.chain_id).where(AuditChainRow.chain_id == chain_id))
        last = (
            await conn.execute(
                select(AuditEventRow.seq, AuditEventRow.hash)
                .where(AuditEventRow.chain_id == chain_id)
                .order_by(AuditEventRow.seq.desc())
                .limit(1)
            )
        ).first()
    head = ChainHead(chain_id) if last is None else ChainHead(chain_id, last.seq, last.hash)
    return registered is not None, head


async def head_after(engine: AsyncEngine, chain_id: str, event_ids: Sequence[str]) -> ChainHead | None:
    """The head just after `event_ids` if every one of them is stored in the chain, else None."""
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                select(AuditEventRow.seq, AuditEventRow.hash).where(
                    AuditEventRow.chain_id == chain_id, AuditEventRow.event_id.in_(event_ids)
                )
            )
        ).all()
    if not rows or len(rows) != len(set(event_ids)):
        return None
    last = max(rows, key=lambda row: row.seq)
    return ChainHead(chain_id, last.seq, last.hash)

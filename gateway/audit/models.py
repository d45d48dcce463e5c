"""The audit log's tables as typed SQLAlchemy 2 models.

These models describe the schema; Alembic migrations (`gateway/audit/migrations`) are the only
way it is created or changed, and a test checks that the two agree. The rows are append-only:
the gateway inserts and never updates or deletes, except the retention purge, which sets
`content` to NULL. The migrations also install database triggers that refuse anything else.

Not here: how rows are built (`record.py`), linked (`chain.py`) or written (`writer.py`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from gateway.audit.record import (
    LEN_ADDR,
    LEN_CODE,
    LEN_ENDPOINT,
    LEN_ID,
    LEN_MODEL,
    LEN_NAME,
    LEN_USER_AGENT,
    LEN_VERSION,
)

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite only auto-increments an INTEGER PRIMARY KEY, not a BIGINT one.
_RowId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class AuditEventRow(Base):
    """One audit event, linked into its chain. See `record.AuditEvent` for the fields' meaning."""

    __tablename__ = "audit_events"
    __table_args__ = (
        UniqueConstraint("chain_id", "seq"),
        CheckConstraint(
            "event_type IN ('request', 'response', 'denied', 'error', 'purge')",
            name="event_type",
        ),
        CheckConstraint("decision IS NULL OR decision IN ('allow', 'deny')", name="decision"),
        Index("ix_audit_events_tenant_occurred_at", "tenant", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(_RowId, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(LEN_ID), unique=True)
    event_type: Mapped[str] = mapped_column(String(16))
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    request_id: Mapped[str] = mapped_column(String(LEN_NAME), index=True)
    chain_id: Mapped[str] = mapped_column(String(LEN_ID))
    seq: Mapped[int] = mapped_column(BigInteger)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    content_hash: Mapped[str | None] = mapped_column(String(64))
    gateway_version: Mapped[str] = mapped_column(String(LEN_VERSION))
    tenant: Mapped[str | None] = mapped_column(String(LEN_NAME))
    key_id: Mapped[str | None] = mapped_column(String(LEN_ID), index=True)
    roles: Mapped[list[str]] = mapped_column(JSON)
    endpoint: Mapped[str | None] = mapped_column(String(LEN_ENDPOINT))
    requested_model: Mapped[str | None] = mapped_column(String(LEN_MODEL))
    model: Mapped[str | None] = mapped_column(String(LEN_MODEL), index=True)
    backend: Mapped[str | None] = mapped_column(String(LEN_NAME))
    stream: Mapped[bool | None] = mapped_column(Boolean)
    decision: Mapped[str | None] = mapped_column(String(8))
    reasons: Mapped[list[str]] = mapped_column(JSON)
    pii_actions: Mapped[dict[str, str]] = mapped_column(JSON)
    policy_version: Mapped[str | None] = mapped_column(String(LEN_NAME))
    pii_request: Mapped[dict[str, int]] = mapped_column(JSON)
    pii_response: Mapped[dict[str, int]] = mapped_column(JSON)
    prompt_tokens: Mapped[int | None] = mapped_column(Integer)
    completion_tokens: Mapped[int | None] = mapped_column(Integer)
    tokens_estimated: Mapped[bool | None] = mapped_column(Boolean)
    latency_ms: Mapped[dict[str, float]] = mapped_column(JSON)
    status_code: Mapped[int | None] = mapped_column(Integer)
    error_code: Mapped[str | None] = mapped_column(String(LEN_CODE))
    client_addr: Mapped[str | None] = mapped_column(String(LEN_ADDR))
    user_agent: Mapped[str | None] = mapped_column(String(LEN_USER_AGENT))
    details: Mapped[dict[str, str]] = mapped_column(JSON)
    content: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))


class AuditEventPiiRow(Base):
    """Search index: one row per (event, direction, entity type) with its count.

    Derived from the event's hashed PII summary and written in the same transaction;
    `verify` checks that the two agree.
    """

    __tablename__ = "audit_event_pii"

    event_id: Mapped[str] = mapped_column(ForeignKey("audit_events.event_id"), primary_key=True)
    direction: Mapped[str] = mapped_column(String(8), primary_key=True)
    entity_type: Mapped[str] = mapped_column(String(LEN_NAME), primary_key=True, index=True)
    count: Mapped[int] = mapped_column(Integer)


class AuditChainRow(Base):
    """One row per chain (per gateway process start): who wrote it, from where."""

    __tablename__ = "audit_chains"

    chain_id: Mapped[str] = mapped_column(String(LEN_ID), primary_key=True)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    gateway_version: Mapped[str] = mapped_column(String(LEN_VERSION))
    hostname: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    hash_version: Mapped[int] = mapped_column(Integer)


metadata = Base.metadata
"""The metadata Alembic compares against (`target_metadata`)."""

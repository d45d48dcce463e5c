"""Audit log: events, the PII search index, chains, and append-only guard triggers.

Revision ID: 499eb795c5be
Create Date: 2026-11-28 15:58:25.514887+00:00

The triggers refuse UPDATE and DELETE on the audit tables, except setting
`audit_events.content` to NULL (the retention purge). They stop mistakes and
applications; the table owner can still disable them, which is what the hash chain is for.
A later revision that adds a column to `audit_events` must add it to `_GUARDED_COLUMNS`.
"""

# ruff: noqa: N999  (Alembic's dated file names are not importable module names, on purpose)

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "499eb795c5be"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_chains",
        sa.Column("chain_id", sa.String(length=64), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("gateway_version", sa.String(length=32), nullable=False),
        sa.Column("hostname", sa.String(length=255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("hash_version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("chain_id", name=op.f("pk_audit_chains")),
    )
    op.create_table(
        "audit_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("event_type", sa.String(length=16), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("request_id", sa.String(length=128), nullable=False),
        sa.Column("chain_id", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=True),
        sa.Column("gateway_version", sa.String(length=32), nullable=False),
        sa.Column("tenant", sa.String(length=128), nullable=True),
        sa.Column("key_id", sa.String(length=64), nullable=True),
        sa.Column("roles", sa.JSON(), nullable=False),
        sa.Column("endpoint", sa.String(length=32), nullable=True),
        sa.Column("requested_model", sa.String(length=256), nullable=True),
        sa.Column("model", sa.String(length=256), nullable=True),
        sa.Column("backend", sa.String(length=128), nullable=True),
        sa.Column("stream", sa.Boolean(), nullable=True),
        sa.Column("decision", sa.String(length=8), nullable=True),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("pii_actions", sa.JSON(), nullable=False),
        sa.Column("policy_version", sa.String(length=128), nullable=True),
        sa.Column("pii_request", sa.JSON(), nullable=False),
        sa.Column("pii_response", sa.JSON(), nullable=False),
        sa.Column("prompt_tokens", sa.Integer(), nullable=True),
        sa.Column("completion_tokens", sa.Integer(), nullable=True),
        sa.Column("tokens_estimated", sa.Boolean(), nullable=True),
        sa.Column("latency_ms", sa.JSON(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("error_code", sa.String(length=64), nullable=True),
        sa.Column("client_addr", sa.String(length=64), nullable=True),
        sa.Column("user_agent", sa.String(length=512), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("content", sa.JSON(none_as_null=True), nullable=True),
        sa.CheckConstraint("decision IS NULL OR decision IN ('allow', 'deny')", name=op.f("ck_audit_events_decision")),
        sa.CheckConstraint(
            "event_type IN ('request', 'response', 'denied', 'error', 'purge')", name=op.f("ck_audit_events_event_type")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_events")),
        sa.UniqueConstraint("chain_id", "seq", name=op.f("uq_audit_events_chain_id_seq")),
        sa.UniqueConstraint("event_id", name=op.f("uq_audit_events_event_id")),
    )
    op.create_index(op.f("ix_audit_events_key_id"), "audit_events", ["key_id"], unique=False)
    op.create_index(op.f("ix_audit_events_model"), "audit_events", ["model"], unique=False)
    op.create_index(op.f("ix_audit_events_occurred_at"), "audit_events", ["occurred_at"], unique=False)
    op.create_index(op.f("ix_audit_events_request_id"), "audit_events", ["request_id"], unique=False)
    op.create_index("ix_audit_events_tenant_occurred_at", "audit_events", ["tenant", "occurred_at"], unique=False)
    op.create_table(
        "audit_event_pii",
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("direction", sa.String(length=8), nullable=False),
        sa.Column("entity_type", sa.String(length=128), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"], ["audit_events.event_id"], name=op.f("fk_audit_event_pii_event_id_audit_events")
        ),
        sa.PrimaryKeyConstraint("event_id", "direction", "entity_type", name=op.f("pk_audit_event_pii")),
    )
    op.create_index(op.f("ix_audit_event_pii_entity_type"), "audit_event_pii", ["entity_type"], unique=False)
    _create_guards()


def downgrade() -> None:
    _drop_guards()
    op.drop_index(op.f("ix_audit_event_pii_entity_type"), table_name="audit_event_pii")
    op.drop_table("audit_event_pii")
    op.drop_index("ix_audit_events_tenant_occurred_at", table_name="audit_events")
    op.drop_index(op.f("ix_audit_events_request_id"), table_name="audit_events")
    op.drop_index(op.f("ix_audit_events_occurred_at"), table_name="audit_events")
    op.drop_index(op.f("ix_audit_events_model"), table_name="audit_events")
    op.drop_index(op.f("ix_audit_events_key_id"), table_name="audit_events")
    op.drop_table("audit_events")
    op.drop_table("audit_chains")


_GUARDED_COLUMNS = (
    "id, event_id, event_type, occurred_at, request_id, chain_id, seq, prev_hash, hash, content_hash, "
    "gateway_version, tenant, key_id, roles, endpoint, requested_model, model, backend, stream, decision, "
    "reasons, pii_actions, policy_version, pii_request, pii_response, prompt_tokens, completion_tokens, "
    "tokens_estimated, latency_ms, status_code, error_code, client_addr, user_agent, details"
)
_OTHER_TABLES = ("audit_event_pii", "audit_chains")
_MESSAGE = "audit tables are append-only"


def _create_guards() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION audit_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            f"RAISE EXCEPTION '{_MESSAGE} (% on %)', TG_OP, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege'; "
            "END $$"
        )
        run = "EXECUTE FUNCTION audit_refuse_change()"
        op.execute(
            f"CREATE TRIGGER audit_events_no_update BEFORE UPDATE OF {_GUARDED_COLUMNS} ON audit_events "
            f"FOR EACH ROW {run}"
        )
        op.execute(
            "CREATE TRIGGER audit_events_purge_only BEFORE UPDATE OF content ON audit_events "
            f"FOR EACH ROW WHEN (NEW.content IS NOT NULL) {run}"
        )
        op.execute(f"CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events FOR EACH ROW {run}")
        op.execute(f"CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events FOR EACH STATEMENT {run}")
        for table in _OTHER_TABLES:
            op.execute(f"CREATE TRIGGER {table}_no_change BEFORE UPDATE OR DELETE ON {table} FOR EACH ROW {run}")
            op.execute(f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} FOR EACH STATEMENT {run}")
        return
    refuse = f"BEGIN SELECT RAISE(ABORT, '{_MESSAGE}'); END"
    op.execute(f"CREATE TRIGGER audit_events_no_update BEFORE UPDATE OF {_GUARDED_COLUMNS} ON audit_events {refuse}")
    op.execute(
        f"CREATE TRIGGER audit_events_purge_only BEFORE UPDATE OF content ON audit_events "
        f"WHEN NEW.content IS NOT NULL {refuse}"
    )
    op.execute(f"CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events {refuse}")
    for table in _OTHER_TABLES:
        op.execute(f"CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table} {refuse}")
        op.execute(f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} {refuse}")


def _drop_guards() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for name in ("no_update", "purge_only", "no_delete", "no_truncate"):
            op.execute(f"DROP TRIGGER IF EXISTS audit_events_{name} ON audit_events")
        for table in _OTHER_TABLES:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_change ON {table}")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
        op.execute("DROP FUNCTION IF EXISTS audit_refuse_change()")
        return
    for name in ("no_update", "purge_only", "no_delete"):
        op.execute(f"DROP TRIGGER IF EXISTS audit_events_{name}")
    for table in _OTHER_TABLES:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_no_update")
        op.execute(f"DROP TRIGGER IF EXISTS {table}_no_delete")

"""Real audit databases for the integration tests (tests/integration/test_audit_*.py).

Not a unit test helper despite its folder: it lives beside the audit fakes so the audit tests
share one definition. SQLite is a fresh file per test. PostgreSQL comes from
GATEWAY_TEST_DATABASE_URL (default postgresql+asyncpg://postgres@127.0.0.1:5432/test); each
test migrates its own schema and drops it afterwards, so parallel runs never share tables.
Under CI=true a missing PostgreSQL fails the test instead of skipping it.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from gateway.audit import migrate
from gateway.audit.database import create_audit_engine
from gateway.audit.settings import AuditSettings

PG_URL = os.environ.get("GATEWAY_TEST_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() == "true"
AUDIT_TABLES = ("audit_events", "audit_event_pii", "audit_chains")

DATABASE_KINDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
"""Parametrize a `db` fixture with this to run a test on both databases."""


async def require_postgres() -> None:
    engine = create_async_engine(PG_URL, connect_args={"timeout": 2})
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception as exc:
        if IN_CI:
            pytest.fail(f"PostgreSQL at {PG_URL} is required under CI=true: {exc!r}")
        pytest.skip(f"no PostgreSQL at {PG_URL}: {exc!r}")
    finally:
        await engine.dispose()


@dataclass
class AuditDatabase:
    """A migrated audit database and its engine, plus what tests need to play the attacker."""

    kind: str
    settings: AuditSettings
    engine: AsyncEngine

    def with_settings(self, **changes: Any) -> AuditSettings:
        return self.settings.model_copy(update=changes)

    async def execute(self, sql: str, **params: Any) -> Any:
        async with self.engine.begin() as conn:
            return await conn.execute(text(sql), params)

    async def scalar(self, sql: str, **params: Any) -> Any:
        async with self.engine.connect() as conn:
            return await conn.scalar(text(sql), params)

    async def disable_guards(self) -> None:
        """Drop the append-only triggers, as the table owner (an insider) could."""
        if self.kind == "postgres":
            for table in AUDIT_TABLES:
                await self.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
            return
        async with self.engine.connect() as conn:
            names = (await conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'trigger'"))).scalars().all()
        for name in names:
            await self.execute(f'DROP TRIGGER "{name}"')


def database_settings(kind: str, tmp_path: Path, **overrides: Any) -> AuditSettings:
    if kind == "sqlite":
        return AuditSettings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'audit.db'}", **overrides)
    schema = f"audit_test_{uuid.uuid4().hex[:12]}"
    return AuditSettings(database_url=PG_URL, postgres_schema=schema, **overrides)


async def drop_schema(schema: str) -> None:
    engine = create_async_engine(PG_URL)
    try:
        async with engine.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    finally:
        await engine.dispose()


@asynccontextmanager
async def audit_database(
    kind: str, tmp_path: Path, *, migrated: bool = True, **overrides: Any
) -> AsyncIterator[AuditDatabase]:
    """A fresh audit database of `kind` (migrated to head unless told otherwise)."""
    if kind == "postgres":
        await require_postgres()
    settings = database_settings(kind, tmp_path, **overrides)
    engine = create_audit_engine(settings)
    try:
        if migrated:
            await migrate.upgrade(engine, schema=settings.postgres_schema)
        elif settings.postgres_schema:
            async with engine.begin() as conn:
                await conn.execute(text(f'CREATE SCHEMA "{settings.postgres_schema}"'))
        yield AuditDatabase(kind, settings, engine)
    finally:
        await engine.dispose()
        if settings.postgres_schema:
            await drop_schema(settings.postgres_schema)

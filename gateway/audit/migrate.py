"""Alembic, driven from gateway code: `gateway db upgrade` works from any directory.

The migration scripts ship inside the package (`gateway/audit/migrations`), so an installed
gateway finds them; `alembic.ini` at the repository root points at the same directory for
developers who use the `alembic` command. Each function takes the app's async engine, opens
one connection and hands it to `env.py`, so it also runs inside a running event loop.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.audit.models import metadata

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
FILE_TEMPLATE = "%%(year)d-%%(month).2d-%%(day).2d_%%(slug)s_%%(rev)s"


def alembic_config(database_url: str | None = None) -> Config:
    """An Alembic config for the audit migrations (ruff runs on new revision files)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("path_separator", "os")
    config.set_main_option("file_template", FILE_TEMPLATE)
    config.set_main_option("timezone", "UTC")
    config.set_section_option("post_write_hooks", "hooks", "ruff_fix, ruff_format")
    config.set_section_option("post_write_hooks", "ruff_fix.type", "module")
    config.set_section_option("post_write_hooks", "ruff_fix.module", "ruff")
    config.set_section_option("post_write_hooks", "ruff_fix.options", "check --fix REVISION_SCRIPT_FILENAME")
    config.set_section_option("post_write_hooks", "ruff_format.type", "module")
    config.set_section_option("post_write_hooks", "ruff_format.module", "ruff")
    config.set_section_option("post_write_hooks", "ruff_format.options", "format REVISION_SCRIPT_FILENAME")
    if database_url is not None:
        config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def head_revision() -> str | None:
    """The newest revision shipped with this gateway."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


async def _ensure_schema(engine: AsyncEngine, schema: str | None) -> None:
    if schema and engine.dialect.name == "postgresql":
        async with engine.begin() as conn:
            await conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))


def _with_connection(connection: Connection, action: str, revision: str) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    if action == "upgrade":
        command.upgrade(config, revision)
    else:
        command.downgrade(config, revision)


async def upgrade(engine: AsyncEngine, *, revision: str = "head", schema: str | None = None) -> None:
    """Migrate the audit schema up to `revision` (creates `schema` on PostgreSQL if given)."""
    await _ensure_schema(engine, schema)
    async with engine.begin() as conn:
        await conn.run_sync(_with_connection, "upgrade", revision)


async def downgrade(engine: AsyncEngine, *, revision: str = "base") -> None:
    """Migrate the audit schema down to `revision` (`base` drops every audit table)."""
    async with engine.begin() as conn:
        await conn.run_sync(_with_connection, "downgrade", revision)


def _current(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


async def current_revision(engine: AsyncEngine) -> str | None:
    """The revision the database is at (None before the first upgrade)."""
    async with engine.connect() as conn:
        return await conn.run_sync(_current)


def _diff(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, metadata))


async def schema_drift(engine: AsyncEngine) -> Sequence[Any]:
    """Differences between the models and the migrated database; empty when they agree."""
    async with engine.connect() as conn:
        return await conn.run_sync(_diff)

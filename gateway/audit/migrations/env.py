"""Alembic environment for the audit log (async).

Two ways in. The gateway (`gateway db upgrade`, `gateway.audit.migrate`) opens the
connection itself and hands it over in `config.attributes["connection"]`; the `alembic`
command line (developers: `alembic revision --autogenerate`, `alembic check`) passes the URL
as `-x database_url=...` or `sqlalchemy.url` in alembic.ini, and this module connects.
"""

from __future__ import annotations

import asyncio
from logging.config import fileConfig

from alembic import context
from sqlalchemy import text
from sqlalchemy.engine import Connection

from gateway.audit.database import create_audit_engine
from gateway.audit.models import metadata
from gateway.audit.settings import AuditSettings

config = context.config


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        compare_type=True,
        render_as_batch=connection.dialect.name == "sqlite",
    )


def run_on_connection(connection: Connection) -> None:
    """Run the migrations on a connection opened by the caller."""
    _configure(connection)
    with context.begin_transaction():
        context.run_migrations()


def _settings() -> AuditSettings:
    x_args = context.get_x_argument(as_dictionary=True)
    url = x_args.get("database_url") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise SystemExit("no database URL: pass -x database_url=... or set sqlalchemy.url")
    return AuditSettings(database_url=url, postgres_schema=x_args.get("postgres_schema"))


async def _run_online(settings: AuditSettings) -> None:
    engine = create_audit_engine(settings)
    try:
        async with engine.connect() as connection:
            if settings.postgres_schema and connection.dialect.name == "postgresql":
                await connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{settings.postgres_schema}"'))
                await connection.commit()
            await connection.run_sync(run_on_connection)
            await connection.commit()
    finally:
        await engine.dispose()


def _run_offline(settings: AuditSettings) -> None:
    context.configure(
        url=settings.database_url,
        target_metadata=metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


_handed_over = config.attributes.get("connection")
if isinstance(_handed_over, Connection):
    run_on_connection(_handed_over)
else:
    if config.config_file_name is not None:
        fileConfig(config.config_file_name, disable_existing_loggers=False)
    if context.is_offline_mode():
        _run_offline(_settings())
    else:
        asyncio.run(_run_online(_settings()))

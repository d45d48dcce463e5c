"""The audit log's database engine: one async SQLAlchemy engine per process, built from settings.

SQLite connections get WAL journaling (readers never block the writer), the configured
`synchronous` level, a busy timeout and foreign keys. PostgreSQL connections run in UTC and,
when configured, with the audit schema first on their search path. The engine lives for the
app's lifespan and is passed to the writer and the query service; it is never a global.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from gateway.audit.settings import AuditSettings

_SQLITE_BUSY_TIMEOUT_MS = 5_000


def safe_url(database_url: str) -> str:
    """The URL with its password hidden, for logs and messages."""
    return make_url(database_url).render_as_string(hide_password=True)


def create_audit_engine(settings: AuditSettings) -> AsyncEngine:
    """An engine for `settings.database_url`, tuned for the audit log. Dispose it on shutdown."""
    url: URL = make_url(settings.database_url)
    if settings.is_sqlite:
        engine = create_async_engine(
            url,
            connect_args={"timeout": settings.connect_timeout_s},
            pool_size=settings.pool_size,
            max_overflow=settings.pool_size,
        )
        _install_sqlite_pragmas(engine, synchronous=settings.sqlite_synchronous)
        return engine
    server_settings = {"timezone": "UTC", "application_name": "gateway-audit"}
    if settings.postgres_schema:
        server_settings["search_path"] = settings.postgres_schema
    return create_async_engine(
        url,
        connect_args={"timeout": settings.connect_timeout_s, "server_settings": server_settings},
        pool_size=settings.pool_size,
        max_overflow=settings.pool_size,
        pool_timeout=settings.connect_timeout_s,
    )


def _install_sqlite_pragmas(engine: AsyncEngine, *, synchronous: str) -> None:
    def on_connect(dbapi_connection: Any, _record: object) -> None:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA synchronous={synchronous}")
            cursor.execute(f"PRAGMA busy_timeout={_SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA foreign_keys=ON")
        finally:
            cursor.close()

    event.listen(engine.sync_engine, "connect", on_connect)

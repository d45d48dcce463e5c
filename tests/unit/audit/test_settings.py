"""Audit settings: defaults an operator can rely on, and refusals at start-up."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from gateway.audit.database import safe_url
from gateway.audit.settings import AuditSettings


def test_defaults_are_strict_redacted_embedded_sqlite():
    settings = AuditSettings()
    assert (settings.mode, settings.store_content) == ("strict", "redacted")
    assert settings.database_url == "sqlite+aiosqlite:///./gateway-audit.db"
    assert settings.is_sqlite


@pytest.mark.parametrize("url", ["sqlite:///x.db", "postgresql://h/db", "mysql+aiomysql://h/db"])
def test_only_async_sqlite_and_postgres_urls_are_accepted(url):
    with pytest.raises(ValidationError, match="database_url"):
        AuditSettings(database_url=url)


def test_unknown_keys_are_refused():
    with pytest.raises(ValidationError):
        AuditSettings(mode="strict", stroe_content="none")


def test_store_content_cannot_be_full():
    with pytest.raises(ValidationError):
        AuditSettings(store_content="full")


def test_logged_urls_hide_the_password():
    shown = safe_url("postgresql+asyncpg://audit:s3cret@db.internal:5432/gateway")
    assert "s3cret" not in shown
    assert "db.internal" in shown

"""Alembic is the only way the audit schema is made: it round-trips and agrees with the models.

On real PostgreSQL and SQLite: upgrade to head, downgrade to base (every revision's
downgrade runs), upgrade again, then autogenerate finds no difference between the models and
the migrated database (what `alembic check` does in CI).
"""

from __future__ import annotations

import io

import anyio
import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from gateway.audit import migrate
from gateway.audit.cli import cmd_db_upgrade
from tests.unit.audit.databases import DATABASE_KINDS, audit_database

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

AUDIT_TABLES = {"audit_events", "audit_event_pii", "audit_chains"}


@pytest.fixture(params=DATABASE_KINDS)
async def empty_db(request, tmp_path):
    async with audit_database(request.param, tmp_path, migrated=False) as database:
        yield database


async def table_names(engine) -> set[str]:
    async with engine.connect() as conn:
        return set(await conn.run_sync(lambda c: inspect(c).get_table_names()))


async def test_upgrade_downgrade_upgrade_round_trips_and_models_agree(empty_db):
    engine, schema = empty_db.engine, empty_db.settings.postgres_schema
    await migrate.upgrade(engine, schema=schema)
    assert await table_names(engine) >= AUDIT_TABLES
    assert await migrate.current_revision(engine) == migrate.head_revision()

    await migrate.downgrade(engine, revision="base")
    assert not AUDIT_TABLES & await table_names(engine)
    assert await migrate.current_revision(engine) is None

    await migrate.upgrade(engine, schema=schema)
    assert await migrate.schema_drift(engine) == []


async def test_alembic_check_finds_no_model_drift(empty_db):
    await migrate.upgrade(empty_db.engine, schema=empty_db.settings.postgres_schema)

    def check(connection):
        config = migrate.alembic_config()
        config.attributes["connection"] = connection
        command.check(config)

    async with empty_db.engine.connect() as conn:
        await conn.run_sync(check)


async def test_upgrading_twice_is_harmless(empty_db):
    await migrate.upgrade(empty_db.engine, schema=empty_db.settings.postgres_schema)
    await migrate.upgrade(empty_db.engine, schema=empty_db.settings.postgres_schema)
    assert await migrate.current_revision(empty_db.engine) == migrate.head_revision()


async def test_db_upgrade_command_reports_the_revision(empty_db):
    out = io.StringIO()
    code = await anyio.to_thread.run_sync(lambda: cmd_db_upgrade(empty_db.settings, out=out))
    assert code == 0
    assert migrate.head_revision() in out.getvalue()


def test_every_revision_has_a_downgrade_and_the_history_is_linear():
    scripts = ScriptDirectory.from_config(migrate.alembic_config())
    revisions = list(scripts.walk_revisions())
    assert len(scripts.get_heads()) == 1
    for revision in revisions:
        assert callable(getattr(revision.module, "downgrade", None))
        assert revision.path.endswith(f"_{revision.revision}.py")

"""Audit databases for gateway processes in the e2e tests: create, migrate, read back, drop.

An `AuditDb` is the `audit:` section a gateway process is started with, plus a config file
holding only that section for the `gateway db|audit ... --config` commands. SQLite is a
fresh file in the test's directory (`gateway serve` migrates it itself). PostgreSQL is a
unique schema on the server from GATEWAY_TEST_DATABASE_URL, migrated with `gateway db
upgrade --config` as an operator would (the gateway does not migrate PostgreSQL itself) and
dropped afterwards. Under CI=true a missing PostgreSQL fails the test instead of skipping it
(`require_postgres`, shared with the component-level audit tests). The `gateway` commands
run in-process through `gateway.cli.main`, the console script's own entry point: a new
Python process would only add seconds of imports.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from gateway.audit.database import create_audit_engine
from gateway.audit.export import event_json
from gateway.audit.query import AuditStore, EventFilter
from gateway.audit.settings import AuditSettings
from gateway.audit.verification import verify
from gateway.cli import main
from tests.unit.audit.databases import PG_URL, drop_schema, require_postgres

KINDS = ["sqlite", pytest.param("postgres", marks=[pytest.mark.postgres, pytest.mark.integration])]
"""Parametrize a module-scoped `db_kind` fixture with this to run on both databases."""

_MIGRATIONS = threading.Lock()
"""Alembic's `context` and `op` are process-wide proxies: two migrations run at once in one
process (the launcher's threads) would execute on each other's connections and hang."""


@dataclass(frozen=True)
class CliResult:
    code: int
    out: str
    err: str


def gateway_cli(*args: str) -> CliResult:
    """`gateway ARGS` through the console script's entry point, capturing what it prints.

    Redirects the process's stdout and stderr: call it from one thread at a time.
    """
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    return CliResult(code, out.getvalue(), err.getvalue())


@dataclass(frozen=True)
class AuditDb:
    kind: str
    section: dict[str, Any]
    """The gateway configuration's `audit:` section."""
    config_path: Path
    """A configuration file holding only `section`, for `gateway db|audit ... --config`."""

    @property
    def settings(self) -> AuditSettings:
        return AuditSettings(**self.section)

    def upgrade(self) -> None:
        """`gateway db upgrade --config X`: what an operator runs before serving on PostgreSQL.

        Not through `gateway_cli`: it runs in the launcher's threads, so it leaves stdout alone.
        """
        with _MIGRATIONS:
            code = main(["db", "upgrade", "--config", str(self.config_path)])
        if code != 0:
            raise RuntimeError(f"gateway db upgrade --config {self.config_path} exited {code}")

    def events(self) -> list[dict[str, Any]]:
        """Every stored event, oldest first, in the export shape (the field names of docs/audit.md)."""
        return asyncio.run(_read_events(self.settings))

    def chains_verify(self) -> bool:
        """Whether every hash chain verifies (what `gateway audit verify` checks)."""
        return asyncio.run(_verify(self.settings))


async def _read_events(settings: AuditSettings) -> list[dict[str, Any]]:
    engine = create_audit_engine(settings)
    try:
        return [event_json(stored) async for stored in AuditStore(engine).iter_events(EventFilter())]
    finally:
        await engine.dispose()


async def _verify(settings: AuditSettings) -> bool:
    engine = create_audit_engine(settings)
    try:
        return (await verify(engine)).ok
    finally:
        await engine.dispose()


@contextmanager
def audit_db(
    kind: str, directory: Path, name: str, *, database_url: str | None = None, **audit: Any
) -> Iterator[AuditDb]:
    """A fresh, migrated audit database of `kind`; a PostgreSQL schema is dropped on exit.

    `database_url` replaces the PostgreSQL server's URL (e.g. to go through a proxy);
    `audit` adds further keys to the `audit:` section (mode, retry timings, ...).
    """
    schema: str | None = None
    if kind == "postgres":
        asyncio.run(require_postgres())
        schema = f"e2e_audit_{uuid.uuid4().hex[:12]}"
        section: dict[str, Any] = {"database_url": database_url or PG_URL, "postgres_schema": schema}
    else:
        section = {"database_url": f"sqlite+aiosqlite:///{directory / f'{name}.db'}"}
    section.update(audit)
    config_path = directory / f"{name}-audit.yaml"
    config_path.write_text(yaml.safe_dump({"audit": section}))
    db = AuditDb(kind, section, config_path)
    try:
        if kind == "postgres":
            db.upgrade()
        yield db
    finally:
        if schema is not None:
            asyncio.run(drop_schema(schema))

"""Strict mode when the audit database is down: calls are refused (503) and nothing is forwarded.

PostgreSQL is reached through a TCP proxy the test can cut and restore, so the outage is a
real broken connection, not a mock. While it is cut, strict appends fail fast with
`AuditUnavailable`, the pipeline stops before its forwarding step, and the writer keeps the
refused events and commits them once the database is back: nothing is dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Self

import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy.engine import make_url

from gateway.audit.database import create_audit_engine
from gateway.audit.metrics import AuditMetrics
from gateway.audit.query import AuditStore, EventFilter
from gateway.audit.settings import AuditSettings
from gateway.audit.step import AuditRequest
from gateway.audit.verification import verify
from gateway.audit.writer import AuditWriter
from gateway.errors import AuditUnavailable
from gateway.pipeline import Context, run
from tests.unit.audit.databases import PG_URL, audit_database
from tests.unit.audit.fakes import make_context, make_event

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

FAST_RETRY = {"retry_initial_ms": 20, "retry_max_ms": 100, "commit_timeout_ms": 3000}


class ForwardRecorder:
    """Stands in for the upstream step: counts the calls that would have been forwarded."""

    name = "forward"

    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self, ctx: Context, /) -> Context:
        self.calls += 1
        return ctx


class CuttableProxy:
    """A TCP proxy to the database that can drop every connection and refuse new ones."""

    def __init__(self, host: str, port: int) -> None:
        self._target = (host, port)
        self._writers: set[asyncio.StreamWriter] = set()
        self.up = True
        self.port = 0

    async def __aenter__(self) -> Self:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.cut()
        self._server.close()

    def cut(self) -> None:
        self.up = False
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    def restore(self) -> None:
        self.up = True

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self.up:
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self._target)
        except OSError:
            writer.transport.abort()
            return
        self._writers |= {writer, up_writer}
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer), return_exceptions=True)

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.transport.abort()


@pytest.fixture
async def pg(tmp_path):
    async with audit_database("postgres", tmp_path) as database:
        yield database


@pytest.fixture
def metrics():
    return AuditMetrics.create(CollectorRegistry())


@pytest.mark.postgres
async def test_strict_calls_get_503_and_nothing_is_forwarded_while_postgres_is_down(pg, metrics):
    url = make_url(PG_URL)
    async with CuttableProxy(url.host or "127.0.0.1", url.port or 5432) as proxy:
        proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
        settings = pg.with_settings(database_url=proxied, **FAST_RETRY)
        engine = create_audit_engine(settings)
        forward = ForwardRecorder()
        try:
            async with AuditWriter(engine, settings, metrics=metrics) as writer:
                steps = [AuditRequest(writer, settings), forward]
                await run(steps, make_context(request_id="before"))
                assert forward.calls == 1

                proxy.cut()
                started = time.perf_counter()
                with pytest.raises(AuditUnavailable):
                    await run(steps, make_context(request_id="during-1"))
                with pytest.raises(AuditUnavailable):
                    await run(steps, make_context(request_id="during-2"))
                assert time.perf_counter() - started < 2.0
                assert forward.calls == 1
                assert not writer.is_healthy

                proxy.restore()
                assert await writer.wait_flushed(timeout_s=5)
                await run(steps, make_context(request_id="after"))
                assert forward.calls == 2
        finally:
            await engine.dispose()
    stored = [e.event.request_id async for e in AuditStore(pg.engine).iter_events(EventFilter())]
    assert stored == ["before", "during-1", "during-2", "after"]
    assert (await verify(pg.engine)).ok


async def test_strict_calls_get_503_when_the_sqlite_file_cannot_be_opened(tmp_path, metrics):
    settings = AuditSettings(database_url=f"sqlite+aiosqlite:///{tmp_path}/missing-dir/audit.db", **FAST_RETRY)
    engine = create_audit_engine(settings)
    forward = ForwardRecorder()
    try:
        async with AuditWriter(engine, settings.model_copy(update={"drain_timeout_s": 0.2}), metrics=metrics) as w:
            with pytest.raises(AuditUnavailable):
                await run([AuditRequest(w, settings), forward], make_context())
    finally:
        await engine.dispose()
    assert forward.calls == 0


async def test_a_full_queue_refuses_instead_of_growing(tmp_path, metrics):
    settings = AuditSettings(
        database_url=f"sqlite+aiosqlite:///{tmp_path}/missing-dir/audit.db",
        queue_max_events=3,
        drain_timeout_s=0.2,
        **FAST_RETRY,
    )
    engine = create_audit_engine(settings)
    try:
        async with AuditWriter(engine, settings, metrics=metrics) as writer:
            for n in range(3):
                await writer.append(make_event(n), wait=False)
            with pytest.raises(AuditUnavailable, match="queue full"):
                await writer.append(make_event(9), wait=False)
    finally:
        await engine.dispose()


async def test_events_left_when_the_drain_times_out_are_counted_as_lost(tmp_path, metrics):
    settings = AuditSettings(
        database_url=f"sqlite+aiosqlite:///{tmp_path}/missing-dir/audit.db", drain_timeout_s=0.2, **FAST_RETRY
    )
    engine = create_audit_engine(settings)
    try:
        async with AuditWriter(engine, settings, metrics=metrics) as writer:
            for n in range(4):
                await writer.append(make_event(n), wait=False)
    finally:
        await engine.dispose()
    lost = metrics.events_lost.labels(reason="drain_timeout")._value.get()
    assert lost == 4
    assert metrics.queue_depth._value.get() == 0


async def test_appends_after_shutdown_are_refused(tmp_path, metrics):
    async with audit_database("sqlite", tmp_path) as db:
        writer = AuditWriter(db.engine, db.settings, metrics=metrics)
        async with writer:
            await writer.append(make_event(1), wait=True)
        with pytest.raises(AuditUnavailable, match="closed"):
            await writer.append(make_event(2), wait=True)

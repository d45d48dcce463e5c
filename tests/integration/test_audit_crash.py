"""Strict mode survives SIGKILL: every event acknowledged to a caller is in the database.

A child process runs a strict writer with 16 concurrent callers and prints each event id as
soon as its `append(..., wait=True)` returns (the moment the gateway would forward or answer
the call). The test kills it with SIGKILL mid-stream, then finds every printed id committed
and the chain intact. The gateway-level crash test (a real server under load) builds on this.
"""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path

import anyio
import pytest
from anyio.streams.text import TextReceiveStream

from gateway.audit.query import AuditStore, EventFilter
from gateway.audit.verification import verify
from tests.unit.audit.databases import DATABASE_KINDS, audit_database

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

ACKS_BEFORE_KILL = 400

CHILD = """
import asyncio, json, os, sys
from datetime import UTC, datetime
from gateway.audit.database import create_audit_engine
from gateway.audit.record import AuditEvent, uuid7
from gateway.audit.settings import AuditSettings
from gateway.audit.writer import AuditWriter

async def caller(writer, n):
    while True:
        now = datetime.now(UTC)
        event = AuditEvent(uuid7(now, os.urandom(10)), "request", now, f"req-{n}", "0.1.0", tenant="acme")
        await writer.append(event, wait=True)
        sys.stdout.write("ACK " + event.event_id + "\\n")
        sys.stdout.flush()

async def main():
    settings = AuditSettings.model_validate(json.loads(sys.argv[1]))
    engine = create_audit_engine(settings)
    async with AuditWriter(engine, settings) as writer:
        await asyncio.gather(*(caller(writer, n) for n in range(16)))

asyncio.run(main())
"""


@pytest.fixture(params=DATABASE_KINDS)
async def db(request, tmp_path):
    async with audit_database(request.param, tmp_path) as database:
        yield database


async def test_every_acknowledged_event_survives_sigkill(db):
    root = Path(__file__).resolve().parents[2]
    acked: list[str] = []
    async with await anyio.open_process(
        [sys.executable, "-c", CHILD, json.dumps(db.settings.model_dump())], cwd=root
    ) as child:
        assert child.stdout is not None
        buffer = ""
        with anyio.fail_after(30):
            async for text in TextReceiveStream(child.stdout):
                buffer += text
                *lines, buffer = buffer.split("\n")
                acked.extend(line.removeprefix("ACK ") for line in lines if line.startswith("ACK "))
                if len(acked) >= ACKS_BEFORE_KILL:
                    child.send_signal(signal.SIGKILL)
                    break
        await child.wait()
    assert child.returncode == -signal.SIGKILL

    stored = {e.event.event_id async for e in AuditStore(db.engine).iter_events(EventFilter())}
    missing = [event_id for event_id in acked if event_id not in stored]
    assert missing == []
    report = await verify(db.engine)
    assert report.ok
    assert report.checked >= len(acked)

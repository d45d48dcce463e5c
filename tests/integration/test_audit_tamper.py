"""Tamper evidence on real databases: `gateway audit verify` after someone edits the tables.

The attacker here is an insider with the table owner's rights: the append-only triggers are
dropped first, then a row is modified, deleted, inserted or two rows are swapped. Verify
must fail (exit 1) and name the first bad event; untouched, it passes (exit 0).
"""

from __future__ import annotations

import io
import json
from dataclasses import replace
from datetime import timedelta

import anyio
import pytest
from prometheus_client import CollectorRegistry

from gateway.audit.batch_insert import event_row
from gateway.audit.chain import ChainLink, SealedEvent, event_hash
from gateway.audit.cli import cmd_verify
from gateway.audit.metrics import AuditMetrics
from gateway.audit.query import AuditStore, EventFilter
from gateway.audit.verification import verify
from gateway.audit.writer import AuditWriter
from tests.unit.audit.databases import DATABASE_KINDS, audit_database
from tests.unit.audit.fakes import T0, make_event

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

CHAIN = "gw-tamper"


@pytest.fixture(params=DATABASE_KINDS)
async def db(request, tmp_path):
    async with audit_database(request.param, tmp_path) as database:
        settings = database.with_settings(chain_id=CHAIN)
        async with AuditWriter(database.engine, settings, metrics=AuditMetrics.create(CollectorRegistry())) as writer:
            for n in range(1, 11):
                await writer.append(make_event(n), wait=True)
        await database.disable_guards()
        yield database


async def run_verify(db, **kwargs) -> tuple[int, str]:
    out = io.StringIO()
    code = await anyio.to_thread.run_sync(lambda: cmd_verify(db.settings, out=out, **kwargs))
    return code, out.getvalue()


async def event_id_at(db, seq: int) -> str:
    return await db.scalar("SELECT event_id FROM audit_events WHERE seq = :seq", seq=seq)


async def renumber_from(db, seq: int, by: int) -> None:
    """Shift seq numbers from `seq` on, in two steps so the unique constraint never trips."""
    await db.execute("UPDATE audit_events SET seq = -seq WHERE seq >= :seq", seq=seq)
    await db.execute("UPDATE audit_events SET seq = -seq + :by WHERE seq < 0", by=by)


async def test_an_untouched_log_verifies(db):
    code, out = await run_verify(db)
    assert code == 0
    assert f"OK      chain {CHAIN}: 10 events" in out


async def test_a_modified_row_is_named(db):
    target = await event_id_at(db, 5)
    await db.execute("UPDATE audit_events SET model = 'gpt-4o' WHERE seq = 5")
    code, out = await run_verify(db)
    assert code == 1
    assert f"BROKEN  chain {CHAIN}: modified at seq 5 event {target}" in out


async def test_a_modified_pii_index_row_is_named(db):
    target = await event_id_at(db, 5)
    await db.execute("UPDATE audit_event_pii SET count = 7 WHERE event_id = :e", e=target)
    code, out = await run_verify(db)
    assert code == 1
    assert f"modified at seq 5 event {target}" in out


async def test_a_deleted_row_is_named_by_its_successor(db):
    victim, successor = await event_id_at(db, 5), await event_id_at(db, 6)
    await db.execute("DELETE FROM audit_event_pii WHERE event_id = :e", e=victim)
    await db.execute("DELETE FROM audit_events WHERE event_id = :e", e=victim)
    code, out = await run_verify(db)
    assert code == 1
    assert f"deleted at seq 6 event {successor}" in out


async def test_a_deleted_row_is_found_even_after_renumbering(db):
    victim = await event_id_at(db, 5)
    await db.execute("DELETE FROM audit_event_pii WHERE event_id = :e", e=victim)
    await db.execute("DELETE FROM audit_events WHERE event_id = :e", e=victim)
    await renumber_from(db, 6, by=-1)
    code, out = await run_verify(db)
    assert code == 1
    assert "deleted at seq 5" in out


async def test_an_inserted_forgery_is_named(db):
    """A forger who knows the hash algorithm links a new row after event 4 and renumbers."""
    store = AuditStore(db.engine)
    (fourth,) = (await store.search(EventFilter(request_id="req-4"))).events
    forged_event = replace(make_event(4, at=T0 + timedelta(seconds=4, milliseconds=500)), request_id="req-forged")
    digest = event_hash(forged_event, chain_id=CHAIN, prev_hash=fourth.link.hash)
    row = event_row(SealedEvent(forged_event, ChainLink(CHAIN, 5, fourth.link.hash, digest)))
    await renumber_from(db, 5, by=1)
    columns = ", ".join(row)
    await db.execute(
        f"INSERT INTO audit_events ({columns}) VALUES ({', '.join(':' + c for c in row)})",  # noqa: S608 - our column names
        **{k: _bindable(v) for k, v in row.items()},
    )
    code, out = await run_verify(db)
    assert code == 1
    assert f"inserted at seq 5 event {forged_event.event_id}" in out


async def test_an_inserted_copy_of_an_old_row_is_named(db):
    columns = await _copyable_columns(db)
    await db.execute(
        f"INSERT INTO audit_events (event_id, seq, {', '.join(columns)}) "  # noqa: S608 - our column names
        f"SELECT 'copied-row', 11, {', '.join(columns)} FROM audit_events WHERE seq = 3"
    )
    code, out = await run_verify(db)
    assert code == 1
    assert "inserted at seq 11 event copied-row" in out


async def test_two_swapped_rows_are_named(db):
    moved = await event_id_at(db, 5)
    await db.execute("UPDATE audit_events SET seq = -1 WHERE seq = 4")
    await db.execute("UPDATE audit_events SET seq = 4 WHERE seq = 5")
    await db.execute("UPDATE audit_events SET seq = 5 WHERE seq = -1")
    code, out = await run_verify(db)
    assert code == 1
    assert f"reordered at seq 4 event {moved}" in out


async def test_verify_of_a_range_ignores_tampering_outside_it(db):
    await db.execute("UPDATE audit_events SET model = 'gpt-4o' WHERE seq = 2")
    after = await verify(db.engine, since=T0 + timedelta(seconds=5))
    assert after.ok
    assert after.checked == 6
    whole = await verify(db.engine)
    assert not whole.ok


async def test_verify_json_names_the_break(db):
    await db.execute("UPDATE audit_events SET decision = 'deny' WHERE seq = 7")
    code, out = await run_verify(db, as_json=True)
    assert code == 1
    assert '"kind": "modified"' in out
    assert '"seq": 7' in out


async def test_a_chain_whose_events_were_all_deleted_is_reported(db):
    await db.execute("DELETE FROM audit_event_pii")
    await db.execute("DELETE FROM audit_events")
    code, out = await run_verify(db)
    assert code == 1
    assert "all of its events are missing" in out


def _bindable(value):
    """JSON columns go through text SQL here, so encode them as the driver expects."""
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return value


async def _copyable_columns(db) -> list[str]:
    skip = {"id", "event_id", "seq"}
    return [c for c in event_row_columns() if c not in skip]


def event_row_columns() -> list[str]:
    sealed = SealedEvent(make_event(1), ChainLink(CHAIN, 1, "0" * 64, "0" * 64))
    return list(event_row(sealed))

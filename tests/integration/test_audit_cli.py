"""The `gateway audit` command functions against real databases, through their argparse wiring."""

from __future__ import annotations

import argparse
import contextlib
import io
import json
from datetime import timedelta

import anyio
import pytest
from prometheus_client import CollectorRegistry

from gateway.audit.cli import add_audit_commands, cmd_purge_content
from gateway.audit.metrics import AuditMetrics
from gateway.audit.query import AuditStore, EventFilter
from gateway.audit.verification import verify
from gateway.audit.writer import AuditWriter
from tests.unit.audit.databases import DATABASE_KINDS, audit_database
from tests.unit.audit.fakes import make_event

pytestmark = [pytest.mark.integration, pytest.mark.anyio]


@pytest.fixture(params=DATABASE_KINDS)
async def db(request, tmp_path):
    async with audit_database(request.param, tmp_path) as database:
        async with AuditWriter(
            database.engine, database.settings, metrics=AuditMetrics.create(CollectorRegistry())
        ) as w:
            for n in range(1, 13):
                await w.append(make_event(n, tenant="globex" if n > 9 else "acme"), wait=False)
        yield database


async def gateway_audit(db, *argv: str) -> tuple[int, str]:
    """Run `gateway audit ARGV` the way the top-level CLI would, capturing stdout."""
    parser = argparse.ArgumentParser(prog="gateway audit")
    add_audit_commands(parser.add_subparsers(required=True), lambda _args: db.settings)
    args = parser.parse_args(argv)
    out = io.StringIO()

    def call() -> int:
        with contextlib.redirect_stdout(out):
            return args.func(args)

    code = await anyio.to_thread.run_sync(call)
    return code, out.getvalue()


async def test_search_prints_one_line_per_event(db):
    code, out = await gateway_audit(db, "search", "--tenant", "globex")
    assert code == 0
    lines = out.splitlines()
    assert len(lines) == 3
    assert all("tenant=globex" in line for line in lines)


async def test_search_json_and_limit(db):
    code, out = await gateway_audit(db, "search", "--limit", "2", "--json")
    assert code == 0
    assert [json.loads(line)["request_id"] for line in out.splitlines()] == ["req-12", "req-11"]


async def test_export_csv_writes_header_and_rows(db):
    code, out = await gateway_audit(db, "export", "--format", "csv", "--pii-type", "EMAIL_ADDRESS")
    assert code == 0
    assert out.splitlines()[0].startswith("event_id,event_type,occurred_at")
    assert len(out.splitlines()) == 1 + len([n for n in range(1, 13) if n % 2 and n % 3])


async def test_stats_by_tenant(db):
    code, out = await gateway_audit(db, "stats", "--by", "tenant", "--event-type", "request", "--json")
    assert code == 0
    assert {(r["key"], r["events"]) for r in map(json.loads, out.splitlines())} == {("acme", 9), ("globex", 3)}


async def test_verify_passes_on_an_untouched_log(db):
    code, out = await gateway_audit(db, "verify", "--since", "3650d")
    assert code == 0
    assert out.strip().endswith("(12 events verified)")


async def test_bad_time_is_a_usage_error(db):
    code, _ = await gateway_audit(db, "search", "--since", "last tuesday")
    assert code == 2


async def test_purge_content_is_audited_and_keeps_the_chain(db):
    code, out = await gateway_audit(db, "purge-content", "--older-than", "0s", "--actor", "dpo@example.com")
    assert code == 0
    assert "purged content of 12 events" in out
    store = AuditStore(db.engine)
    (purge,) = (await store.search(EventFilter(event_type="purge"))).events
    assert purge.event.details["actor"] == "dpo@example.com"
    requests = [e async for e in store.iter_events(EventFilter(event_type="request"))]
    assert [e.event.content for e in requests] == [None] * 12
    report = await verify(db.engine)
    assert report.ok
    assert len(report.chains) == 2


async def test_purge_of_recent_content_leaves_it(db):
    out = io.StringIO()
    code = await anyio.to_thread.run_sync(
        lambda: cmd_purge_content(db.settings, older_than=timedelta(days=3650), out=out)
    )
    assert code == 0
    assert "purged content of 0 events" in out.getvalue()

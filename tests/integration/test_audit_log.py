"""The audit writer and store on real SQLite and real PostgreSQL.

Every test runs on both databases: events round-trip exactly, strict appends are durable when
they return, concurrent calls share commits, the chain verifies, filters and pagination find
what officers ask for, and the retention purge keeps the chain verifiable.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta

import anyio
import pytest
from prometheus_client import CollectorRegistry
from structlog.testing import capture_logs

from gateway.audit import writer as writer_module
from gateway.audit.metrics import AuditMetrics
from gateway.audit.query import AuditStore, EventFilter, InvalidCursor
from gateway.audit.record import outcome_event
from gateway.audit.retention import purge_content
from gateway.audit.verification import verify
from gateway.audit.writer import AuditWriter
from gateway.errors import PolicyDenied
from gateway.pipeline import Outcome, Usage
from tests.unit.audit.databases import DATABASE_KINDS, audit_database
from tests.unit.audit.fakes import T0, make_context, make_event

pytestmark = [pytest.mark.integration, pytest.mark.anyio]


@pytest.fixture(params=DATABASE_KINDS)
async def db(request, tmp_path):
    async with audit_database(request.param, tmp_path) as database:
        yield database


@pytest.fixture
def metrics():
    return AuditMetrics.create(CollectorRegistry())


def sample(metric, **labels) -> float:
    for family in metric.collect():
        for s in family.samples:
            wanted = s.name.endswith(("_total", "_count")) or s.name == family.name
            if wanted and all(s.labels.get(k) == v for k, v in labels.items()):
                return s.value
    return 0.0


async def test_a_strict_append_is_committed_when_it_returns(db, metrics):
    event = make_event(1)
    async with AuditWriter(db.engine, db.settings, metrics=metrics) as writer:
        await writer.append(event, wait=True)
        stored = await AuditStore(db.engine).get(event.event_id)
    assert stored is not None
    assert stored.event == event


async def test_every_field_round_trips_exactly(db, metrics):
    ctx = make_context(pii_counts={"EMAIL_ADDRESS": 2, "PERSON": 1})
    outcome = Outcome(
        status_code=200,
        backend="vllm-a",
        usage=Usage(123, 45, estimated=True),
        response_pii_counts={"PHONE_NUMBER": 1},
        answer_text="Reach me at <PHONE_NUMBER> — 你好 \x00 end",
        upstream_ms=12.3456,
        total_ms=20.0,
    )
    event = outcome_event(
        ctx, outcome, event_id="0190-e", now=T0, gateway_version="0.1.0", store_content="redacted", allowed=True
    )
    async with AuditWriter(db.engine, db.settings, metrics=metrics) as writer:
        await writer.append(event, wait=True)
    stored = await AuditStore(db.engine).get("0190-e")
    assert stored is not None
    assert stored.event == event
    assert (await verify(db.engine)).ok


async def test_concurrent_strict_calls_share_commits(db, metrics):
    events = [make_event(n) for n in range(200)]
    async with AuditWriter(db.engine, db.settings, metrics=metrics) as writer, anyio.create_task_group() as tg:
        for event in events:
            tg.start_soon(lambda e=event: writer.append(e, wait=True))
    assert sample(metrics.events_written, event_type="request") == 200
    assert sample(metrics.batches) < 200
    report = await verify(db.engine)
    assert report.ok
    assert report.checked == 200


async def test_async_mode_returns_before_commit_and_drains_on_exit(db, metrics):
    settings = db.with_settings(mode="async", batch_max_delay_ms=50)
    async with AuditWriter(db.engine, settings, metrics=metrics) as writer:
        for n in range(50):
            await writer.append(make_event(n), wait=False)
        assert writer.queue_depth > 0
    assert await AuditStore(db.engine).count(EventFilter()) == 50
    assert sample(metrics.queue_depth) == 0


async def test_wait_flushed_returns_once_queued_events_are_committed(db, metrics):
    async with AuditWriter(db.engine, db.with_settings(mode="async"), metrics=metrics) as writer:
        for n in range(20):
            await writer.append(make_event(n), wait=False)
        assert await writer.wait_flushed(timeout_s=5)
        assert await AuditStore(db.engine).count(EventFilter()) == 20


async def test_a_named_chain_continues_across_restarts(db, metrics):
    settings = db.with_settings(chain_id="gateway-1")
    async with AuditWriter(db.engine, settings, metrics=metrics) as writer:
        await writer.append(make_event(1), wait=True)
    async with AuditWriter(db.engine, settings, metrics=metrics) as writer:
        assert writer.head.seq == 1
        await writer.append(make_event(2), wait=True)
    report = await verify(db.engine)
    assert report.ok
    assert [(c.chain_id, c.checked) for c in report.chains] == [("gateway-1", 2)]


async def test_each_writer_has_its_own_chain_and_verify_walks_all(db, metrics):
    async with (
        AuditWriter(db.engine, db.settings, metrics=metrics) as first,
        AuditWriter(db.engine, db.settings, metrics=metrics) as second,
    ):
        for n in range(10):
            await (first if n % 2 else second).append(make_event(n), wait=True)
    report = await verify(db.engine)
    assert report.ok
    assert sorted(c.checked for c in report.chains) == [5, 5]
    assert {c.chain_id for c in report.chains} == {first.chain_id, second.chain_id}


async def write_calls(db, metrics):
    """Three calls: two allowed (one with PII), one denied."""
    events = [
        make_event(1),
        outcome_event(
            make_context(request_id="req-1", pii_counts={"EMAIL_ADDRESS": 1}),
            Outcome(status_code=200, backend="vllm-a", response_pii_counts={"PHONE_NUMBER": 2}),
            event_id="resp-1",
            now=T0 + timedelta(seconds=2),
            gateway_version="0.1.0",
            store_content="redacted",
            allowed=True,
        ),
        outcome_event(
            make_context(request_id="req-2", tenant="globex", pii_counts={}),
            Outcome(status_code=502, backend="vllm-b"),
            event_id="err-2",
            now=T0 + timedelta(minutes=90),
            gateway_version="0.1.0",
            store_content="redacted",
            allowed=True,
        ),
        outcome_event(
            make_context(request_id="req-3", pii_counts={}).deny(PolicyDenied(("model.not_allowed",))),
            Outcome(status_code=403),
            event_id="denied-3",
            now=T0 + timedelta(hours=3),
            gateway_version="0.1.0",
            store_content="redacted",
            allowed=False,
        ),
    ]
    async with AuditWriter(db.engine, db.settings, metrics=metrics) as writer:
        for event in events:
            await writer.append(event, wait=True)
    return events


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        (EventFilter(tenant="globex"), {"err-2"}),
        (EventFilter(decision="deny"), {"denied-3"}),
        (EventFilter(event_type="response"), {"resp-1"}),
        (EventFilter(status=502), {"err-2"}),
        (EventFilter(backend="vllm-a"), {"resp-1"}),
        (EventFilter(pii_type="PHONE_NUMBER"), {"resp-1"}),
        (EventFilter(request_id="req-3"), {"denied-3"}),
        (EventFilter(since=T0 + timedelta(minutes=1), until=T0 + timedelta(hours=2)), {"err-2"}),
    ],
)
async def test_search_filters(db, metrics, filters, expected):
    await write_calls(db, metrics)
    page = await AuditStore(db.engine).search(filters)
    assert {e.event.event_id for e in page.events} == expected


async def test_search_by_pii_type_finds_prompt_and_answer_findings(db, metrics):
    events = await write_calls(db, metrics)
    page = await AuditStore(db.engine).search(EventFilter(pii_type="EMAIL_ADDRESS"))
    expected = {e.event_id for e in events if "EMAIL_ADDRESS" in e.pii_request}
    assert {e.event.event_id for e in page.events} == expected


async def test_cursor_pagination_visits_every_event_once_newest_first(db, metrics):
    async with AuditWriter(db.engine, db.settings, metrics=metrics) as writer:
        for n in range(23):
            await writer.append(make_event(n), wait=False)
    store = AuditStore(db.engine)
    seen, cursor = [], None
    while True:
        page = await store.search(EventFilter(), limit=5, cursor=cursor)
        seen.extend(e.row_id for e in page.events)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert len(seen) == 23
    assert seen == sorted(seen, reverse=True)


async def test_a_forged_cursor_is_refused(db):
    with pytest.raises(InvalidCursor):
        await AuditStore(db.engine).search(EventFilter(), cursor="bm90LWEtY3Vyc29y")


async def test_stats_count_calls_by_outcome_per_bucket(db, metrics):
    await write_calls(db, metrics)
    store = AuditStore(db.engine)
    by_decision = await store.stats(EventFilter(), by="decision", bucket="day")
    assert {(r.key, r.events) for r in by_decision} == {("allow", 2), ("deny", 1)}
    by_tenant = await store.stats(EventFilter(), by="tenant", bucket="hour")
    assert [(r.bucket.hour, r.key, r.events) for r in by_tenant] == [
        (12, "acme", 1),
        (13, "globex", 1),
        (15, "acme", 1),
    ]
    by_pii = await store.stats(EventFilter(), by="pii_type", bucket="day")
    assert {(r.key, r.events, r.entities) for r in by_pii} == {("EMAIL_ADDRESS", 1, 1), ("PHONE_NUMBER", 1, 2)}


async def test_export_iterates_every_event_oldest_first_in_batches(db, metrics):
    async with AuditWriter(db.engine, db.settings, metrics=metrics) as writer:
        for n in range(25):
            await writer.append(make_event(n), wait=False)
    ids = [e.row_id async for e in AuditStore(db.engine).iter_events(EventFilter(), batch_size=7)]
    assert len(ids) == 25
    assert ids == sorted(ids)


async def test_purge_drops_old_content_and_the_chain_still_verifies(db, metrics):
    async with AuditWriter(db.engine, db.settings, metrics=metrics) as writer:
        for n in range(6):
            await writer.append(make_event(n, at=T0 + timedelta(days=n)), wait=True)
        result = await purge_content(
            db.engine, writer, older_than=T0 + timedelta(days=3), actor="officer", now=T0 + timedelta(days=10)
        )
    assert result.purged == 3
    store = AuditStore(db.engine)
    kept = [e async for e in store.iter_events(EventFilter(event_type="request"))]
    assert [e.event.content is None for e in kept] == [True, True, True, False, False, False]
    assert all(e.event.content_hash for e in kept)
    purge = (await store.search(EventFilter(event_type="purge"))).events
    assert [e.event.details["actor"] for e in purge] == ["officer"]
    report = await verify(db.engine)
    assert report.ok
    assert report.purged_before == T0 + timedelta(days=3)


async def test_the_database_refuses_updates_and_deletes(db, metrics):
    async with AuditWriter(db.engine, db.settings, metrics=metrics) as writer:
        await writer.append(make_event(1), wait=True)
    for sql in (
        "UPDATE audit_events SET model = 'x'",
        "DELETE FROM audit_events",
        "DELETE FROM audit_event_pii",
        "UPDATE audit_chains SET pid = 1",
        "UPDATE audit_events SET content = '{}'",
    ):
        with pytest.raises(Exception, match="append-only"):
            await db.execute(sql)
    assert (await verify(db.engine)).ok


async def test_an_event_the_database_rejects_is_counted_and_the_rest_commit(db, metrics):
    good = [make_event(n) for n in range(3)]
    duplicate = replace(make_event(9), event_id=good[0].event_id)
    with capture_logs() as logs:
        async with AuditWriter(db.engine, db.settings, metrics=metrics) as writer:
            await writer.append(good[0], wait=True)
            await asyncio.gather(
                writer.append(good[1], wait=True),
                writer.append(duplicate, wait=True),
                writer.append(good[2], wait=True),
                return_exceptions=True,
            )
    assert sample(metrics.events_lost, reason="rejected") == 1
    (rejected,) = [entry for entry in logs if entry["event"] == "audit.event_rejected"]
    assert rejected["event_id"] == good[0].event_id
    assert "about the merger" not in repr(logs)
    assert await AuditStore(db.engine).count(EventFilter()) == 3
    assert (await verify(db.engine)).ok


async def test_an_error_in_the_writers_body_propagates_unwrapped_after_the_drain(db, metrics):
    async def app_that_fails() -> None:
        async with AuditWriter(db.engine, db.with_settings(mode="async"), metrics=metrics) as writer:
            await writer.append(make_event(1), wait=False)
            raise LookupError("app failed")

    with pytest.raises(LookupError, match="app failed"):
        await app_that_fails()
    assert await AuditStore(db.engine).count(EventFilter()) == 1


async def test_a_commit_whose_answer_was_lost_is_recognised_on_retry(db, metrics, monkeypatch):
    # The database commits, then the connection drops before the writer hears back: the retry
    # is refused as a duplicate. The writer must see that the events are stored, not lose them
    # or break every later batch on the same sequence numbers.
    real_insert = writer_module.insert_batch
    lost_answers = [True]

    async def commit_then_drop(*args, **kwargs):
        await real_insert(*args, **kwargs)
        if lost_answers.pop() if lost_answers else False:
            raise ConnectionResetError("connection lost after commit")

    monkeypatch.setattr(writer_module, "insert_batch", commit_then_drop)
    events = [make_event(n) for n in range(1, 5)]
    async with AuditWriter(db.engine, db.settings, metrics=metrics) as writer:
        await writer.append(events[0], wait=True)
        for event in events[1:]:
            await writer.append(event, wait=True)

    assert sample(metrics.events_lost, reason="rejected") == 0
    assert await AuditStore(db.engine).count(EventFilter()) == len(events)
    assert (await verify(db.engine)).ok

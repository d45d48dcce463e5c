"""The audit step and finisher with a real writer: every kind of call leaves its events.

Allowed, denied, failed and streamed calls, on real SQLite and PostgreSQL. The step runs
after policy and redaction (its body is the redacted one); the finisher runs for every call.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from prometheus_client import CollectorRegistry

from gateway.audit.metrics import AuditMetrics
from gateway.audit.query import AuditStore, EventFilter
from gateway.audit.step import AuditFinisher, AuditRequest
from gateway.audit.verification import verify
from gateway.audit.writer import AuditWriter
from gateway.errors import PiiBlocked, UpstreamTimeout
from gateway.pipeline import Context, Outcome, Usage, run
from tests.unit.audit.databases import DATABASE_KINDS, audit_database
from tests.unit.audit.fakes import RAW_BODY, make_context

pytestmark = [pytest.mark.integration, pytest.mark.anyio]


class BlockPii:
    """A stand-in PII step that blocks every call (denial is data)."""

    name = "pii"

    async def __call__(self, ctx: Context, /) -> Context:
        return ctx.deny(PiiBlocked(("CREDIT_CARD",)))


@pytest.fixture(params=DATABASE_KINDS)
async def db(request, tmp_path):
    async with audit_database(request.param, tmp_path) as database:
        yield database


async def call(db, ctx: Context, outcome: Outcome, *, before: Sequence = (), **settings) -> list:
    audit_settings = db.with_settings(**settings)
    async with AuditWriter(db.engine, audit_settings, metrics=AuditMetrics.create(CollectorRegistry())) as writer:
        ctx = await run([*before, AuditRequest(writer, audit_settings)], ctx)
        await AuditFinisher(writer, audit_settings).finish(ctx, outcome)
    events = [e.event async for e in AuditStore(db.engine).iter_events(EventFilter(request_id=ctx.request.request_id))]
    assert (await verify(db.engine)).ok
    return events


async def test_allowed_call_has_request_and_response_events(db):
    outcome = Outcome(status_code=200, backend="vllm-a", usage=Usage(20, 8), answer_text="Sent.", total_ms=31.0)
    request, response = await call(db, make_context(), outcome)
    assert (request.event_type, response.event_type) == ("request", "response")
    assert request.content == {"request": make_context().body}
    assert "jane.doe@example.com" not in str(request.content)
    assert response.content == {"answer": "Sent."}
    assert (response.backend, response.prompt_tokens, response.completion_tokens) == ("vllm-a", 20, 8)
    assert response.latency_ms["total"] == 31.0
    assert "audit" in response.latency_ms
    assert response.decision == "allow"


async def test_denied_call_has_one_denied_event_without_content(db):
    ctx = make_context(body=RAW_BODY)
    (denied,) = await call(db, ctx, Outcome(status_code=403), before=[BlockPii()])
    assert denied.event_type == "denied"
    assert denied.error_code == "pii.blocked"
    assert denied.content is None


async def test_failed_call_has_request_and_error_events(db):
    outcome = Outcome(status_code=504, error=UpstreamTimeout("backend too slow"), backend="vllm-b")
    request, error = await call(db, make_context(), outcome)
    assert (request.event_type, error.event_type) == ("request", "error")
    assert (error.status_code, error.error_code, error.backend) == (504, "upstream.timeout", "vllm-b")


async def test_streamed_call_is_recorded_as_streamed(db):
    outcome = Outcome(status_code=200, answer_text="chunked answer", response_pii_counts={"PERSON": 1})
    request, response = await call(db, make_context(stream=True), outcome)
    assert request.stream is True
    assert response.stream is True
    assert response.pii_response == {"PERSON": 1}


async def test_no_content_is_stored_when_settings_say_none(db):
    events = await call(db, make_context(), Outcome(status_code=200, answer_text="x"), store_content="none")
    assert [e.content for e in events] == [None, None]


async def test_async_mode_still_records_both_events(db):
    events = await call(db, make_context(), Outcome(status_code=200), mode="async")
    assert [e.event_type for e in events] == ["request", "response"]

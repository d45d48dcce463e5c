"""The audit step and finisher with an in-memory AuditLog: which event, when, and waiting or not."""

from __future__ import annotations

import pytest
from structlog.testing import capture_logs

from gateway.audit.settings import AuditSettings
from gateway.audit.step import AUDIT_EXTRA, AuditFinisher, AuditMark, AuditRequest
from gateway.errors import AuditUnavailable, PolicyDenied, UpstreamError
from gateway.pipeline import Outcome, Usage, run
from tests.unit.audit.fakes import T0, RecordingAuditLog, make_context

pytestmark = pytest.mark.anyio

STRICT = AuditSettings()
ASYNC = AuditSettings(mode="async")


def clock():
    return T0


async def test_step_appends_the_request_event_and_waits_for_it_in_strict_mode():
    log = RecordingAuditLog()
    ctx = await AuditRequest(log, STRICT, clock=clock)(make_context())
    assert [e.event_type for e in log.events] == ["request"]
    assert log.waits == [True]
    assert ctx.extras[AUDIT_EXTRA] == AuditMark(log.events[0].event_id, "request")


async def test_step_does_not_wait_in_async_mode():
    log = RecordingAuditLog()
    await AuditRequest(log, ASYNC, clock=clock)(make_context())
    assert log.waits == [False]


async def test_step_raises_audit_unavailable_when_the_log_cannot_record():
    log = RecordingAuditLog(fail=True)
    with pytest.raises(AuditUnavailable):
        await AuditRequest(log, STRICT, clock=clock)(make_context())


async def test_step_timing_is_recorded_by_the_pipeline():
    log = RecordingAuditLog()
    ctx = await run([AuditRequest(log, STRICT, clock=clock)], make_context())
    assert "audit" in ctx.timings_ms


async def test_step_records_a_denial_when_run_on_a_denied_call():
    log = RecordingAuditLog()
    step = AuditRequest(log, STRICT, clock=clock)
    denied = make_context().deny(PolicyDenied(("model.not_allowed",)), "model.not_allowed")
    ctx = await step(denied)
    await AuditFinisher(log, STRICT, clock=clock).finish(ctx, Outcome(status_code=403, error=denied.denial))
    assert [e.event_type for e in log.events] == ["denied"]


async def test_finisher_records_a_response_after_the_request():
    log = RecordingAuditLog()
    ctx = await AuditRequest(log, STRICT, clock=clock)(make_context())
    outcome = Outcome(status_code=200, backend="vllm-a", usage=Usage(10, 5), answer_text="ok")
    await AuditFinisher(log, STRICT, clock=clock).finish(ctx, outcome)
    request, response = log.events
    assert (request.event_type, response.event_type) == ("request", "response")
    assert response.request_id == request.request_id
    assert response.decision == "allow"
    assert log.waits == [True, True]


async def test_finisher_records_a_denial_the_pipeline_stopped_at():
    log = RecordingAuditLog()
    denied = make_context().deny(PolicyDenied(("license.non_commercial",)), "license.non_commercial")
    await AuditFinisher(log, STRICT, clock=clock).finish(denied, Outcome(status_code=403, error=denied.denial))
    (event,) = log.events
    assert (event.event_type, event.decision, event.status_code) == ("denied", "deny", 403)


async def test_finisher_records_an_upstream_failure_as_error():
    log = RecordingAuditLog()
    ctx = await AuditRequest(log, STRICT, clock=clock)(make_context())
    await AuditFinisher(log, STRICT, clock=clock).finish(ctx, Outcome(status_code=502, error=UpstreamError("boom")))
    assert log.events[-1].event_type == "error"
    assert log.events[-1].error_code == "upstream.error"


async def test_finisher_raises_when_a_successful_response_cannot_be_recorded():
    """An acknowledged call must have its record: the gateway answers 503 instead."""
    log = RecordingAuditLog(fail=True)
    with pytest.raises(AuditUnavailable):
        await AuditFinisher(log, STRICT, clock=clock).finish(make_context(), Outcome(status_code=200))


async def test_finisher_logs_but_does_not_raise_when_an_error_event_cannot_be_recorded():
    log = RecordingAuditLog(fail=True)
    with capture_logs() as logs:
        await AuditFinisher(log, STRICT, clock=clock).finish(
            make_context(), Outcome(status_code=503, error=AuditUnavailable("down"), answer_text="secret answer")
        )
    assert log.waits == [True]
    assert [entry["event"] for entry in logs] == ["audit.outcome_not_committed"]
    assert logs[0]["request_id"] == "req-1"
    assert "secret answer" not in repr(logs)

"""Building audit events from a call: what is recorded, what never is."""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest

from gateway.audit.chain import content_hash
from gateway.audit.record import (
    LEN_USER_AGENT,
    canonical_json,
    format_time,
    outcome_event,
    outcome_event_type,
    purge_event,
    request_event,
    uuid7,
)
from gateway.errors import PolicyDenied, UpstreamTimeout
from gateway.pipeline import CallRequest, Outcome, Usage
from tests.unit.audit.fakes import RAW_BODY, REDACTED_BODY, T0, make_context


def build_request(ctx=None, *, store_content="redacted"):
    return request_event(
        ctx or make_context(), event_id="e-1", now=T0, gateway_version="0.1.0", store_content=store_content
    )


def build_outcome(ctx=None, outcome=None, *, allowed=True, store_content="redacted"):
    return outcome_event(
        ctx or make_context(),
        outcome or Outcome(status_code=200, backend="vllm-a", answer_text="Done.", usage=Usage(12, 3)),
        event_id="e-2",
        now=T0,
        gateway_version="0.1.0",
        store_content=store_content,
        allowed=allowed,
    )


def test_request_event_stores_the_redacted_body_not_the_clients():
    event = build_request()
    assert event.content == {"request": REDACTED_BODY}
    assert "jane.doe@example.com" not in json.dumps(event.content)
    assert "jane.doe@example.com" in json.dumps(RAW_BODY)


def test_request_event_carries_who_what_and_the_decision():
    event = build_request()
    assert (event.event_type, event.decision) == ("request", "allow")
    assert (event.tenant, event.key_id, event.roles) == ("acme", "key_0123456789ab", ("app",))
    assert (event.endpoint, event.requested_model, event.model) == ("chat", "gpt-4o-mini", "llama-3.1-8b")
    assert event.reasons == ("pii.redacted",)
    assert event.pii_actions == {"EMAIL_ADDRESS": "mask"}
    assert event.policy_version == "rev-42"
    assert event.pii_request == {"EMAIL_ADDRESS": 1}
    assert (event.client_addr, event.user_agent) == ("10.0.0.7", "OpenAI/Python 1.40.0")


def test_content_hash_matches_the_stored_content():
    event = build_request()
    assert event.content_hash == content_hash(event.content)


def test_no_content_is_kept_when_settings_say_none():
    event = build_request(store_content="none")
    assert event.content is None
    assert event.content_hash is None


def test_policy_can_narrow_content_storage_per_call():
    event = build_request(replace(make_context(), store_content="none"))
    assert event.content is None


def test_policy_cannot_widen_content_storage_beyond_settings():
    event = build_request(replace(make_context(), store_content="full"), store_content="none")
    assert event.content is None


def test_response_event_stores_the_answer_tokens_and_backend():
    event = build_outcome()
    assert event.event_type == "response"
    assert event.content == {"answer": "Done."}
    assert (event.backend, event.prompt_tokens, event.completion_tokens, event.tokens_estimated) == (
        "vllm-a",
        12,
        3,
        False,
    )
    assert event.status_code == 200
    assert event.error_code is None


def test_response_event_carries_latency_per_step_upstream_and_total():
    event = build_outcome(outcome=Outcome(status_code=200, upstream_ms=40.12345, total_ms=45.0))
    assert event.latency_ms == {"auth": 0.123, "pii": 2.5, "policy": 0.75, "upstream": 40.123, "total": 45.0}


def test_response_pii_is_summarised_by_type_and_count_only():
    event = build_outcome(outcome=Outcome(status_code=200, response_pii_counts={"PHONE_NUMBER": 2, "PERSON": 0}))
    assert event.pii_response == {"PHONE_NUMBER": 2}


def test_denied_call_is_recorded_without_content():
    ctx = make_context(body=RAW_BODY).deny(PolicyDenied(("license.mau_exceeded",)))
    event = build_outcome(ctx, Outcome(status_code=403, answer_text="ignored"), allowed=False)
    assert event.event_type == "denied"
    assert event.decision == "deny"
    assert event.error_code == "policy.denied"
    assert "license.mau_exceeded" in event.reasons
    assert event.content is None


def test_failed_call_is_an_error_event_with_the_error_code():
    event = build_outcome(outcome=Outcome(status_code=504, error=UpstreamTimeout("slow")))
    assert event.event_type == "error"
    assert event.error_code == "upstream.timeout"
    assert event.decision == "allow"


def test_a_call_that_failed_before_the_decision_has_no_decision():
    event = build_outcome(outcome=Outcome(status_code=503), allowed=False)
    assert event.event_type == "error"
    assert event.decision is None


@pytest.mark.parametrize(
    ("status", "error", "denied", "expected"),
    [(200, None, False, "response"), (502, None, False, "error"), (200, UpstreamTimeout("x"), False, "error")],
)
def test_outcome_event_type(status, error, denied, expected):
    assert outcome_event_type(make_context(), Outcome(status_code=status, error=error)) == expected


def test_hostile_header_values_are_clipped_and_lose_nul_characters():
    request = CallRequest(
        request_id="req-1",
        endpoint="chat",
        requested_model="m",
        model="m",
        body={},
        user_agent="evil\x00agent" + "x" * 2000,
    )
    event = build_request(replace(make_context(), request=request))
    assert event.user_agent is not None
    assert "\x00" not in event.user_agent
    assert len(event.user_agent) == LEN_USER_AGENT


def test_content_that_json_cannot_carry_is_not_stored_and_is_flagged():
    event = build_request(make_context(body={"temperature": float("nan")}))
    assert event.content is None
    assert event.details == {"content": "not_json_encodable"}


def test_event_time_is_utc():
    event = request_event(
        make_context(),
        event_id="e",
        now=datetime(2025, 3, 1, 14, 0, tzinfo=timezone(timedelta(hours=2))),
        gateway_version="0.1.0",
        store_content="redacted",
    )
    assert event.occurred_at == datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
    assert format_time(event.occurred_at) == "2025-03-01T12:00:00.000000Z"


def test_purge_event_records_cutoff_and_actor():
    event = purge_event(
        event_id="e",
        request_id="purge-e",
        now=T0,
        gateway_version="0.1.0",
        older_than=T0 - timedelta(days=90),
        actor="ana",
    )
    assert event.event_type == "purge"
    assert event.details == {"action": "purge-content", "older_than": "2024-12-01T12:00:00.000000Z", "actor": "ana"}


def test_canonical_json_is_independent_of_key_order():
    assert canonical_json({"b": 1, "a": [1, "é"]}) == canonical_json({"a": [1, "é"], "b": 1})
    assert canonical_json({"a": "é"}) == '{"a":"é"}'.encode()


def test_uuid7_is_a_version_7_uuid_ordered_by_time():
    first = uuid7(T0, os.urandom(10))
    later = uuid7(T0 + timedelta(milliseconds=1), os.urandom(10))
    assert uuid.UUID(first).version == 7
    assert first < later

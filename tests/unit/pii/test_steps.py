from __future__ import annotations

import asyncio
import copy
import json

import pytest
from structlog.testing import capture_logs

from gateway.errors import PiiBlocked, PiiDetectorUnavailable
from gateway.pii.answer import PSEUDONYMIZER_KEY, AnswerGuard
from gateway.pii.findings import Finding
from gateway.pii.locations import request_texts
from gateway.pii.pseudonyms import Pseudonymizer
from gateway.pii.steps import FINDINGS_KEY, ApplyPiiActions, DetectPii
from gateway.pipeline import run
from tests.unit.pii.fakes import FailingDetector, RegexDetector, make_context

pytestmark = pytest.mark.anyio

KEY = b"audit-correlation-key"
BODY = {
    "model": "m",
    "messages": [
        {"role": "system", "content": "You help Alice Jones."},
        {"role": "user", "content": [{"type": "text", "text": "Mail alice@example.com, ask Bob."}]},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "c", "type": "function", "function": {"name": "mail", "arguments": '{"to": "Alice Jones"}'}}
            ],
        },
        {"role": "tool", "tool_call_id": "c", "content": "sent to alice@example.com, call 555-123-4567"},
    ],
}
VALUES = ("Alice Jones", "alice@example.com", "Bob", "555-123-4567")


async def _pipeline(body=BODY, actions=None, detector=None, **kwargs):
    ctx = make_context(body, actions=actions)
    return await run([DetectPii(detector or RegexDetector(), **kwargs), ApplyPiiActions(KEY)], ctx)


async def test_detection_counts_types_and_keeps_findings_aligned_with_the_texts():
    detector = RegexDetector()
    ctx = await DetectPii(detector)(make_context(BODY))

    assert ctx.pii_counts == {"PERSON": 3, "EMAIL_ADDRESS": 2, "PHONE_NUMBER": 1}
    findings = ctx.extras[FINDINGS_KEY]
    locations = request_texts(BODY, "chat")
    assert len(findings) == len(locations)
    assert [loc.text[f.start : f.end] for loc, fs in zip(locations, findings, strict=True) for f in fs] == [
        "Alice Jones",
        "alice@example.com",
        "Bob",
        "Alice Jones",
        "alice@example.com",
        "555-123-4567",
    ]
    assert detector.batches == [len(locations)]
    assert ctx.body is BODY


async def test_a_request_without_text_does_not_call_the_detector():
    detector = RegexDetector()
    ctx = await DetectPii(detector)(make_context({"input": [1, 2, 3]}, endpoint="embedding"))

    assert (detector.calls, ctx.pii_counts, ctx.extras[FINDINGS_KEY]) == (0, {}, ())


async def test_masked_and_hashed_values_never_reach_the_forwarded_body():
    original = copy.deepcopy(BODY)
    ctx = await _pipeline(actions={"EMAIL_ADDRESS": "hash", "PHONE_NUMBER": "mask", "PERSON": "mask"})

    forwarded = json.dumps(ctx.body)
    assert not any(value in forwarded for value in VALUES)
    assert "<PHONE_NUMBER>" in forwarded
    hashed = ctx.body["messages"][1]["content"][0]["text"].split()[1].rstrip(",")
    assert hashed.startswith("<EMAIL_ADDRESS:")
    assert hashed in ctx.body["messages"][3]["content"]
    assert ctx.reasons == ("pii.redacted",)
    assert original == BODY


async def test_pseudonyms_are_stable_across_messages_and_tool_calls():
    ctx = await _pipeline(actions={"PERSON": "pseudonymize"})

    messages = ctx.body["messages"]
    assert messages[0]["content"] == "You help <PERSON_1>."
    assert messages[1]["content"][0]["text"] == "Mail alice@example.com, ask <PERSON_2>."
    assert json.loads(messages[2]["tool_calls"][0]["function"]["arguments"]) == {"to": "<PERSON_1>"}
    assert ctx.reasons == ("pii.redacted", "pii.pseudonymized")
    pseudonymizer = ctx.extras[PSEUDONYMIZER_KEY]
    assert pseudonymizer.restore("<PERSON_1> and <PERSON_2>") == "Alice Jones and Bob"


async def test_a_block_action_denies_the_call_naming_types_only():
    with capture_logs() as logs:
        ctx = await _pipeline(actions={"PHONE_NUMBER": "block", "EMAIL_ADDRESS": "block", "PERSON": "mask"})

    assert isinstance(ctx.denial, PiiBlocked)
    assert ctx.denial.entity_types == ("EMAIL_ADDRESS", "PHONE_NUMBER")
    assert ctx.reasons == ("pii.blocked",)
    assert ctx.body is BODY
    assert not any(value in ctx.denial.message for value in VALUES)
    assert any(e["event"] == "pii.blocked" for e in logs)


async def test_entity_types_without_an_action_pass_unchanged():
    ctx = await _pipeline(actions={"CREDIT_CARD": "block"})

    assert ctx.body == BODY
    assert ctx.denial is None
    assert ctx.reasons == ()
    assert isinstance(ctx.extras[PSEUDONYMIZER_KEY], Pseudonymizer)


async def test_an_unknown_action_masks_and_warns():
    with capture_logs() as logs:
        ctx = await _pipeline(actions={"PERSON": "obliterate"})

    assert "<PERSON>" in ctx.body["messages"][0]["content"]
    assert [e["actions"] for e in logs if e["event"] == "pii.unknown_action"] == [{"PERSON": "obliterate"}]


async def test_detector_failure_fails_the_call_closed():
    with pytest.raises(PiiDetectorUnavailable):
        await _pipeline(actions={"PERSON": "mask"}, detector=FailingDetector())


async def test_detector_failure_can_be_configured_to_fail_open():
    with capture_logs() as logs:
        ctx = await _pipeline(actions={"PERSON": "mask"}, detector=FailingDetector(), fail_open=True)

    assert ctx.body == BODY
    assert ctx.reasons == ("pii.unscanned",)
    assert ctx.extras[FINDINGS_KEY] is None
    event = next(e for e in logs if e["event"] == "pii.unavailable")
    assert (event["direction"], event["fail_open"], event["error_type"]) == ("request", True, "RuntimeError")


async def test_a_detector_returning_the_wrong_number_of_results_is_unavailable():
    class Short(RegexDetector):
        async def find(self, texts, /):
            return [()]

    with pytest.raises(PiiDetectorUnavailable):
        await _pipeline(detector=Short())


async def test_steps_have_names_for_timings():
    ctx = await _pipeline(actions={"PERSON": "mask"})

    assert set(ctx.timings_ms) == {"pii.scan", "pii.apply"}


async def test_concurrent_requests_never_see_each_others_values():
    class Interleaving(RegexDetector):
        """Yields to the other request between every call, so the two really interleave."""

        async def find(self, texts, /):
            await asyncio.sleep(0.001)
            return await super().find(texts)

    detector = Interleaving()
    actions = {"PERSON": "pseudonymize", "EMAIL_ADDRESS": "pseudonymize"}

    async def one_call(name, email, request_id):
        body = {"messages": [{"role": "user", "content": f"I am {name}, mail {email}."}]}
        ctx = await run(
            [DetectPii(detector), ApplyPiiActions(KEY)],
            make_context(body, actions=actions, request_id=request_id),
        )
        guard = AnswerGuard.for_context(ctx, detector)
        answer, _ = await guard.guard_body(
            {"choices": [{"message": {"content": "Hello <PERSON_1>, noted <EMAIL_ADDRESS_1>."}}]}, "chat"
        )
        streamed = guard.channel((0, "content"))
        pieces = [await streamed.feed(char) for char in "Bye <PERSON_1>!"]
        pieces.append(await streamed.flush())
        return ctx, answer["choices"][0]["message"]["content"], "".join(pieces)

    (ctx_a, answer_a, stream_a), (ctx_b, answer_b, stream_b) = await asyncio.gather(
        one_call("Alice Jones", "alice@example.com", "a"), one_call("John Smith", "john@example.net", "b")
    )

    assert ctx_a.body["messages"][0]["content"] == ctx_b.body["messages"][0]["content"]
    assert answer_a == "Hello Alice Jones, noted alice@example.com."
    assert answer_b == "Hello John Smith, noted john@example.net."
    assert (stream_a, stream_b) == ("Bye Alice Jones!", "Bye John Smith!")
    p_a, p_b = ctx_a.extras[PSEUDONYMIZER_KEY], ctx_b.extras[PSEUDONYMIZER_KEY]
    assert p_a is not p_b
    assert p_a.restore("<PERSON_1>") == "Alice Jones"
    assert p_b.restore("<PERSON_1>") == "John Smith"


async def test_no_raw_value_appears_in_any_log_event():
    detector = RegexDetector()
    with capture_logs() as logs:
        await _pipeline(actions={"PERSON": "pseudonymize", "EMAIL_ADDRESS": "hash", "PHONE_NUMBER": "mask"})
        await _pipeline(actions={"PHONE_NUMBER": "block"})
        await _pipeline(actions={"PERSON": "weird"})
        await _pipeline(actions={"EMAIL_ADDRESS": "mask"}, detector=FailingDetector(), fail_open=True)
        with pytest.raises(PiiDetectorUnavailable):
            await _pipeline(detector=FailingDetector(RuntimeError("boom: alice@example.com")))
        guard = AnswerGuard(detector, {"PERSON": "mask", "EMAIL_ADDRESS": "mask"})
        await guard.guard_body({"choices": [{"text": "Alice Jones alice@example.com 555-123-4567"}]}, "completion")
        failing = AnswerGuard(FailingDetector(RuntimeError("Bob")), {"PERSON": "mask"})
        with pytest.raises(PiiDetectorUnavailable):
            await failing.guard_body({"choices": [{"text": "Bob"}]}, "completion")

    assert {e["event"] for e in logs} >= {
        "pii.detected",
        "pii.redacted",
        "pii.blocked",
        "pii.unknown_action",
        "pii.unavailable",
        "pii.answer_scanned",
    }
    dumped = repr(logs)
    assert not any(value in dumped for value in (*VALUES, "alice", "boom"))


async def test_apply_without_detection_leaves_the_call_alone():
    ctx = await ApplyPiiActions(KEY)(make_context(BODY, actions={"PERSON": "block"}))

    assert ctx.denial is None
    assert ctx.body is BODY


async def test_findings_that_do_not_match_the_body_are_an_internal_error():
    ctx = make_context(BODY, actions={"PERSON": "mask"}).with_extra(FINDINGS_KEY, ((Finding("PERSON", 0, 3, 1.0),),))

    with pytest.raises(Exception, match="do not match"):
        await ApplyPiiActions(KEY)(ctx)


async def test_hash_without_a_key_masks_and_warns():
    with capture_logs() as logs:
        ctx = await run(
            [DetectPii(RegexDetector()), ApplyPiiActions(None)], make_context(BODY, actions={"EMAIL_ADDRESS": "hash"})
        )

    assert "<EMAIL_ADDRESS>" in ctx.body["messages"][3]["content"]
    assert any(e["event"] == "pii.hash_key_missing" for e in logs)


async def test_malformed_findings_in_the_context_are_an_internal_error():
    locations = request_texts(BODY, "chat")
    bad = tuple(("not a finding",) for _ in locations)
    ctx = make_context(BODY, actions={"PERSON": "mask"}).with_extra(FINDINGS_KEY, bad)

    with pytest.raises(Exception, match="malformed"):
        await ApplyPiiActions(KEY)(ctx)

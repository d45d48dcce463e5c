from __future__ import annotations

import copy
import json

import pytest
from structlog.testing import capture_logs

from gateway.errors import PiiDetectorUnavailable
from gateway.pii.answer import PSEUDONYMIZER_KEY, AnswerGuard
from gateway.pii.pseudonyms import Pseudonymizer
from gateway.pii.stream import WindowSettings
from tests.unit.pii.fakes import FailingDetector, RegexDetector, make_context

pytestmark = pytest.mark.anyio

ACTIONS = {"PERSON": "pseudonymize", "EMAIL_ADDRESS": "mask", "PHONE_NUMBER": "block"}


def _pseudonymizer() -> Pseudonymizer:
    p = Pseudonymizer()
    p.placeholder_for("PERSON", 'Alice "AJ" Jones')
    return p


def _guard(detector=None, **kwargs) -> AnswerGuard:
    return AnswerGuard(detector or RegexDetector(), ACTIONS, _pseudonymizer(), **kwargs)


def _chat_chunk(content=None, *, index=0, finish=None, tool=None):
    delta = {}
    if content is not None:
        delta["content"] = content
    if tool is not None:
        delta["tool_calls"] = [{"index": tool[0], "function": {"arguments": tool[1]}}]
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "model": "m",
        "choices": [{"index": index, "delta": delta, "finish_reason": finish}],
    }


async def _relay(guard, chunks, endpoint="chat"):
    """What a relay would send: each guarded chunk, then the flush chunk if any."""
    sent = [await guard.guard_chunk(chunk, endpoint) for chunk in chunks]
    tail = await guard.flush_chunk(endpoint, chunks[-1] if chunks else None)
    return sent + ([tail] if tail is not None else [])


def _content(chunks, index=0):
    return "".join(c["delta"].get("content") or "" for chunk in chunks for c in chunk["choices"] if c["index"] == index)


async def test_non_streamed_answer_is_redacted_and_placeholders_restored():
    body = {
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": "Dear <PERSON_1>, write to bob.smith@example.org or Bob.",
                    "tool_calls": [{"function": {"name": "send", "arguments": '{"to": "<PERSON_1>"}'}}],
                },
            }
        ],
        "usage": {"prompt_tokens": 3},
    }
    original = copy.deepcopy(body)
    guard = _guard()

    out, counts = await guard.guard_body(body, "chat")

    message = out["choices"][0]["message"]
    assert message["content"] == 'Dear Alice "AJ" Jones, write to <EMAIL_ADDRESS> or <PERSON_2>.'
    assert json.loads(message["tool_calls"][0]["function"]["arguments"]) == {"to": 'Alice "AJ" Jones'}
    assert counts == {"EMAIL_ADDRESS": 1, "PERSON": 1}
    assert guard.response_counts == counts
    assert body == original


async def test_a_blocked_entity_in_an_answer_is_masked():
    out, counts = await _guard().guard_body({"choices": [{"text": "call 555-123-4567 now"}]}, "completion")

    assert out["choices"][0]["text"] == "call <PHONE_NUMBER> now"
    assert counts == {"PHONE_NUMBER": 1}


async def test_embedding_answers_pass_without_a_detector_call():
    detector = RegexDetector()
    body = {"data": [{"embedding": [0.1, 0.2]}]}

    out, counts = await _guard(detector).guard_body(body, "embedding")

    assert (out, counts, detector.calls) == (body, {}, 0)


async def test_a_streamed_channel_fed_one_character_at_a_time_equals_the_whole_answer():
    text = "Hi <PERSON_1>! Mail bob.smith@example.org or call 555-123-4567. Bye Bob"
    whole, _ = await _guard().guard_body({"choices": [{"text": text}]}, "completion")
    channel = _guard().channel((0, "content"))

    pieces = [await channel.feed(char) for char in text]
    pieces.append(await channel.flush())

    assert "".join(pieces) == whole["choices"][0]["text"]
    assert not any("<PERSON_1" in piece or "@" in piece for piece in pieces)


async def test_streamed_chunks_are_guarded_and_the_finish_chunk_carries_the_held_tail():
    text = "Hello <PERSON_1>, reach bob.smith@example.org"
    chunks = [{"id": "chatcmpl-1", "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]}]
    chunks += [_chat_chunk(char) for char in text]
    chunks.append(_chat_chunk(finish="stop"))

    sent = await _relay(_guard(), chunks)

    assert len(sent) == len(chunks)
    assert sent[0]["choices"][0]["delta"]["role"] == "assistant"
    assert _content(sent) == 'Hello Alice "AJ" Jones, reach <EMAIL_ADDRESS>'
    assert sent[-1]["choices"][0]["delta"]["content"].endswith("reach <EMAIL_ADDRESS>")
    assert "bob" not in repr(sent)
    assert sent[-1]["choices"][0]["finish_reason"] == "stop"


async def test_a_stream_without_finish_reason_is_flushed_by_flush_chunk():
    guard = _guard()
    sent = await _relay(guard, [_chat_chunk("Bye "), _chat_chunk("<PERSON_1>")])

    assert _content(sent) == 'Bye Alice "AJ" Jones'
    assert sent[-1]["id"] == "chatcmpl-1"
    assert await guard.flush_chunk("chat") is None


async def test_streamed_tool_call_arguments_are_restored_json_escaped():
    fragments = ['{"na', 'me": "<PER', "SON_1>", " <EMAIL_", 'ADDRESS_1>"}']
    chunks = [_chat_chunk(tool=(1, f)) for f in fragments] + [_chat_chunk(finish="tool_calls")]

    sent = await _relay(_guard(), chunks)

    arguments = "".join(
        call["function"]["arguments"]
        for chunk in sent
        for call in chunk["choices"][0]["delta"].get("tool_calls", [])
        if call["index"] == 1
    )
    assert json.loads(arguments) == {"name": 'Alice "AJ" Jones <EMAIL_ADDRESS_1>'}


async def test_all_choices_of_a_chunk_are_scanned_in_one_detector_call():
    detector = RegexDetector()
    guard = _guard(detector)
    chunk = {
        "choices": [
            {"index": 0, "delta": {"content": "one, two "}, "finish_reason": None},
            {"index": 1, "delta": {"content": "three, four "}, "finish_reason": None},
        ]
    }

    await guard.guard_chunk(chunk, "chat")

    assert detector.batches == [2]


async def test_detector_failure_mid_stream_raises_and_the_stream_stays_failed():
    guard = _guard(FailingDetector(ok_calls=1), window=WindowSettings(scan_chars=1))
    channel = guard.channel((0, "content"))
    assert await channel.feed("Fine, ") == "Fine, "

    with capture_logs() as logs, pytest.raises(PiiDetectorUnavailable):
        await channel.feed("then Alice Jones wrote ")
    with pytest.raises(PiiDetectorUnavailable):
        await channel.feed("more")
    with pytest.raises(PiiDetectorUnavailable):
        await channel.flush()

    assert [e["event"] for e in logs] == ["pii.unavailable"]
    assert logs[0]["direction"] == "response"
    assert "Alice" not in repr(logs)


async def test_a_detector_that_hangs_times_out_as_unavailable():
    guard = _guard(RegexDetector(delay_s=1.0), timeout_s=0.01)

    with pytest.raises(PiiDetectorUnavailable):
        await guard.guard_body({"choices": [{"text": "hello"}]}, "completion")


async def test_for_context_uses_the_requests_actions_and_pseudonymizer():
    ctx = make_context({}, actions={"EMAIL_ADDRESS": "mask"}).with_extra(PSEUDONYMIZER_KEY, _pseudonymizer())
    guard = AnswerGuard.for_context(ctx, RegexDetector())

    out, _ = await guard.guard_body({"choices": [{"text": "<PERSON_1> at a@b.io"}]}, "completion")

    assert out["choices"][0]["text"] == 'Alice "AJ" Jones at <EMAIL_ADDRESS>'
    assert guard.has_work
    assert not AnswerGuard(RegexDetector(), {}).has_work


async def test_a_common_first_word_goes_out_with_its_own_chunk_unscanned():
    """Time to first token does not wait for the second token when the answer opens as usual."""
    detector = RegexDetector()
    guard = _guard(detector, window=WindowSettings())

    first = await guard.guard_chunk(_chat_chunk("Sure"), "chat")

    assert first["choices"][0]["delta"]["content"] == "Sure"
    assert detector.calls == 0
    rest = await _relay(guard, [_chat_chunk(", mail bob@example.org")])
    assert _content(rest) == ", mail <EMAIL_ADDRESS>"


async def test_any_other_first_word_waits_for_the_chunk_that_ends_it():
    guard = _guard(window=WindowSettings())

    first = await guard.guard_chunk(_chat_chunk("Alice"), "chat")
    second = await guard.guard_chunk(_chat_chunk(" Jones, hi"), "chat")

    assert first["choices"][0]["delta"]["content"] == ""
    assert "Alice" not in second["choices"][0]["delta"]["content"]


async def test_a_name_the_tokenizer_splits_after_a_common_word_is_still_redacted_in_its_rest():
    guard = _guard(RegexDetector({"PERSON": r"Hiroshi Tanaka"}), window=WindowSettings())

    sent = await _relay(guard, [_chat_chunk("Hi"), _chat_chunk("roshi Tanaka"), _chat_chunk(" called.")])

    assert _content(sent) == "Hi<PERSON_2> called."  # a new pseudonym: not a value of the prompt


async def test_after_a_failed_chunk_every_later_chunk_of_the_answer_fails():
    guard = _guard(FailingDetector(), window=WindowSettings(scan_chars=1))

    with pytest.raises(PiiDetectorUnavailable):
        await guard.guard_chunk(_chat_chunk("Hello, "), "chat")
    with pytest.raises(PiiDetectorUnavailable):
        await guard.guard_chunk(_chat_chunk("other, ", index=1), "chat")
    with pytest.raises(PiiDetectorUnavailable):
        await guard.flush_chunk("chat")

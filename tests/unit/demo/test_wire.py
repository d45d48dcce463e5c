"""Bodies and SSE frames of the demo upstream, OpenAI's dialect and llama.cpp's quirks."""

from __future__ import annotations

import json

import msgspec

from gateway.demo.answers import FIXED_ANSWER, answer_chat, answer_prompt, count_tokens
from gateway.demo.options import DemoOptions
from gateway.demo.parsing import ChatRequest, CompletionRequest
from gateway.demo.wire import (
    DONE_FRAME,
    KEEP_ALIVE_FRAME,
    PING_FRAME,
    chat_completion,
    chat_stream,
    error_body,
    text_stream,
)

TOOLS = [{"type": "function", "function": {"name": "search"}}]


def chat(**fields) -> ChatRequest:
    fields.setdefault("model", "any-model")
    fields.setdefault("messages", [{"role": "user", "content": "find the docs"}])
    return msgspec.convert(fields, ChatRequest)


def stream_of(request: ChatRequest, options: DemoOptions) -> list[bytes]:
    answer = answer_chat(request, options)
    return chat_stream(request, answer, quirks=options.quirks, prompt_tokens=3, completion_id="chatcmpl-x", created=1)


def chunks(frames: list[bytes]) -> list[dict]:
    """The JSON chunks of a stream (data frames other than [DONE])."""
    return [json.loads(frame[len(b"data: ") :]) for frame in frames if frame.startswith(b"data: {")]


def test_every_frame_is_one_complete_sse_event_and_done_is_last():
    frames = stream_of(chat(stream=True), DemoOptions())
    assert frames[-1] == DONE_FRAME
    assert all(frame.endswith(b"\n\n") and frame.count(b"\n\n") == 1 for frame in frames)


def test_openai_stream_starts_with_role_then_one_word_per_chunk_then_finish():
    parsed = chunks(stream_of(chat(stream=True), DemoOptions()))
    assert parsed[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    words = [c["choices"][0]["delta"]["content"] for c in parsed[1:-1]]
    assert "".join(words) == FIXED_ANSWER
    assert all(count_tokens(word) == 1 for word in words)
    assert parsed[-1]["choices"][0] == {"index": 0, "delta": {}, "logprobs": None, "finish_reason": "stop"}
    assert all(c["object"] == "chat.completion.chunk" and c["model"] == "any-model" for c in parsed)


def test_usage_chunk_comes_last_with_no_choices_when_asked():
    parsed = chunks(stream_of(chat(stream=True, stream_options={"include_usage": True}), DemoOptions()))
    assert parsed[-1]["choices"] == []
    completion_tokens = count_tokens(FIXED_ANSWER)
    assert parsed[-1]["usage"] == {
        "prompt_tokens": 3,
        "completion_tokens": completion_tokens,
        "total_tokens": 3 + completion_tokens,
    }
    assert all(c["usage"] is None for c in parsed[:-1])


def test_several_choices_each_get_the_whole_answer():
    parsed = chunks(stream_of(chat(stream=True, n=2), DemoOptions()))
    for index in (0, 1):
        mine = [c["choices"][0] for c in parsed if c["choices"][0]["index"] == index]
        assert "".join(choice["delta"].get("content") or "" for choice in mine) == FIXED_ANSWER
        assert mine[-1]["finish_reason"] == "stop"


def test_streamed_tool_call_sends_its_header_once_then_argument_fragments():
    parsed = chunks(stream_of(chat(stream=True, tools=TOOLS), DemoOptions()))
    calls = [c["choices"][0]["delta"]["tool_calls"][0] for c in parsed if "tool_calls" in c["choices"][0]["delta"]]
    assert calls[0]["id"].startswith("call_")
    assert calls[0]["type"] == "function"
    assert calls[0]["function"]["name"] == "search"
    assert all(set(call) == {"index", "function"} and set(call["function"]) == {"arguments"} for call in calls[1:])
    assert len(calls) > 2
    arguments = "".join(call["function"]["arguments"] for call in calls)
    assert json.loads(arguments) == {"query": "find the docs"}
    assert parsed[-1]["choices"][0]["finish_reason"] == "tool_calls"


def test_llamacpp_stream_has_no_finish_reason_and_no_usage_chunk():
    frames = stream_of(chat(stream=True, stream_options={"include_usage": True}), DemoOptions(quirks="llamacpp"))
    parsed = chunks(frames)
    assert all(c["choices"] and c["choices"][0]["finish_reason"] is None for c in parsed)
    assert all("usage" not in c for c in parsed)
    assert "".join(c["choices"][0]["delta"].get("content") or "" for c in parsed).startswith(FIXED_ANSWER)


def test_llamacpp_stream_has_keep_alive_comments_and_dataless_events_in_the_middle():
    frames = stream_of(chat(stream=True, max_tokens=6), DemoOptions(quirks="llamacpp"))
    assert KEEP_ALIVE_FRAME in frames[1:-1]
    assert PING_FRAME in frames[1:-1]
    assert frames[-1] == DONE_FRAME


def test_llamacpp_tool_fragments_repeat_the_header_and_a_legacy_function_call():
    parsed = chunks(stream_of(chat(stream=True, tools=TOOLS), DemoOptions(quirks="llamacpp")))
    deltas = [c["choices"][0]["delta"] for c in parsed if "tool_calls" in c["choices"][0]["delta"]]
    assert len(deltas) > 1
    ids = {delta["tool_calls"][0]["id"] for delta in deltas}
    assert len(ids) == 1
    for delta in deltas:
        call = delta["tool_calls"][0]
        assert call["type"] == "function"
        assert call["function"]["name"] == "search"
        assert delta["function_call"] == call["function"]


def test_non_streaming_chat_has_n_choices_and_usage():
    request = chat(n=3)
    answer = answer_chat(request, DemoOptions())
    body = chat_completion(request, answer, prompt_tokens=3, completion_id="chatcmpl-x", created=1)
    assert [choice["index"] for choice in body["choices"]] == [0, 1, 2]
    assert body["choices"][0]["message"] == {"role": "assistant", "content": FIXED_ANSWER, "refusal": None}
    assert body["usage"]["completion_tokens"] == 3 * count_tokens(FIXED_ANSWER)
    assert body["object"] == "chat.completion"


def test_non_streaming_tool_call_message_has_no_content():
    request = chat(tools=TOOLS)
    body = chat_completion(request, answer_chat(request, DemoOptions()), prompt_tokens=3, completion_id="c", created=1)
    message = body["choices"][0]["message"]
    assert message["content"] is None
    assert message["tool_calls"][0]["function"]["name"] == "search"
    assert body["choices"][0]["finish_reason"] == "tool_calls"


def test_legacy_stream_ends_each_choice_with_a_finish_chunk_and_usage():
    request = msgspec.convert(
        {"model": "m", "prompt": ["a", "b"], "stream": True, "stream_options": {"include_usage": True}},
        CompletionRequest,
    )
    answers = [answer_prompt(p, options=DemoOptions(), max_tokens=4, stop=None, echo_prompt=False) for p in ("a", "b")]
    parsed = chunks(text_stream(request, answers, quirks="none", prompt_tokens=2, completion_id="cmpl-x", created=1))
    finishes = [c["choices"][0] for c in parsed if c["choices"] and c["choices"][0]["finish_reason"]]
    assert [(f["index"], f["finish_reason"]) for f in finishes] == [(0, "length"), (1, "length")]
    assert parsed[-1]["usage"]["completion_tokens"] == 8
    assert all(c["object"] == "text_completion" for c in parsed)


def test_openai_error_body_has_the_four_fields():
    assert error_body(400, "bad", quirks="none", param="messages", code="x") == {
        "error": {"message": "bad", "type": "invalid_request_error", "param": "messages", "code": "x"}
    }
    assert error_body(503, "down", quirks="none")["error"]["type"] == "server_error"
    assert error_body(429, "slow", quirks="none")["error"]["code"] == "rate_limit_exceeded"


def test_llamacpp_error_body_is_a_detail_string():
    assert error_body(500, "boom", quirks="llamacpp", param="p") == {"detail": "boom"}

"""Request translation and non-streaming chat fixes (gateway/upstream/normalize.py)."""

from __future__ import annotations

import copy
import json

import pytest

from gateway.upstream.normalize import complete_nonstream_chat, openai_finish_reason, translate_request

CHAT_REQUEST = {
    "model": "llama-3.1-8b",
    "messages": [{"role": "user", "content": "Hi"}],
    "max_completion_tokens": 128,
    "stream": True,
    "stream_options": {"include_usage": False, "continuous_usage_stats": False},
    "top_k": 40,
}


def translate(body, **overrides):
    options = {"kind": "chat", "accepts_max_completion_tokens": False, "ask_stream_usage": True} | overrides
    return translate_request(body, **options)


def test_max_completion_tokens_becomes_max_tokens_for_backends_without_it():
    out = translate(CHAT_REQUEST)
    assert out["max_tokens"] == 128
    assert "max_completion_tokens" not in out


def test_explicit_max_tokens_wins_over_max_completion_tokens():
    out = translate({**CHAT_REQUEST, "max_tokens": 64})
    assert out["max_tokens"] == 64
    assert "max_completion_tokens" not in out


def test_backend_accepting_max_completion_tokens_gets_it_unchanged():
    out = translate(CHAT_REQUEST, accepts_max_completion_tokens=True)
    assert out["max_completion_tokens"] == 128
    assert "max_tokens" not in out


def test_null_max_completion_tokens_is_dropped_without_setting_max_tokens():
    out = translate({**CHAT_REQUEST, "max_completion_tokens": None})
    assert "max_tokens" not in out
    assert "max_completion_tokens" not in out


def test_streaming_request_asks_for_usage_and_keeps_other_stream_options():
    out = translate(CHAT_REQUEST)
    assert out["stream_options"] == {"include_usage": True, "continuous_usage_stats": False}


def test_streaming_request_without_stream_options_gets_them():
    body = {k: v for k, v in CHAT_REQUEST.items() if k != "stream_options"}
    assert translate(body)["stream_options"] == {"include_usage": True}


def test_stream_options_untouched_when_usage_not_wanted():
    assert translate(CHAT_REQUEST, ask_stream_usage=False)["stream_options"] == CHAT_REQUEST["stream_options"]


def test_non_streaming_request_gets_no_stream_options():
    body = {"model": "m", "prompt": "Once upon", "max_tokens": 5}
    assert translate(body, kind="completion") == body


def test_unknown_fields_pass_through():
    out = translate(CHAT_REQUEST)
    assert out["top_k"] == 40
    assert out["messages"] == CHAT_REQUEST["messages"]


def test_input_is_never_mutated_and_output_is_a_new_dict():
    snapshot = copy.deepcopy(CHAT_REQUEST)
    out = translate(CHAT_REQUEST)
    assert snapshot == CHAT_REQUEST
    assert out is not CHAT_REQUEST
    embedding = {"model": "bge", "input": ["a"], "max_completion_tokens": 3}
    out = translate(embedding, kind="embedding")
    assert out == embedding
    assert out is not embedding


LLAMACPP_CHAT = {
    "choices": [
        {
            "finish_reason": "stop",
            "index": 0,
            "message": {"role": "assistant", "content": "Hello!"},
        }
    ],
    "created": 1737965200,
    "model": "qwen2.5-7b-instruct-q4_k_m.gguf",
    "system_fingerprint": "b4600-bd8d8fe0",
    "object": "chat.completion",
    "usage": {"completion_tokens": 3, "prompt_tokens": 10, "total_tokens": 13},
    "id": "chatcmpl-Hq2pR",
}


def test_correct_chat_body_is_returned_as_is():
    assert complete_nonstream_chat(LLAMACPP_CHAT) is LLAMACPP_CHAT


def test_missing_object_and_finish_reason_are_filled():
    body = {
        "id": "x",
        "model": "m",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi"}, "finish_reason": None}],
    }
    snapshot = copy.deepcopy(body)
    out = complete_nonstream_chat(body)
    assert out["object"] == "chat.completion"
    assert out["choices"][0]["finish_reason"] == "stop"
    assert body == snapshot


def test_missing_finish_reason_with_tool_calls_is_tool_calls():
    body = {
        "object": "chat.completion",
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}],
                },
            }
        ],
    }
    assert complete_nonstream_chat(body)["choices"][0]["finish_reason"] == "tool_calls"


def test_tool_call_arguments_object_becomes_json_text_and_type_is_added():
    body = {
        "object": "chat.completion",
        "choices": [
            {
                "index": 0,
                "finish_reason": "tool_calls",
                "message": {
                    "role": "assistant",
                    "tool_calls": [
                        {"id": "call_1", "function": {"name": "get_weather", "arguments": {"city": "Paris"}}}
                    ],
                },
            }
        ],
    }
    call = complete_nonstream_chat(body)["choices"][0]["message"]["tool_calls"][0]
    assert call["type"] == "function"
    assert json.loads(call["function"]["arguments"]) == {"city": "Paris"}
    assert isinstance(body["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"], dict)


def test_missing_index_and_role_are_filled():
    body = {"object": "chat.completion", "choices": [{"message": {"content": "a"}, "finish_reason": "stop"}]}
    choice = complete_nonstream_chat(body)["choices"][0]
    assert choice["index"] == 0
    assert choice["message"]["role"] == "assistant"


def test_tgi_eos_token_finish_reason_becomes_stop():
    body = {**LLAMACPP_CHAT, "choices": [{**LLAMACPP_CHAT["choices"][0], "finish_reason": "eos_token"}]}
    assert complete_nonstream_chat(body)["choices"][0]["finish_reason"] == "stop"


@pytest.mark.parametrize(
    ("reason", "expected"),
    [("eos_token", "stop"), ("eos", "stop"), ("max_tokens", "length"), ("stop", "stop"), ("abort", "abort")],
)
def test_finish_reasons_get_openai_names(reason, expected):
    assert openai_finish_reason(reason) == expected

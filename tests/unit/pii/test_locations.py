from __future__ import annotations

import copy

import pytest

from gateway.pii.locations import (
    answer_texts,
    channel_kind,
    delta_texts,
    finished_choices,
    replace_texts,
    request_texts,
    with_channel_texts,
)

CHAT_BODY = {
    "model": "m",
    "messages": [
        {"role": "system", "content": "be brief"},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "look at this"},
                {"type": "image_url", "image_url": {"url": "https://x/y.png"}},
                {"type": "text", "text": "and this"},
            ],
        },
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": '{"a": 1}'}}],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "tool result"},
        {"role": "assistant", "content": "", "function_call": {"name": "g", "arguments": '{"b": 2}'}},
    ],
    "tools": [{"type": "function", "function": {"name": "f", "description": "not user text"}}],
}


def test_chat_request_texts_cover_contents_parts_tool_calls_and_tool_results():
    found = {loc.path: (loc.text, loc.kind) for loc in request_texts(CHAT_BODY, "chat")}

    assert found == {
        ("messages", 0, "content"): ("be brief", "text"),
        ("messages", 1, "content", 0, "text"): ("look at this", "text"),
        ("messages", 1, "content", 2, "text"): ("and this", "text"),
        ("messages", 2, "tool_calls", 0, "function", "arguments"): ('{"a": 1}', "json"),
        ("messages", 3, "content"): ("tool result", "text"),
        ("messages", 4, "content"): ("", "text"),
        ("messages", 4, "function_call", "arguments"): ('{"b": 2}', "json"),
    }


def test_completion_prompt_strings_are_found_and_token_ids_left_alone():
    assert [loc.path for loc in request_texts({"prompt": "hi", "suffix": "end"}, "completion")] == [
        ("prompt",),
        ("suffix",),
    ]
    assert [loc.text for loc in request_texts({"prompt": ["a", "b"]}, "completion")] == ["a", "b"]
    assert request_texts({"prompt": [1, 2, 3]}, "completion") == ()
    assert request_texts({"prompt": [[1, 2], [3]]}, "completion") == ()


def test_embedding_input_strings_are_found_and_token_ids_left_alone():
    assert [loc.path for loc in request_texts({"input": "one"}, "embedding")] == [("input",)]
    assert [loc.path for loc in request_texts({"input": ["one", "two"]}, "embedding")] == [
        ("input", 0),
        ("input", 1),
    ]
    assert request_texts({"input": [101, 102]}, "embedding") == ()


def test_malformed_shapes_are_skipped_not_fatal():
    body = {"messages": ["x", {"role": "user", "content": 5}, {"tool_calls": "nope"}]}
    assert request_texts(body, "chat") == ()
    assert request_texts({}, "chat") == ()


def test_replace_texts_returns_a_new_body_and_leaves_the_input_alone():
    original = copy.deepcopy(CHAT_BODY)
    rebuilt = replace_texts(
        CHAT_BODY,
        {
            ("messages", 1, "content", 2, "text"): "AND THIS",
            ("messages", 2, "tool_calls", 0, "function", "arguments"): '{"a": 2}',
        },
    )

    assert original == CHAT_BODY
    assert rebuilt["messages"][1]["content"][2]["text"] == "AND THIS"
    assert rebuilt["messages"][2]["tool_calls"][0]["function"]["arguments"] == '{"a": 2}'
    assert rebuilt["messages"][0] is CHAT_BODY["messages"][0]
    assert rebuilt["tools"] is CHAT_BODY["tools"]
    assert rebuilt["messages"][1]["content"][1] is CHAT_BODY["messages"][1]["content"][1]


def test_replace_texts_round_trips_every_location():
    locations = request_texts(CHAT_BODY, "chat")
    rebuilt = replace_texts(CHAT_BODY, {loc.path: loc.text.upper() for loc in locations})

    assert [loc.text for loc in request_texts(rebuilt, "chat")] == [loc.text.upper() for loc in locations]


def test_replace_texts_rejects_a_path_that_is_not_there():
    with pytest.raises((KeyError, IndexError)):
        replace_texts(CHAT_BODY, {("messages", 9, "content"): "x"})


def test_answer_texts_of_chat_and_completion_and_none_for_embeddings():
    chat = {
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": "hello",
                    "tool_calls": [{"function": {"name": "f", "arguments": "{}"}}],
                },
            }
        ]
    }
    assert [(loc.path, loc.kind) for loc in answer_texts(chat, "chat")] == [
        (("choices", 0, "message", "content"), "text"),
        (("choices", 0, "message", "tool_calls", 0, "function", "arguments"), "json"),
    ]
    completion = {"choices": [{"index": 0, "text": "once"}]}
    assert [loc.path for loc in answer_texts(completion, "completion")] == [("choices", 0, "text")]
    assert answer_texts({"data": [{"embedding": [0.1]}]}, "embedding") == ()


def test_delta_texts_key_channels_by_the_index_fields():
    chunk = {
        "choices": [
            {"index": 1, "delta": {"content": "Hi"}},
            {
                "index": 0,
                "delta": {
                    "reasoning_content": "think",
                    "tool_calls": [{"index": 3, "function": {"arguments": '{"x'}}],
                },
            },
        ]
    }
    found = {item.channel: (item.location.path, item.location.text) for item in delta_texts(chunk, "chat")}

    assert found == {
        (1, "content"): (("choices", 0, "delta", "content"), "Hi"),
        (0, "reasoning_content"): (("choices", 1, "delta", "reasoning_content"), "think"),
        (0, "tool_calls", 3): (("choices", 1, "delta", "tool_calls", 0, "function", "arguments"), '{"x'),
    }
    assert channel_kind((0, "tool_calls", 3)) == "json"
    assert channel_kind((0, "content")) == "text"


def test_finished_choices_are_those_with_a_finish_reason():
    chunk = {"choices": [{"index": 0, "finish_reason": None}, {"index": 2, "finish_reason": "stop"}]}
    assert finished_choices(chunk) == (2,)


def test_with_channel_texts_replaces_present_fragments_and_adds_missing_ones():
    chunk = {
        "id": "c",
        "choices": [{"index": 0, "delta": {"content": "raw"}, "finish_reason": None}],
    }
    original = copy.deepcopy(chunk)

    rebuilt = with_channel_texts(
        chunk,
        "chat",
        {
            (0, "content"): "safe",
            (0, "tool_calls", 2): "args",
            (0, "function_call"): "fn",
            (1, "content"): "other choice",
            (3, "content"): "",
        },
    )

    assert chunk == original
    choice0, choice1 = rebuilt["choices"]
    assert choice0["delta"]["content"] == "safe"
    assert choice0["delta"]["tool_calls"] == [{"index": 2, "function": {"arguments": "args"}}]
    assert choice0["delta"]["function_call"] == {"arguments": "fn"}
    assert choice1 == {"index": 1, "finish_reason": None, "delta": {"content": "other choice"}}


def test_with_channel_texts_on_completion_chunks_sets_text():
    chunk = {"choices": [{"index": 0, "text": "raw", "finish_reason": "stop"}]}
    rebuilt = with_channel_texts(chunk, "completion", {(0, "text"): "safe", (1, "text"): "more"})

    assert [c["text"] for c in rebuilt["choices"]] == ["safe", "more"]

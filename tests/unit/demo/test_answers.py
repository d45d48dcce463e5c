"""The demo upstream's pure answer logic: words, caps, echo, JSON, tool calls, embeddings."""

from __future__ import annotations

import base64
import json
import math
import struct

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.demo.answers import (
    FIXED_ANSWER,
    LONG_ANSWER_WORDS,
    answer_chat,
    answer_prompt,
    capped_answer,
    content_text,
    count_tokens,
    embed,
    encode_base64,
    last_user_text,
    prompt_tokens,
    sample_for_schema,
    split_words,
)
from gateway.demo.options import DemoOptions
from gateway.demo.parsing import ChatRequest, ContentPart, DemoRequestError, Message

NORMAL = DemoOptions()
ECHO = DemoOptions(mode="echo")
LLAMACPP = DemoOptions(quirks="llamacpp")


def chat(**fields) -> ChatRequest:
    fields.setdefault("model", "demo-chat")
    fields.setdefault("messages", [{"role": "user", "content": "What is the weather in Paris?"}])
    return msgspec.convert(fields, ChatRequest)


@given(st.text())
def test_split_words_pieces_join_back_to_the_text(text):
    assert "".join(split_words(text)) == text


@given(st.text())
def test_split_words_gives_one_word_per_piece(text):
    pieces = split_words(text)
    assert all(count_tokens(piece) <= 1 for piece in pieces)
    assert sum(count_tokens(piece) for piece in pieces) == count_tokens(text)


def test_tokens_are_whitespace_separated_words():
    assert count_tokens("  two\nwords ") == 2
    assert count_tokens("") == 0


def test_content_text_joins_text_parts_and_skips_other_parts():
    parts = [ContentPart("text", "first"), ContentPart("image_url"), ContentPart("text", "second")]
    assert content_text(parts) == "first\nsecond"
    assert content_text(None) == ""


def test_prompt_tokens_count_every_message_including_tool_results():
    messages = [
        Message("system", "be brief"),
        Message("user", [ContentPart("text", "three words here")]),
        Message("assistant", None),
        Message("tool", "sunny"),
    ]
    assert prompt_tokens(messages) == 2 + 3 + 0 + 1


def test_last_user_text_skips_later_assistant_and_tool_messages():
    messages = [Message("user", "first"), Message("user", "second"), Message("tool", "result")]
    assert last_user_text(messages) == "second"
    assert last_user_text([Message("system", "only system")]) == ""


def test_max_tokens_cuts_the_answer_and_reports_length():
    answer = capped_answer("one two three four", max_tokens=2)
    assert answer.text == "one two"
    assert answer.finish_reason == "length"
    assert answer.tokens == 2


def test_answer_within_max_tokens_stops_normally():
    answer = capped_answer("one two", max_tokens=2)
    assert answer.text == "one two"
    assert answer.finish_reason == "stop"


def test_stop_sequence_cuts_before_it():
    answer = capped_answer("alpha beta. gamma", max_tokens=None, stop=[".", "zzz"])
    assert answer.text == "alpha beta"
    assert answer.finish_reason == "stop"


def test_fixed_mode_answers_the_canned_text_whatever_the_prompt():
    assert answer_chat(chat(), NORMAL).text == FIXED_ANSWER
    other = chat(messages=[{"role": "user", "content": "something else"}])
    assert answer_chat(other, NORMAL).text == FIXED_ANSWER


def test_echo_mode_answers_the_last_user_message_verbatim():
    text = "My e-mail is jane@example.com,\n\n  call  me."
    request = chat(messages=[{"role": "user", "content": "earlier"}, {"role": "user", "content": text}])
    answer = answer_chat(request, ECHO)
    assert answer.text == text
    assert answer.tokens == count_tokens(text)


def test_max_completion_tokens_caps_the_answer():
    answer = answer_chat(chat(max_completion_tokens=3), NORMAL)
    assert answer.tokens == 3
    assert answer.finish_reason == "length"


def test_llamacpp_ignores_max_completion_tokens_and_answers_at_length():
    answer = answer_chat(chat(max_completion_tokens=3), LLAMACPP)
    assert answer.tokens == LONG_ANSWER_WORDS
    assert answer.finish_reason == "stop"
    assert answer.text.startswith(FIXED_ANSWER)


def test_llamacpp_honours_max_tokens():
    answer = answer_chat(chat(max_tokens=7), LLAMACPP)
    assert answer.tokens == 7
    assert answer.finish_reason == "length"


def test_json_object_format_answers_a_json_object():
    answer = answer_chat(chat(response_format={"type": "json_object"}), NORMAL)
    assert json.loads(answer.text) == {"answer": FIXED_ANSWER}
    assert len(answer.pieces) > 1


def test_json_schema_format_answers_an_object_with_the_schema_properties():
    schema = {
        "type": "object",
        "properties": {
            "city": {"type": "string"},
            "days": {"type": "integer"},
            "unit": {"enum": ["celsius", "fahrenheit"]},
            "tags": {"type": "array", "items": {"type": "string"}},
            "when": {"anyOf": [{"type": "string", "format": "date"}, {"type": "null"}]},
            "place": {"$ref": "#/$defs/Place"},
        },
        "$defs": {"Place": {"type": "object", "properties": {"lat": {"type": "number"}}}},
        "required": ["city", "days", "unit", "tags", "when", "place"],
    }
    request = chat(response_format={"type": "json_schema", "json_schema": {"name": "w", "schema": schema}})
    value = json.loads(answer_chat(request, ECHO).text)
    assert value == {
        "city": "What is the weather in Paris?",
        "days": 0,
        "unit": "celsius",
        "tags": ["What is the weather in Paris?"],
        "when": "1970-01-01",
        "place": {"lat": 0},
    }


def test_schema_sampling_stops_at_recursive_references():
    schema = {
        "$ref": "#/$defs/Node",
        "$defs": {"Node": {"type": "object", "properties": {"next": {"$ref": "#/$defs/Node"}}}},
    }
    value = sample_for_schema(schema, "x")
    depth = 0
    while isinstance(value, dict):
        value, depth = value["next"], depth + 1
    assert 0 < depth < 20


def test_tools_get_one_call_to_the_first_tool_filled_from_its_schema():
    tools = [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
            },
        },
        {"type": "function", "function": {"name": "other"}},
    ]
    answer = answer_chat(chat(tools=tools), NORMAL)
    assert answer.tool_call is not None
    assert answer.tool_call.name == "get_weather"
    assert json.loads(answer.tool_call.arguments) == {"city": "What is the weather in Paris?"}
    assert answer.finish_reason == "tool_calls"
    assert "".join(answer.pieces) == answer.tool_call.arguments


def test_tool_without_parameters_gets_the_user_message_as_query():
    answer = answer_chat(chat(tools=[{"type": "function", "function": {"name": "search"}}]), NORMAL)
    assert answer.tool_call is not None
    assert json.loads(answer.tool_call.arguments) == {"query": "What is the weather in Paris?"}


def test_named_tool_choice_picks_that_tool():
    tools = [{"type": "function", "function": {"name": "a"}}, {"type": "function", "function": {"name": "b"}}]
    answer = answer_chat(chat(tools=tools, tool_choice={"type": "function", "function": {"name": "b"}}), NORMAL)
    assert answer.tool_call is not None
    assert answer.tool_call.name == "b"


def test_tool_choice_none_answers_with_text():
    answer = answer_chat(chat(tools=[{"type": "function", "function": {"name": "a"}}], tool_choice="none"), NORMAL)
    assert answer.tool_call is None
    assert answer.text == FIXED_ANSWER


def test_tool_choice_naming_an_unknown_tool_is_refused():
    request = chat(
        tools=[{"type": "function", "function": {"name": "a"}}],
        tool_choice={"type": "function", "function": {"name": "zz"}},
    )
    with pytest.raises(DemoRequestError) as caught:
        answer_chat(request, NORMAL)
    assert caught.value.param == "tool_choice"


def test_legacy_prompt_echo_prefixes_the_prompt():
    answer = answer_prompt("Say:", options=NORMAL, max_tokens=None, stop=None, echo_prompt=True)
    assert answer.text == "Say:" + FIXED_ANSWER
    assert answer.tokens == count_tokens(FIXED_ANSWER)


def test_legacy_prompt_in_echo_mode_answers_the_prompt():
    answer = answer_prompt("hello there world", options=ECHO, max_tokens=2, stop=None, echo_prompt=False)
    assert answer.text == "hello there"
    assert answer.finish_reason == "length"


@given(st.text(max_size=50), st.integers(min_value=1, max_value=256))
def test_embeddings_are_deterministic_unit_vectors(text, dimensions):
    vector = embed(text, dimensions)
    assert len(vector) == dimensions
    assert math.isclose(math.hypot(*vector), 1.0, rel_tol=1e-9)
    assert embed(text, dimensions) == vector


def test_different_texts_get_different_embeddings():
    assert embed("alpha", 64) != embed("beta", 64)


def test_base64_embedding_is_little_endian_float32():
    vector = embed("alpha", 8)
    decoded = struct.unpack("<8f", base64.b64decode(encode_base64(vector)))
    assert all(math.isclose(a, b, rel_tol=1e-6) for a, b in zip(decoded, vector, strict=True))

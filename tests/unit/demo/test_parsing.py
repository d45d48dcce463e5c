"""Decoding of the demo upstream's requests and the 400s it gives for bad ones."""

from __future__ import annotations

import pytest

from gateway.demo.parsing import (
    DemoRequestError,
    parse_chat,
    parse_completion,
    parse_embedding,
    texts_of_input,
)


def refusal(parse, body: bytes) -> DemoRequestError:
    with pytest.raises(DemoRequestError) as caught:
        parse(body)
    return caught.value


def test_malformed_json_is_refused_without_param():
    error = refusal(parse_chat, b'{"model": ')
    assert error.param is None
    assert error.code == "invalid_json"


def test_missing_messages_names_the_param():
    error = refusal(parse_chat, b'{"model": "m"}')
    assert error.param == "messages"
    assert error.code == "missing_required_parameter"


def test_missing_nested_field_names_its_path():
    error = refusal(parse_chat, b'{"model": "m", "messages": [{"content": "hi"}]}')
    assert error.param == "messages[0].role"


def test_wrong_type_names_its_path():
    error = refusal(parse_chat, b'{"model": 3, "messages": [{"role": "user", "content": "hi"}]}')
    assert error.param == "model"


def test_unknown_role_is_refused():
    assert refusal(parse_chat, b'{"model": "m", "messages": [{"role": "robot"}]}').param == "messages[0].role"


def test_empty_messages_are_refused():
    assert refusal(parse_chat, b'{"model": "m", "messages": []}').param == "messages"


@pytest.mark.parametrize(("field", "value"), [("n", 0), ("n", 129), ("max_tokens", 0), ("max_completion_tokens", -1)])
def test_out_of_range_numbers_are_refused(field, value):
    body = f'{{"model": "m", "messages": [{{"role": "user"}}], "{field}": {value}}}'.encode()
    assert refusal(parse_chat, body).param == field


def test_unknown_fields_and_nulls_are_accepted():
    request = parse_chat(
        b'{"model": "m", "messages": [{"role": "user", "content": "hi", "name": "x"}],'
        b' "temperature": 0.2, "n": null, "stream": null, "user": "u", "seed": 1}'
    )
    assert request.choices == 1
    assert not request.stream


def test_tool_results_and_assistant_tool_calls_are_accepted():
    request = parse_chat(
        b'{"model": "m", "messages": [{"role": "user", "content": "hi"},'
        b' {"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function",'
        b' "function": {"name": "f", "arguments": "{}"}}]},'
        b' {"role": "tool", "tool_call_id": "call_1", "content": "result"}]}'
    )
    assert [message.role for message in request.messages] == ["user", "assistant", "tool"]


def test_completion_needs_a_prompt():
    assert refusal(parse_completion, b'{"model": "m"}').param == "prompt"


def test_embedding_refuses_an_empty_input_list():
    assert refusal(parse_embedding, b'{"model": "m", "input": []}').param == "input"


def test_embedding_refuses_an_unknown_encoding_format():
    assert (
        refusal(parse_embedding, b'{"model": "m", "input": "x", "encoding_format": "hex"}').param == "encoding_format"
    )


@pytest.mark.parametrize(
    ("value", "texts"),
    [
        ("one", ["one"]),
        (["a", "b"], ["a", "b"]),
        ([1, 2, 3], ["1 2 3"]),
        ([[1, 2], [3]], ["1 2", "3"]),
    ],
)
def test_input_forms_become_texts(value, texts):
    assert texts_of_input(value, param="input") == texts


@pytest.mark.parametrize("value", [[], ["a", 1], [[]], {"text": "a"}, None, [True]])
def test_other_input_forms_are_refused(value):
    with pytest.raises(DemoRequestError):
        texts_of_input(value, param="input")

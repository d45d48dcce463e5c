from __future__ import annotations

import pytest

from gateway.api.requests import decode_body, validate
from gateway.errors import InvalidRequest


def test_valid_chat_body_is_returned_unchanged() -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "top_k": 3}
    assert validate("chat", body) is body


@pytest.mark.parametrize("raw", [b"", b"   ", b"{not json", b"[1, 2]", b'"text"'])
def test_bodies_that_are_not_json_objects_are_rejected(raw: bytes) -> None:
    with pytest.raises(InvalidRequest):
        decode_body(raw)


def test_missing_model_names_the_param() -> None:
    with pytest.raises(InvalidRequest) as info:
        validate("chat", {"messages": [{"role": "user", "content": "x"}]})
    assert info.value.param == "model"


def test_empty_messages_are_rejected() -> None:
    with pytest.raises(InvalidRequest) as info:
        validate("chat", {"model": "m", "messages": []})
    assert info.value.param == "messages"


def test_unknown_role_names_the_message() -> None:
    with pytest.raises(InvalidRequest) as info:
        validate("chat", {"model": "m", "messages": [{"role": "robot", "content": "x"}]})
    assert info.value.param == "messages[0].role"


def test_stream_options_without_stream_is_rejected() -> None:
    with pytest.raises(InvalidRequest) as info:
        validate("chat", {"model": "m", "messages": [{"role": "user"}], "stream_options": {"include_usage": True}})
    assert info.value.param == "stream_options"


@pytest.mark.parametrize("value", [0, -1, "10", 1.5, True])
def test_max_tokens_must_be_a_positive_integer(value: object) -> None:
    with pytest.raises(InvalidRequest) as info:
        validate("chat", {"model": "m", "messages": [{"role": "user"}], "max_tokens": value})
    assert info.value.param == "max_tokens"


def test_completions_need_a_prompt() -> None:
    with pytest.raises(InvalidRequest) as info:
        validate("completion", {"model": "m"})
    assert info.value.param == "prompt"


def test_embeddings_reject_empty_strings_and_streaming() -> None:
    with pytest.raises(InvalidRequest):
        validate("embedding", {"model": "m", "input": ["ok", ""]})
    with pytest.raises(InvalidRequest):
        validate("embedding", {"model": "m", "input": "x", "stream": True})


def test_embeddings_accept_token_arrays() -> None:
    body = {"model": "m", "input": [[1, 2, 3]]}
    assert validate("embedding", body) is body

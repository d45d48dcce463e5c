"""Backend quirks absorbed by the gateway: through it, a llama.cpp-like backend behaves like OpenAI."""

from __future__ import annotations

import base64
import struct

import httpx
import openai
import pytest

from tests.e2e.conftest import APP_KEY
from tests.processes import Running

pytestmark = pytest.mark.e2e

_WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


def test_base64_embeddings_are_encoded_by_the_gateway(client: openai.OpenAI, quirky_upstream: Running) -> None:
    direct = httpx.post(
        f"{quirky_upstream.url}/v1/embeddings",
        json={"model": "quirky-embed", "input": "hello", "encoding_format": "base64"},
    ).json()
    assert isinstance(direct["data"][0]["embedding"], list), "the quirky backend sends floats even for base64"
    raw = client.embeddings.with_raw_response.create(model="quirky-embed", input="hello", encoding_format="base64")
    encoded = raw.http_response.json()["data"][0]["embedding"]
    assert isinstance(encoded, str)
    decoded = struct.unpack(f"<{len(base64.b64decode(encoded)) // 4}f", base64.b64decode(encoded))
    assert decoded == pytest.approx(direct["data"][0]["embedding"], rel=1e-6)
    assert client.embeddings.create(model="quirky-embed", input="hello").data[0].embedding == pytest.approx(
        direct["data"][0]["embedding"], rel=1e-6
    )


def test_stream_gets_usage_chunk_and_finish_reason(client: openai.OpenAI) -> None:
    chunks = list(
        client.chat.completions.create(
            model="quirky-chat",
            messages=[{"role": "user", "content": "Hello"}],
            max_tokens=8,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes in (["stop"], ["length"])
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens > 0


def test_stream_without_usage_request_still_ends_with_finish_reason(client: openai.OpenAI) -> None:
    chunks = list(
        client.chat.completions.create(
            model="quirky-chat", messages=[{"role": "user", "content": "Hi"}], max_tokens=5, stream=True
        )
    )
    assert chunks[-1].choices[0].finish_reason is not None


def test_detail_error_bodies_become_openai_errors(client: openai.OpenAI, quirky_upstream: Running) -> None:
    direct = httpx.post(f"{quirky_upstream.url}/v1/chat/completions", json={"model": "quirky-chat"})
    assert "detail" in direct.json()
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(
            model="quirky-chat",
            messages=[{"role": "user", "content": "Hi"}],
            extra_body={"messages": "not-a-list-upstream"},
        )
    assert isinstance(info.value.body, dict)
    assert info.value.body["message"]


def test_streamed_tool_calls_are_normalised(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model="quirky-chat",
        messages=[{"role": "user", "content": "Weather in Paris?"}],
        tools=[_WEATHER_TOOL],
        stream=True,
    )
    names: dict[int, str] = {}
    ids: dict[int, str] = {}
    arguments: dict[int, str] = {}
    for chunk in stream:
        if not chunk.choices:
            continue
        delta = chunk.choices[0].delta
        assert getattr(delta, "function_call", None) is None
        for call in delta.tool_calls or []:
            if call.id:
                ids[call.index] = ids.get(call.index, "") + call.id
            if call.function and call.function.name:
                names[call.index] = names.get(call.index, "") + call.function.name
            if call.function and call.function.arguments:
                arguments[call.index] = arguments.get(call.index, "") + call.function.arguments
    assert names == {0: "get_weather"}
    assert ids[0].startswith("call_")
    assert arguments[0].startswith("{")
    assert arguments[0].endswith("}")


def test_max_completion_tokens_is_honoured_by_a_backend_that_ignores_it(client: openai.OpenAI) -> None:
    chunks = list(
        client.chat.completions.create(
            model="quirky-chat",
            messages=[{"role": "user", "content": "Write a long story"}],
            max_completion_tokens=12,
            stream=True,
        )
    )
    content_chunks = [c for c in chunks if c.choices and c.choices[0].delta.content]
    assert 0 < len(content_chunks) <= 12


def test_keep_alive_comments_pass_and_dataless_events_are_dropped(gateway: Running) -> None:
    with httpx.stream(
        "POST",
        f"{gateway.url}/v1/chat/completions",
        json={
            "model": "quirky-chat",
            "messages": [{"role": "user", "content": "Hi"}],
            "max_tokens": 40,
            "stream": True,
        },
        headers={"authorization": f"Bearer {APP_KEY}"},
    ) as response:
        text = response.read().decode()
    events = [e for e in text.split("\n\n") if e.strip()]
    assert all(e.startswith(("data:", ":")) for e in events)
    assert any(e.startswith(":") for e in events)
    assert not any(e.startswith("event:") for e in events)
    assert events[-1] == "data: [DONE]"

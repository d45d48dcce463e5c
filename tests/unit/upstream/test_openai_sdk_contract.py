"""The real openai SDK reads what the normalisers produce.

No network: the SDK's own HTTP client gets an in-process transport that answers with the
gateway's normalised bytes, so the SDK's SSE decoder, stream accumulator, error handling and
base64 embedding decoding run exactly as they do against the gateway.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx2
import numpy as np
import openai
import pytest

from gateway.upstream.embeddings import normalize_embeddings
from gateway.upstream.normalize_stream import StreamNormalizer
from gateway.upstream.sse import SseParser
from gateway.upstream.wire_errors import openai_error_body

STREAMS = Path(__file__).parent / "streams"
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    }
]


def normalised(raw: bytes, *, wants_usage: bool = False) -> Iterator[bytes]:
    """The gateway's frames for a raw backend stream, fed in small chunks."""
    norm = StreamNormalizer(kind="chat", client_wants_usage=wants_usage, prompt_tokens_estimate=10, model="m")
    parser = SseParser()
    for start in range(0, len(raw), 7):
        for event in parser.feed(raw[start : start + 7]):
            yield from norm.feed(event)
    for event in parser.close():
        yield from norm.feed(event)
    yield from norm.finish()


def client_for(handler: Callable[[httpx2.Request], httpx2.Response]) -> openai.OpenAI:
    http = httpx2.Client(transport=httpx2.MockTransport(handler))
    return openai.OpenAI(api_key="sk-test", base_url="http://gateway.test/v1", http_client=http, max_retries=0)


def streaming(frames: Iterator[bytes]) -> Callable[[httpx2.Request], httpx2.Response]:
    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=frames)

    return handler


def test_sdk_accumulates_llamacpp_tool_call_with_name_and_id_once():
    raw = (STREAMS / "llamacpp_chat_repeated_tools.sse").read_bytes()
    client = client_for(streaming(normalised(raw)))
    with client.chat.completions.stream(
        model="m", messages=[{"role": "user", "content": "Weather?"}], tools=TOOLS
    ) as s:
        completion = s.get_final_completion()
    call = completion.choices[0].message.tool_calls[0]
    assert call.function.name == "get_weather"
    assert call.id == "call_Qm3xT8v1a"
    assert json.loads(call.function.arguments) == {"city": "Paris"}
    assert completion.choices[0].finish_reason == "tool_calls"


def test_sdk_raises_api_error_on_a_streamed_backend_error():
    raw = (STREAMS / "llamacpp_error_field.sse").read_bytes()
    client = client_for(streaming(normalised(raw)))
    stream = client.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}], stream=True)
    with pytest.raises(openai.APIError, match="exceeds the available context size"):
        list(stream)


def test_sdk_survives_events_without_data_and_keep_alives():
    raw = (
        b"event: ping\n\n: keep-alive\n\n"
        + (STREAMS / "ollama_chat_truncated.sse").read_bytes()
        + b"id: 9\n\ndata: not json\n\n"
    )
    client = client_for(streaming(normalised(raw, wants_usage=True)))
    stream = client.chat.completions.create(
        model="m",
        messages=[{"role": "user", "content": "x"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    received = list(stream)
    assert "".join(c.choices[0].delta.content or "" for c in received if c.choices) == "The sky is"
    assert received[-2].choices[0].finish_reason == "stop"
    assert received[-1].usage.completion_tokens == 3


def test_sdk_decodes_base64_embeddings_made_from_a_float_backend():
    """The SDK asks for base64 when the caller names no format, and decodes it itself."""
    backend_floats = [[0.1, -0.25, 3.5], [1e-3, 2.0, -7.75]]
    asked: list[str | None] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        asked.append(json.loads(request.content).get("encoding_format"))
        body = {
            "object": "list",
            "model": "bge",
            "data": [{"object": "embedding", "index": i, "embedding": e} for i, e in enumerate(backend_floats)],
            "usage": {"prompt_tokens": 4, "total_tokens": 4},
        }
        return httpx2.Response(200, json=normalize_embeddings(body, asked[-1]))

    client = client_for(handler)
    as_float32 = [np.asarray(e, dtype="<f4").tolist() for e in backend_floats]
    result = client.embeddings.create(model="bge", input=["a", "b"])
    assert [item.embedding for item in result.data] == as_float32
    assert asked[-1] == "base64"
    result = client.embeddings.create(model="bge", input=["a", "b"], encoding_format="float")
    assert [item.embedding for item in result.data] == backend_floats


def test_sdk_raises_the_right_exception_with_the_backend_message():
    def handler(request: httpx2.Request) -> httpx2.Response:
        body = openai_error_body(422, b'{"detail": [{"loc": ["body", "messages"], "msg": "Field required"}]}', None)
        return httpx2.Response(422, json=body)

    client = client_for(handler)
    with pytest.raises(openai.UnprocessableEntityError) as info:
        client.chat.completions.create(model="m", messages=[])
    assert "messages: Field required" in info.value.message
    assert info.value.param == "messages"
    assert info.value.type == "invalid_request_error"


def test_raw_event_without_data_really_breaks_the_sdk():
    """Why the normaliser drops them: the SDK json-decodes every event's data."""
    client = client_for(streaming(iter([b"event: ping\n\n", b"data: [DONE]\n\n"])))
    stream = client.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}], stream=True)
    with pytest.raises(json.JSONDecodeError):
        list(stream)

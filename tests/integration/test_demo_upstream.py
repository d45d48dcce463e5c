"""The demo upstream served on a loopback port: wire format, quirks, failures, test controls.

Raw aiohttp requests check the bytes on the wire; the real openai SDK checks that what we
send is what OpenAI clients can read.
"""

from __future__ import annotations

import base64
import contextlib
import json
import math
import struct
import time
from collections.abc import AsyncIterator

import aiohttp
import anyio
import openai
import pytest
from aiohttp import web
from pydantic import BaseModel
from structlog.testing import capture_logs

from gateway.demo.answers import FIXED_ANSWER, LONG_ANSWER_WORDS, count_tokens
from gateway.demo.upstream import DemoOptions, create_demo_app, running_demo_upstream

pytestmark = pytest.mark.anyio

USER = [{"role": "user", "content": "What is the weather in Paris?"}]
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
        },
    }
]


@contextlib.asynccontextmanager
async def demo(**options) -> AsyncIterator[aiohttp.ClientSession]:
    async with running_demo_upstream(DemoOptions(**options)) as url, aiohttp.ClientSession(url) as session:
        yield session


@contextlib.asynccontextmanager
async def sdk(**options) -> AsyncIterator[openai.AsyncOpenAI]:
    async with (
        running_demo_upstream(DemoOptions(**options)) as url,
        openai.AsyncOpenAI(base_url=url + "/v1", api_key="demo-key", max_retries=0) as client,
    ):
        yield client


def sse_events(raw: bytes) -> list[bytes]:
    assert raw.endswith(b"\n\n")
    return raw[:-2].split(b"\n\n")


def data_chunks(events: list[bytes]) -> list[dict]:
    return [json.loads(event[len(b"data: ") :]) for event in events if event.startswith(b"data: {")]


async def stats(session: aiohttp.ClientSession) -> dict[str, int]:
    async with session.get("/_demo/stats") as response:
        return await response.json()


async def wait_stats(session: aiohttp.ClientSession, key: str, expected: int, timeout_s: float = 3) -> dict[str, int]:
    with anyio.fail_after(timeout_s):
        while (current := await stats(session))[key] != expected:
            await anyio.sleep(0.02)
    return current


async def test_health_and_models_are_served():
    async with demo(models=("demo-chat", "other")) as session:
        async with session.get("/health") as response:
            assert response.status == 200
            assert await response.json() == {"status": "ok"}
        async with session.get("/v1/models") as response:
            body = await response.json()
    assert body["object"] == "list"
    assert [model["id"] for model in body["data"]] == ["demo-chat", "other"]
    assert all(model["object"] == "model" for model in body["data"])


@pytest.mark.parametrize("quirks", ["none", "llamacpp"])
async def test_chat_completion_echoes_the_model_and_counts_usage(quirks):
    async with demo(quirks=quirks) as session:
        payload = {"model": "whatever-model", "messages": USER, "max_tokens": 5}
        async with session.post("/v1/chat/completions", json=payload) as response:
            assert response.status == 200
            assert response.content_type == "application/json"
            body = await response.json()
    assert body["id"].startswith("chatcmpl-")
    assert body["object"] == "chat.completion"
    assert isinstance(body["created"], int)
    assert body["model"] == "whatever-model"
    assert body["choices"][0]["message"]["content"] == " ".join(FIXED_ANSWER.split()[:5])
    assert body["choices"][0]["finish_reason"] == "length"
    assert body["usage"] == {"prompt_tokens": 6, "completion_tokens": 5, "total_tokens": 11}


async def test_openai_stream_is_framed_as_sse_with_finish_and_usage_chunks():
    async with demo() as session:
        payload = {"model": "m", "messages": USER, "stream": True, "stream_options": {"include_usage": True}}
        async with session.post("/v1/chat/completions", json=payload) as response:
            assert response.status == 200
            assert response.content_type == "text/event-stream"
            events = sse_events(await response.read())
    assert events[-1] == b"data: [DONE]"
    assert all(event.startswith(b"data: ") for event in events)
    chunks = data_chunks(events)
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert "".join(c["choices"][0]["delta"].get("content", "") for c in chunks[:-1]) == FIXED_ANSWER
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"]["completion_tokens"] == count_tokens(FIXED_ANSWER)


async def test_llamacpp_stream_has_keep_alives_pings_and_no_finish_or_usage():
    async with demo(quirks="llamacpp") as session:
        payload = {"model": "m", "messages": USER, "stream": True, "stream_options": {"include_usage": True}}
        async with session.post("/v1/chat/completions", json=payload) as response:
            events = sse_events(await response.read())
    assert b": keep-alive" in events
    assert b"event: ping" in events
    assert events[-1] == b"data: [DONE]"
    chunks = data_chunks(events)
    assert all(c["choices"][0]["finish_reason"] is None for c in chunks)
    assert "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks).count(" ") == LONG_ANSWER_WORDS - 1


@pytest.mark.parametrize("quirks", ["none", "llamacpp"])
async def test_legacy_completion_answers_each_prompt(quirks):
    async with demo(quirks=quirks, mode="echo") as session:
        payload = {"model": "m", "prompt": ["one two", "three"], "max_tokens": 8}
        async with session.post("/v1/completions", json=payload) as response:
            body = await response.json()
    assert body["object"] == "text_completion"
    assert body["id"].startswith("cmpl-")
    assert [choice["text"] for choice in body["choices"]] == ["one two", "three"]
    assert body["usage"] == {"prompt_tokens": 3, "completion_tokens": 3, "total_tokens": 6}


async def test_legacy_completion_streams_words_then_finish():
    async with demo() as session:
        payload = {"model": "m", "prompt": "hi", "stream": True, "max_tokens": 3}
        async with session.post("/v1/completions", json=payload) as response:
            chunks = data_chunks(sse_events(await response.read()))
    assert [c["choices"][0]["text"] for c in chunks] == ["This", " is", " the", ""]
    assert chunks[-1]["choices"][0]["finish_reason"] == "length"


async def test_embeddings_honour_base64_in_openai_mode():
    async with demo(embedding_dim=16) as session:
        payload = {"model": "e", "input": ["alpha beta", "gamma"], "encoding_format": "base64"}
        async with session.post("/v1/embeddings", json=payload) as response:
            body = await response.json()
    assert body["usage"] == {"prompt_tokens": 3, "total_tokens": 3}
    vector = struct.unpack("<16f", base64.b64decode(body["data"][0]["embedding"]))
    assert math.isclose(math.hypot(*vector), 1.0, rel_tol=1e-5)
    assert [item["index"] for item in body["data"]] == [0, 1]


async def test_llamacpp_embeddings_are_floats_even_when_base64_is_asked():
    async with demo(quirks="llamacpp") as session:
        payload = {"model": "e", "input": "alpha", "encoding_format": "base64"}
        async with session.post("/v1/embeddings", json=payload) as response:
            body = await response.json()
    assert isinstance(body["data"][0]["embedding"], list)
    assert len(body["data"][0]["embedding"]) == 64


@pytest.mark.parametrize(
    ("quirks", "expected"),
    [
        (
            "none",
            {
                "error": {
                    "message": "Missing required parameter: 'messages'.",
                    "type": "invalid_request_error",
                    "param": "messages",
                    "code": "missing_required_parameter",
                }
            },
        ),
        ("llamacpp", {"detail": "Missing required parameter: 'messages'."}),
    ],
)
async def test_missing_field_is_a_400_in_the_dialect_of_the_quirks(quirks, expected):
    async with demo(quirks=quirks) as session, session.post("/v1/chat/completions", json={"model": "m"}) as response:
        assert response.status == 400
        assert await response.json() == expected


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/v1/completions", "/v1/embeddings"])
async def test_malformed_json_is_a_400_with_an_openai_error(path):
    async with demo() as session, session.post(path, data=b"{not json") as response:
        assert response.status == 400
        error = (await response.json())["error"]
    assert error["type"] == "invalid_request_error"
    assert set(error) == {"message", "type", "param", "code"}


@pytest.mark.parametrize(
    ("quirks", "status", "retry_after", "body_key"),
    [
        ("none", 503, None, "error"),
        ("none", 429, "1", "error"),
        ("llamacpp", 429, "86400", "detail"),
        ("llamacpp", 500, None, "detail"),
    ],
)
async def test_fail_status_answers_every_post_with_it(quirks, status, retry_after, body_key):
    async with demo(quirks=quirks, fail_status=status) as session:
        async with session.get("/v1/models") as response:
            assert response.status == 200
        async with session.post("/v1/chat/completions", json={"model": "m", "messages": USER}) as response:
            assert response.status == status
            assert response.headers.get("Retry-After") == retry_after
            assert set(await response.json()) == {body_key}


async def test_latency_delays_the_answer():
    async with demo(latency_ms=150) as session:
        started = time.monotonic()
        async with session.post("/v1/chat/completions", json={"model": "m", "messages": USER}) as response:
            await response.read()
        assert time.monotonic() - started >= 0.15


async def test_received_requests_keep_bodies_and_only_the_presence_of_authorization():
    async with demo() as session:
        payload = {"model": "m", "messages": USER}
        headers = {"Authorization": "Bearer sk-secret-value", "X-Request-Id": "req-1"}
        async with session.post("/v1/chat/completions", json=payload, headers=headers):
            pass
        async with session.get("/_demo/requests") as response:
            raw = await response.text()
        received = json.loads(raw)["requests"]
        async with session.delete("/_demo/requests"):
            pass
        async with session.get("/_demo/requests") as response:
            after_clear = (await response.json())["requests"]
    assert "sk-secret-value" not in raw
    assert len(received) == 1
    assert received[0]["path"] == "/v1/chat/completions"
    assert received[0]["body"] == payload
    assert received[0]["has_authorization"] is True
    assert received[0]["headers"]["x-request-id"] == "req-1"
    assert "authorization" not in received[0]["headers"]
    assert after_clear == []


async def test_completed_stream_is_counted_as_completed():
    async with demo() as session:
        async with session.post(
            "/v1/chat/completions", json={"model": "m", "messages": USER, "stream": True}
        ) as response:
            await response.read()
        counters = await wait_stats(session, "streams_completed", 1)
    assert counters == {"requests": 1, "streams_started": 1, "streams_completed": 1, "streams_cancelled": 0}


async def read_two_chunks_then_disconnect(base_url: str) -> None:
    async with aiohttp.ClientSession(base_url) as client:
        payload = {"model": "m", "messages": USER, "stream": True}
        response = await client.post("/v1/chat/completions", json=payload)
        for _ in range(2):
            assert (await response.content.readuntil(b"\n\n")).startswith(b"data: ")
        response.close()


async def test_client_disconnect_mid_stream_is_counted_as_cancelled():
    with capture_logs() as logs:
        async with running_demo_upstream(DemoOptions(chunk_delay_ms=50)) as url:
            await read_two_chunks_then_disconnect(url)
            async with aiohttp.ClientSession(url) as session:
                counters = await wait_stats(session, "streams_cancelled", 1)
    assert counters["streams_completed"] == 0
    assert counters["streams_started"] == 1
    assert [log["cause"] for log in logs if log["event"] == "demo_upstream.stream_cancelled"] == ["handler_cancelled"]


async def test_disconnect_is_detected_on_write_when_handlers_are_not_cancelled():
    runner = web.AppRunner(
        create_demo_app(DemoOptions(chunk_delay_ms=50)), handler_cancellation=False, shutdown_timeout=1
    )
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        url = f"http://127.0.0.1:{runner.addresses[0][1]}"
        with capture_logs() as logs:
            await read_two_chunks_then_disconnect(url)
            async with aiohttp.ClientSession(url) as session:
                counters = await wait_stats(session, "streams_cancelled", 1)
    finally:
        await runner.cleanup()
    assert counters["streams_completed"] == 0
    assert [log["cause"] for log in logs if log["event"] == "demo_upstream.stream_cancelled"] == ["connection_reset"]


async def test_openai_sdk_reads_chat_completions_and_streams():
    async with sdk() as client:
        completion = await client.chat.completions.create(model="demo-chat", messages=USER, n=2)
        stream = await client.chat.completions.create(
            model="demo-chat", messages=USER, stream=True, stream_options={"include_usage": True}
        )
        pieces, usage = [], None
        async for chunk in stream:
            pieces.extend(choice.delta.content or "" for choice in chunk.choices)
            usage = chunk.usage or usage
    assert [choice.message.content for choice in completion.choices] == [FIXED_ANSWER, FIXED_ANSWER]
    assert "".join(pieces) == FIXED_ANSWER
    assert usage is not None
    assert usage.completion_tokens == count_tokens(FIXED_ANSWER)


async def test_openai_sdk_accumulates_a_streamed_tool_call():
    async with sdk() as client, client.chat.completions.stream(model="demo-chat", messages=USER, tools=TOOLS) as stream:
        final = await stream.get_final_completion()
    call = final.choices[0].message.tool_calls[0]
    assert call.id.startswith("call_")
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "What is the weather in Paris?"}
    assert final.choices[0].finish_reason == "tool_calls"


class Forecast(BaseModel):
    city: str
    days: int
    sunny: bool


async def test_openai_sdk_parses_structured_output():
    async with sdk(mode="echo") as client:
        completion = await client.chat.completions.parse(model="demo-chat", messages=USER, response_format=Forecast)
    assert completion.choices[0].message.parsed == Forecast(city="What is the weather in Paris?", days=0, sunny=False)


async def test_openai_sdk_reads_embeddings_and_legacy_completions():
    async with sdk(embedding_dim=32) as client:
        embeddings = await client.embeddings.create(model="demo-embed", input=["alpha", "beta"])
        completion = await client.completions.create(model="demo-chat", prompt="Say", max_tokens=2)
    assert [len(item.embedding) for item in embeddings.data] == [32, 32]
    assert math.isclose(math.hypot(*embeddings.data[0].embedding), 1.0, rel_tol=1e-5)
    assert completion.choices[0].text == "This is"


async def test_openai_sdk_raises_its_rate_limit_error_on_429():
    async with sdk(fail_status=429) as client:
        with pytest.raises(openai.RateLimitError) as caught:
            await client.chat.completions.create(model="demo-chat", messages=USER)
    assert caught.value.status_code == 429

"""The official openai SDK, sync and async, against a running gateway and demo upstream."""

from __future__ import annotations

import base64
import struct

import httpx
import openai
import pytest

from tests.e2e.conftest import APP_KEY
from tests.processes import Running

pytestmark = pytest.mark.e2e


def test_chat_completion_non_streaming(client: openai.OpenAI) -> None:
    answer = client.chat.completions.create(model="demo-chat", messages=[{"role": "user", "content": "Hello there"}])
    assert answer.choices[0].message.role == "assistant"
    assert answer.choices[0].message.content
    assert answer.choices[0].finish_reason == "stop"
    assert answer.usage is not None
    assert answer.usage.total_tokens == answer.usage.prompt_tokens + answer.usage.completion_tokens


def test_alias_resolves_to_the_served_model(client: openai.OpenAI) -> None:
    answer = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "Hi"}])
    assert answer.model == "demo-chat"


def test_chat_streaming_with_include_usage(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model="demo-chat",
        messages=[{"role": "user", "content": "Tell me something"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["stop"]
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens > 0


def test_streaming_without_include_usage_sends_no_usage_chunk(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model="demo-chat", messages=[{"role": "user", "content": "Hi"}], stream=True
    )
    chunks = list(stream)
    assert all(c.usage is None for c in chunks)
    assert all(c.choices for c in chunks)


def test_legacy_completions(client: openai.OpenAI) -> None:
    answer = client.completions.create(model="demo-chat", prompt="Once upon a time", max_tokens=5)
    assert answer.choices[0].text
    assert answer.usage is not None
    assert answer.usage.completion_tokens <= 5


def test_embeddings_default_base64_decode_to_floats(client: openai.OpenAI) -> None:
    result = client.embeddings.create(model="demo-embed", input=["first text", "second text"])
    assert len(result.data) == 2
    vector = result.data[0].embedding
    assert len(vector) == 64
    assert abs(sum(v * v for v in vector) - 1.0) < 1e-3


def test_list_and_retrieve_models(client: openai.OpenAI) -> None:
    ids = {m.id for m in client.models.list()}
    assert {"demo-chat", "demo-embed", "gpt-4o-mini", "failover-chat"} <= ids
    assert client.models.retrieve("demo-chat").id == "demo-chat"


def test_key_with_a_model_list_sees_only_its_models(gateway: Running) -> None:
    with openai.OpenAI(base_url=f"{gateway.url}/v1", api_key="sk-e2e-limited", max_retries=0) as limited:
        assert {m.id for m in limited.models.list()} == {"gpt-4o-mini"}
        with pytest.raises(openai.NotFoundError):
            limited.chat.completions.create(model="slow-chat", messages=[{"role": "user", "content": "Hi"}])


@pytest.mark.anyio
async def test_async_client_chat_stream_and_embeddings(async_client: openai.AsyncOpenAI) -> None:
    answer = await async_client.chat.completions.create(
        model="demo-chat", messages=[{"role": "user", "content": "Hello"}]
    )
    assert answer.choices[0].message.content
    stream = await async_client.chat.completions.create(
        model="demo-chat",
        messages=[{"role": "user", "content": "Hello"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = [c async for c in stream]
    assert chunks[-1].usage is not None
    completion = await async_client.completions.create(model="demo-chat", prompt="Say")
    assert completion.choices[0].text
    embedding = await async_client.embeddings.create(model="demo-embed", input="x")
    assert len(embedding.data[0].embedding) == 64
    models = [m.id async for m in async_client.models.list()]
    assert "demo-chat" in models


def test_bad_key_raises_authentication_error(gateway: Running) -> None:
    with (
        openai.OpenAI(base_url=f"{gateway.url}/v1", api_key="sk-wrong", max_retries=0) as bad,
        pytest.raises(openai.AuthenticationError) as info,
    ):
        bad.chat.completions.create(model="demo-chat", messages=[{"role": "user", "content": "Hi"}])
    assert info.value.code == "invalid_api_key"


def test_malformed_request_raises_bad_request(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model="demo-chat", messages=[])
    assert info.value.param == "messages"


def test_invalid_json_is_a_400_in_openai_shape(gateway: Running) -> None:
    response = httpx.post(
        f"{gateway.url}/v1/chat/completions",
        content=b"{not json",
        headers={"authorization": f"Bearer {APP_KEY}", "content-type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"
    assert response.headers["x-request-id"]


def test_unknown_model_raises_not_found(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as info:
        client.chat.completions.create(model="no-such-model", messages=[{"role": "user", "content": "Hi"}])
    assert info.value.code == "model_not_found"


def test_backend_down_raises_server_error_with_openai_body(client: openai.OpenAI) -> None:
    with pytest.raises(openai.APIStatusError) as info:
        client.chat.completions.create(model="down-chat", messages=[{"role": "user", "content": "Hi"}])
    assert info.value.status_code == 503
    assert isinstance(info.value, openai.InternalServerError)
    body = info.value.body
    assert isinstance(body, dict)
    assert body["code"] == "backend_unavailable"


def test_backend_5xx_is_reported_as_502_in_openai_shape(client: openai.OpenAI) -> None:
    with pytest.raises(openai.InternalServerError) as info:
        client.chat.completions.create(model="broken-chat", messages=[{"role": "user", "content": "Hi"}])
    assert info.value.status_code == 502
    assert isinstance(info.value.body, dict)
    assert info.value.body["message"]


def test_body_over_the_limit_is_413(gateway: Running) -> None:
    big = "x" * 70000
    response = httpx.post(
        f"{gateway.url}/v1/chat/completions",
        json={"model": "demo-chat", "messages": [{"role": "user", "content": big}]},
        headers={"authorization": f"Bearer {APP_KEY}"},
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "request_too_large"


def test_request_id_is_honoured_and_generated(gateway: Running) -> None:
    headers = {"authorization": f"Bearer {APP_KEY}"}
    sent = httpx.get(f"{gateway.url}/v1/models", headers={**headers, "x-request-id": "trace-123"})
    assert sent.headers["x-request-id"] == "trace-123"
    fresh = httpx.get(f"{gateway.url}/v1/models", headers=headers)
    assert fresh.headers["x-request-id"].startswith("req_")
    missing = httpx.get(f"{gateway.url}/v1/nowhere", headers=headers)
    assert missing.status_code == 404
    assert missing.headers["x-request-id"]


def test_unknown_fields_pass_through_to_the_backend(client: openai.OpenAI, upstream: Running) -> None:
    httpx.delete(f"{upstream.url}/_demo/requests")
    client.chat.completions.create(
        model="demo-chat",
        messages=[{"role": "user", "content": "Hi"}],
        extra_body={"top_k": 7, "repetition_penalty": 1.1, "chat_template_kwargs": {"enable_thinking": False}},
    )
    received = httpx.get(f"{upstream.url}/_demo/requests").json()
    body = received["requests"][-1]["body"]
    assert body["top_k"] == 7
    assert body["repetition_penalty"] == 1.1
    assert body["chat_template_kwargs"] == {"enable_thinking": False}


def test_ops_endpoints(gateway: Running) -> None:
    assert httpx.get(f"{gateway.url}/healthz").json()["status"] == "ok"
    ready = httpx.get(f"{gateway.url}/readyz")
    # `down-chat` is served only by a backend nobody listens on, so the gateway is not ready.
    assert ready.status_code == 503
    assert ready.json()["checks"]["backends"] is False
    assert ready.json()["checks"]["audit_writer"] is True
    metrics = httpx.get(f"{gateway.url}/metrics").text
    assert "gateway_requests_total" in metrics


def _floats(b64: str) -> list[float]:
    raw = base64.b64decode(b64)
    return list(struct.unpack(f"<{len(raw) // 4}f", raw))

"""Failover between backends and cancellation of the upstream call when the client leaves."""

from __future__ import annotations

import time

import httpx
import openai
import pytest

from tests.e2e.conftest import APP_KEY
from tests.processes import Running

pytestmark = pytest.mark.e2e


def test_every_request_fails_over_from_a_refusing_backend(client: openai.OpenAI) -> None:
    for _ in range(6):
        answer = client.chat.completions.create(model="failover-chat", messages=[{"role": "user", "content": "Hi"}])
        assert answer.choices[0].message.content


def test_streams_fail_over_before_the_first_byte(client: openai.OpenAI) -> None:
    for _ in range(4):
        chunks = list(
            client.chat.completions.create(
                model="failover-chat", messages=[{"role": "user", "content": "Hi"}], stream=True
            )
        )
        assert chunks[-1].choices[0].finish_reason == "stop"


def test_a_5xx_backend_is_skipped_for_the_next_one(client: openai.OpenAI) -> None:
    for _ in range(4):
        answer = client.chat.completions.create(model="failover5xx-chat", messages=[{"role": "user", "content": "Hi"}])
        assert answer.choices[0].message.content


def _stats(upstream: Running) -> dict[str, int]:
    data = httpx.get(f"{upstream.url}/_demo/stats").json()
    return {k: int(v) for k, v in data.items() if isinstance(v, int)}


def test_client_disconnect_cancels_the_upstream_stream(gateway: Running, slow_upstream: Running) -> None:
    before = _stats(slow_upstream)
    with (
        httpx.Client(timeout=10) as http,
        http.stream(
            "POST",
            f"{gateway.url}/v1/chat/completions",
            json={
                "model": "slow-chat",
                "messages": [{"role": "user", "content": "Write a long story"}],
                "stream": True,
            },
            headers={"authorization": f"Bearer {APP_KEY}"},
        ) as response,
    ):
        assert response.status_code == 200
        lines = response.iter_lines()
        received = 0
        for line in lines:
            if line.startswith("data:"):
                received += 1
            if received >= 3:
                break
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        after = _stats(slow_upstream)
        if after["streams_cancelled"] > before.get("streams_cancelled", 0):
            break
        time.sleep(0.1)
    assert after["streams_cancelled"] == before.get("streams_cancelled", 0) + 1
    assert after.get("streams_completed", 0) == before.get("streams_completed", 0)

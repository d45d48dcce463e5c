"""The README's run command (`make run` -> `gateway demo`): gateway + demo upstream, usable at once."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from tests.processes import free_port, wait_http

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def demo_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("demo")
    port, upstream_port = free_port(), free_port()
    env = {**os.environ, "GATEWAY_AUDIT__DATABASE_URL": f"sqlite+aiosqlite:///{tmp}/audit.db"}
    log_path = tmp / "demo.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gateway",
                "demo",
                "--port",
                str(port),
                "--upstream-port",
                str(upstream_port),
                "--workers",
                "1",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=Path(__file__).parents[2],
        )
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", proc, timeout_s=180)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_demo_serves_chat_with_the_demo_key(demo_gateway: str) -> None:
    with openai.OpenAI(base_url=demo_gateway, api_key="sk-demo-app", max_retries=0) as client:
        answer = client.chat.completions.create(
            model="demo-chat", messages=[{"role": "user", "content": "Hello, gateway"}]
        )
        assert answer.choices[0].message.content == "Hello, gateway"
        stream = client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": "Streaming works"}],
            stream=True,
            stream_options={"include_usage": True},
        )
        chunks = list(stream)
        assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Streaming works"
        assert chunks[-1].usage is not None
        assert {m.id for m in client.models.list()} >= {"demo-chat", "demo-embed"}
        assert len(client.embeddings.create(model="demo-embed", input="x").data[0].embedding) == 64
        assert client.completions.create(model="demo-chat", prompt="Say this").choices[0].text


def test_demo_pseudonymizes_names_and_restores_them(demo_gateway: str) -> None:
    with openai.OpenAI(base_url=demo_gateway, api_key="sk-demo-app", max_retries=0) as client:
        answer = client.chat.completions.create(
            model="demo-chat", messages=[{"role": "user", "content": "Please email jane.doe@example.com today"}]
        )
    assert answer.choices[0].message.content == "Please email jane.doe@example.com today"

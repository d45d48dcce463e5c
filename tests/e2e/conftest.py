from __future__ import annotations

import json
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

from tests.processes import Running, free_port, start_gateway, start_upstream

APP_KEY = "sk-e2e-app"
AUDITOR_KEY = "sk-e2e-auditor"


@pytest.fixture(scope="session")
def e2e_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("e2e")


TEST_MODELS = [
    "echo-chat",
    "quirky-chat",
    "quirky-embed",
    "slow-chat",
    "failover-chat",
    "down-chat",
    "broken-chat",
    "failover5xx-chat",
]


@pytest.fixture(scope="session")
def policy_dir(e2e_dir: Path) -> Path:
    """The shipped policies, with the test backends' models added to the catalog as a policy author would."""
    target = e2e_dir / "policies"
    shutil.copytree(Path(__file__).parents[2] / "policies", target)
    catalog_path = target / "data" / "models.json"
    catalog = json.loads(catalog_path.read_text())
    for model in TEST_MODELS:
        kind = "embedding" if model.endswith("embed") else "chat"
        catalog["models"][model] = {"license": "demo", "modalities": ["text"], "kind": kind}
    catalog_path.write_text(json.dumps(catalog, indent=2))
    return target


@pytest.fixture(scope="session")
def upstream(e2e_dir: Path) -> Iterator[Running]:
    proc = start_upstream(e2e_dir, name="upstream")
    yield proc
    proc.stop()


@pytest.fixture(scope="session")
def echo_upstream(e2e_dir: Path) -> Iterator[Running]:
    proc = start_upstream(e2e_dir, "--mode", "echo", name="echo-upstream")
    yield proc
    proc.stop()


@pytest.fixture(scope="session")
def quirky_upstream(e2e_dir: Path) -> Iterator[Running]:
    proc = start_upstream(e2e_dir, "--quirks", "llamacpp", name="quirky-upstream")
    yield proc
    proc.stop()


@pytest.fixture(scope="session")
def slow_upstream(e2e_dir: Path) -> Iterator[Running]:
    proc = start_upstream(e2e_dir, "--quirks", "llamacpp", "--chunk-delay-ms", "100", name="slow-upstream")
    yield proc
    proc.stop()


@pytest.fixture(scope="session")
def failing_upstream(e2e_dir: Path) -> Iterator[Running]:
    proc = start_upstream(e2e_dir, "--fail-status", "500", name="failing-upstream")
    yield proc
    proc.stop()


def _backend(name: str, url: str, models: list[str], **extra: Any) -> dict[str, Any]:
    return {"name": name, "base_url": f"{url}/v1", "models": models, "timeout_s": 10, "connect_timeout_s": 2, **extra}


@pytest.fixture(scope="session")
def gateway_config(
    e2e_dir: Path,
    policy_dir: Path,
    upstream: Running,
    echo_upstream: Running,
    quirky_upstream: Running,
    slow_upstream: Running,
    failing_upstream: Running,
) -> dict[str, Any]:
    closed = f"http://127.0.0.1:{free_port()}"
    return {
        "backends": [
            _backend("demo", upstream.url, ["demo-chat", "demo-embed"]),
            _backend("echo", echo_upstream.url, ["echo-chat"]),
            _backend("llamacpp", quirky_upstream.url, ["quirky-chat", "quirky-embed"]),
            _backend("slow", slow_upstream.url, ["slow-chat"]),
            _backend("refusing", closed, ["failover-chat", "down-chat"]),
            _backend("failover-second", upstream.url, ["failover-chat"]),
            _backend("broken", failing_upstream.url, ["broken-chat", "failover5xx-chat"]),
            _backend("healthy", upstream.url, ["failover5xx-chat"]),
        ],
        "model_aliases": {"gpt-4o-mini": "demo-chat"},
        "keys": [
            {"key": APP_KEY, "id": "e2e-app", "tenant": "acme", "roles": ["app"]},
            {"key": AUDITOR_KEY, "id": "e2e-auditor", "tenant": "acme", "roles": ["auditor"]},
            {"key": "sk-e2e-limited", "id": "e2e-limited", "tenant": "acme", "models": ["gpt-4o-mini"]},
        ],
        "server": {"max_body_bytes": 65536},
        "audit": {"database_url": f"sqlite+aiosqlite:///{e2e_dir}/audit.db"},
        "policy": {"dir": str(policy_dir)},
    }


@pytest.fixture(scope="session")
def gateway(e2e_dir: Path, gateway_config: dict[str, Any]) -> Iterator[Running]:
    proc = start_gateway(e2e_dir, gateway_config)
    yield proc
    proc.stop()


@pytest.fixture
def client(gateway: Running) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=APP_KEY, max_retries=0, timeout=20) as sdk:
        yield sdk


@pytest.fixture
async def async_client(gateway: Running) -> AsyncIterator[openai.AsyncOpenAI]:
    async with openai.AsyncOpenAI(base_url=f"{gateway.url}/v1", api_key=APP_KEY, max_retries=0, timeout=20) as sdk:
        yield sdk

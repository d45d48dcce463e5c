"""Hot reload through the real file watcher: edits take effect without a restart, broken ones do not."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import anyio
import pytest
from prometheus_client import REGISTRY

from gateway.policy.runtime import PolicyRuntime, build_policy_runtime
from gateway.policy.settings import PolicySettings
from tests.unit.policy.contexts import BACKEND_TAGS, make_context

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

POLICIES = Path(__file__).resolve().parents[2] / "policies"


async def _wait_for(condition, timeout_s: float) -> float:
    started = time.perf_counter()
    with anyio.fail_after(timeout_s):
        while not condition():
            await anyio.sleep(0.02)
    return time.perf_counter() - started


@pytest.fixture
def policy_dir(tmp_path) -> Path:
    return Path(shutil.copytree(POLICIES, tmp_path / "policies"))


async def _cap(runtime: PolicyRuntime) -> int | None:
    return (await runtime.step(BACKEND_TAGS)(make_context(tenant="globex-health"))).max_tokens_cap


async def test_edited_policy_takes_effect_within_two_seconds_and_broken_edit_is_refused(policy_dir):
    runtime = build_policy_runtime(PolicySettings(dir=policy_dir, reload_debounce_ms=50))
    first_version = runtime.version
    assert await _cap(runtime) == 16384
    async with anyio.create_task_group() as tg:
        tg.start_soon(runtime.run)
        await anyio.sleep(0.3)  # let the watcher start

        tenants = policy_dir / "data/tenants.json"
        text = tenants.read_text()
        tenants.write_text(
            text.replace(
                '"tier": "enterprise",\n      "data_class": "restricted"',
                '"tier": "standard",\n      "data_class": "restricted"',
            )
        )
        elapsed = await _wait_for(lambda: runtime.version != first_version, timeout_s=2.0)
        assert elapsed < 2.0
        assert await _cap(runtime) == 4096
        good_version = runtime.version

        access = policy_dir / "gateway/access/access.rego"
        access.write_text(access.read_text() + "\nbroken {\n\ttrue\n}\n")
        await _wait_for(lambda: runtime.loader.last_attempt.outcome == "refused_compile", timeout_s=2.0)
        assert runtime.version == good_version
        assert await _cap(runtime) == 4096
        (error,) = runtime.status()["active"]["last_attempt"]["errors"]
        assert error["file"] == "gateway/access/access.rego"
        assert isinstance(error["line"], int)
        assert REGISTRY.get_sample_value("gateway_policy_last_reload_ok", {"role": "active"}) == 0
        tg.cancel_scope.cancel()


async def test_edit_that_breaks_a_rego_test_is_refused(policy_dir):
    runtime = build_policy_runtime(PolicySettings(dir=policy_dir, reload_debounce_ms=50))
    version = runtime.version
    async with anyio.create_task_group() as tg:
        tg.start_soon(runtime.run)
        await anyio.sleep(0.3)
        licenses = policy_dir / "data/licenses.json"
        licenses.write_text(licenses.read_text().replace('"limit": 700000000', '"limit": 800000000'))
        await _wait_for(lambda: runtime.loader.last_attempt.outcome == "refused_test", timeout_s=3.0)
        assert runtime.version == version
        failures = runtime.status()["active"]["last_attempt"]["errors"]
        assert any("test_llama_3_1_above_700_million_users_is_refused: FAIL" in e["message"] for e in failures)
        tg.cancel_scope.cancel()

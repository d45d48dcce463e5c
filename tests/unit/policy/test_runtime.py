from __future__ import annotations

import pytest
from pydantic import ValidationError

from gateway.policy.embedded import EmbeddedPolicyEngine
from gateway.policy.runtime import build_policy_runtime
from gateway.policy.settings import PolicySettings
from gateway.policy.shadow import ShadowPolicyEngine
from gateway.policy.sources import PolicyLoadError
from tests.unit.policy.contexts import BACKEND_TAGS, MINIMAL_DECISION, POLICIES, make_context, write_policy

pytestmark = pytest.mark.anyio


def test_settings_default_to_the_embedded_engine_failing_closed():
    settings = PolicySettings()
    assert (settings.engine, settings.failure, str(settings.dir)) == ("embedded", "closed", "policies")
    assert settings.shadow_dir is None


def test_settings_reject_unknown_keys_and_values():
    with pytest.raises(ValidationError):
        PolicySettings.model_validate({"engine": "wasm"})
    with pytest.raises(ValidationError):
        PolicySettings.model_validate({"failure": "closed", "fail": "open"})


async def test_runtime_from_settings_serves_the_shipped_policy():
    runtime = build_policy_runtime(PolicySettings(dir=POLICIES))
    assert isinstance(runtime.engine, EmbeddedPolicyEngine)
    ctx = await runtime.step(BACKEND_TAGS)(make_context())
    assert ctx.denial is None
    assert ctx.policy_version == runtime.version
    status = runtime.status()
    assert status["engine"] == "embedded"
    assert status["active"]["active_version"] == runtime.version
    assert status["shadow"] is None


def test_fail_open_setting_reaches_the_step():
    runtime = build_policy_runtime(PolicySettings(dir=POLICIES, failure="open", run_tests_on_reload=False))
    assert runtime.step(BACKEND_TAGS).fail_open is True


def test_broken_policy_directory_stops_start_up(tmp_path):
    root = write_policy(tmp_path, {"gateway/decision.rego": "package gateway\n\ndecision { true }\n"})
    with pytest.raises(PolicyLoadError):
        build_policy_runtime(PolicySettings(dir=root))


def test_opa_engine_needs_the_application_session():
    with pytest.raises(ValueError, match="aiohttp session"):
        build_policy_runtime(PolicySettings(dir=POLICIES, engine="opa", run_tests_on_reload=False))


async def test_shadow_dir_wraps_the_engine_and_reports_both_versions(tmp_path):
    candidate = write_policy(tmp_path, {"gateway/decision.rego": MINIMAL_DECISION})
    runtime = build_policy_runtime(PolicySettings(dir=POLICIES, shadow_dir=candidate, run_tests_on_reload=False))
    assert isinstance(runtime.engine, ShadowPolicyEngine)
    status = runtime.status()
    assert status["shadow"]["role"] == "shadow"
    assert status["shadow"]["active_version"] != status["active"]["active_version"]
    ctx = await runtime.step(BACKEND_TAGS)(make_context())
    assert ctx.denial is None


async def test_run_returns_at_once_when_reload_is_off():
    runtime = build_policy_runtime(PolicySettings(dir=POLICIES, reload=False, run_tests_on_reload=False))
    await runtime.run()
    assert runtime.status()["active"]["watching"] is False

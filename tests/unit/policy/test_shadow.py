from __future__ import annotations

import pytest
from prometheus_client import REGISTRY
from structlog.testing import capture_logs

from gateway.errors import PolicyEngineUnavailable
from gateway.policy.decision import JsonValue, PolicyDecision, Reason
from gateway.policy.embedded import EmbeddedPolicyEngine, compile_policy
from gateway.policy.engine import PolicyResult
from gateway.policy.shadow import ShadowPolicyEngine, differing_fields
from gateway.policy.sources import read_policy_sources
from gateway.policy.step import build_policy_input
from tests.unit.policy.contexts import BACKEND_TAGS, POLICIES, make_context, write_policy

pytestmark = pytest.mark.anyio


class UnavailableEngine:
    """Stands in for a candidate whose engine is down."""

    name = "down"
    version = None

    async def decide(self, policy_input: dict[str, JsonValue], /) -> PolicyResult:
        raise PolicyEngineUnavailable("down")


def _sample(name: str, labels: dict[str, str]) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def _candidate(tmp_path, edit) -> EmbeddedPolicyEngine:
    files = {p.relative_to(POLICIES).as_posix(): p.read_text() for p in POLICIES.rglob("*") if p.is_file()}
    files = edit(files)
    return EmbeddedPolicyEngine(compile_policy(read_policy_sources(write_policy(tmp_path, files))))


def _stricter_llama_threshold(files):
    files["data/licenses.json"] = files["data/licenses.json"].replace('"limit": 700000000', '"limit": 1000')
    return files


def test_differing_fields_compares_reasons_by_code():
    a = PolicyDecision(allow=False, reasons=(Reason("policy.a", "one text"),), backends=("x",))
    b = PolicyDecision(allow=False, reasons=(Reason("policy.a", "other text"),), backends=("x", "y"))
    assert differing_fields(a, b) == ("backends",)


async def test_shadow_enforces_the_active_decision_and_counts_disagreements(engine, tmp_path):
    shadow = ShadowPolicyEngine(engine, _candidate(tmp_path, _stricter_llama_threshold))
    document = build_policy_input(make_context(model="llama-3.1-8b", pii_counts={"PERSON": 1}), BACKEND_TAGS).to_json()
    before = _sample("gateway_policy_shadow_disagreements_total", {"field": "allow"})
    with capture_logs() as logs:
        result = await shadow.decide(document)
    assert result.decision.allow is True
    assert result.policy_version == engine.version
    assert _sample("gateway_policy_shadow_disagreements_total", {"field": "allow"}) == before + 1
    (event,) = [e for e in logs if e["event"] == "policy.shadow.disagreement"]
    assert event["candidate_reasons"] == ["policy.license.mau_exceeded"]
    assert event["request_id"] == "req-1"
    assert "PERSON" not in str(event)
    assert "hello there" not in str(event)


async def test_agreeing_candidate_is_counted_quietly(engine, shipped_policy):
    shadow = ShadowPolicyEngine(engine, EmbeddedPolicyEngine(shipped_policy))
    before = _sample("gateway_policy_shadow_evaluations_total", {"result": "agree"})
    with capture_logs() as logs:
        await shadow.decide(build_policy_input(make_context(), BACKEND_TAGS).to_json())
    assert _sample("gateway_policy_shadow_evaluations_total", {"result": "agree"}) == before + 1
    assert not [e for e in logs if e["event"].startswith("policy.shadow")]


async def test_failing_candidate_never_affects_the_call(engine):
    shadow = ShadowPolicyEngine(engine, UnavailableEngine())
    result = await shadow.decide(build_policy_input(make_context(), BACKEND_TAGS).to_json())
    assert result.decision.allow is True


async def test_failing_active_engine_still_fails_the_call(engine):
    shadow = ShadowPolicyEngine(UnavailableEngine(), engine)
    with pytest.raises(PolicyEngineUnavailable):
        await shadow.decide(build_policy_input(make_context(), BACKEND_TAGS).to_json())

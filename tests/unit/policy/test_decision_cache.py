"""Equal policy inputs share a decision per policy version, unless the policy could tell them apart."""

from __future__ import annotations

import pytest

from gateway.policy.embedded import EmbeddedPolicyEngine, compile_policy
from gateway.policy.metrics import CACHE_HITS
from gateway.policy.sources import read_policy_sources
from gateway.policy.step import build_policy_input
from tests.unit.policy.contexts import BACKEND_TAGS, make_context, write_policy

pytestmark = pytest.mark.anyio

ALLOW = 'package gateway\n\ndecision := {"allow": true, "reasons": [], "backends": ["demo-upstream"]}\n'
CLOCKED = 'package gateway\n\ndecision := {"allow": time.now_ns() > 0, "reasons": [], "backends": ["demo-upstream"]}\n'


def _engine(tmp_path, rego: str) -> EmbeddedPolicyEngine:
    return EmbeddedPolicyEngine(
        compile_policy(read_policy_sources(write_policy(tmp_path, {"gateway/decision.rego": rego})))
    )


def _hits() -> float:
    return CACHE_HITS._value.get()


async def test_calls_differing_only_in_request_id_share_a_decision(tmp_path):
    engine = _engine(tmp_path, ALLOW)
    first = build_policy_input(make_context(), BACKEND_TAGS).to_json()
    second = {**first, "request": {**first["request"], "id": "another-request"}}
    before = _hits()
    assert (await engine.decide(first)).decision.allow
    assert (await engine.decide(second)).decision.allow
    assert _hits() == before + 1


async def test_policies_using_the_clock_are_never_served_from_cache(tmp_path):
    engine = _engine(tmp_path, CLOCKED)
    policy_input = build_policy_input(make_context(), BACKEND_TAGS).to_json()
    before = _hits()
    await engine.decide(policy_input)
    await engine.decide(policy_input)
    assert _hits() == before


async def test_a_new_policy_version_starts_with_an_empty_cache(tmp_path):
    engine = _engine(tmp_path / "a", ALLOW)
    policy_input = build_policy_input(make_context(), BACKEND_TAGS).to_json()
    await engine.decide(policy_input)
    deny = ALLOW.replace('"allow": true', '"allow": false').replace('"reasons": []', '"reasons": ["policy.test"]')
    engine.activate(compile_policy(read_policy_sources(write_policy(tmp_path / "b", {"gateway/decision.rego": deny}))))
    assert not (await engine.decide(policy_input)).decision.allow

"""The EvaluatePolicy step with the real embedded engine."""

from __future__ import annotations

from dataclasses import replace

import pytest
from structlog.testing import capture_logs

from gateway.errors import PolicyDenied, PolicyEngineUnavailable
from gateway.pipeline import run
from gateway.policy.decision import PolicyDecision
from gateway.policy.embedded import EmbeddedPolicyEngine, compile_policy
from gateway.policy.engine import PolicyResult
from gateway.policy.sources import read_policy_sources
from gateway.policy.step import EvaluatePolicy, build_policy_input, merge_pii_actions
from tests.unit.policy.contexts import BACKEND_TAGS, make_context, write_policy

pytestmark = pytest.mark.anyio


def _engine(tmp_path, decision_rego: str) -> EmbeddedPolicyEngine:
    root = write_policy(tmp_path, {"gateway/decision.rego": decision_rego})
    return EmbeddedPolicyEngine(compile_policy(read_policy_sources(root)))


FIXED = """package gateway

decision := {
\t"allow": true,
\t"reasons": [],
\t"redact": ["PERSON", "EMAIL_ADDRESS"],
\t"pii_action": {"PERSON": "pseudonymize", "IBAN_CODE": "block"},
\t"backends": ["cloud-us", "demo-upstream"],
\t"max_tokens": 512,
\t"store_content": "none",
}
"""

BROKEN_AT_RUNTIME = """package gateway

decision := {"allow": to_number(input.request.id) > 0, "backends": []}
"""


def test_policy_input_carries_counts_and_tags_but_no_text():
    ctx = make_context(pii_counts={"PERSON": 2, "EMAIL_ADDRESS": 0}, backends=("demo-upstream", "cloud-us", "unknown"))
    document = build_policy_input(ctx, BACKEND_TAGS).to_json()
    assert document["pii"] == {"request": {"PERSON": 2}}
    assert document["backends"] == [
        {"name": "demo-upstream", "tags": BACKEND_TAGS["demo-upstream"]},
        {"name": "cloud-us", "tags": BACKEND_TAGS["cloud-us"]},
        {"name": "unknown", "tags": {}},
    ]
    assert "hello there" not in str(document)
    assert document["request"]["estimated_tokens"] > 0


def test_estimated_tokens_from_an_earlier_step_are_reused():
    ctx = make_context().with_extra("estimated_tokens", 777)
    assert build_policy_input(ctx, BACKEND_TAGS).estimated_tokens == 777


def test_policy_actions_are_merged_over_configuration_defaults():
    decision = PolicyDecision(
        allow=True, redact=("PERSON", "LOCATION"), pii_action={"PERSON": "pseudonymize", "IBAN_CODE": "block"}
    )
    merged = merge_pii_actions(decision, {"EMAIL_ADDRESS": "mask", "LOCATION": "hash"}, "mask")
    assert merged == {"EMAIL_ADDRESS": "mask", "LOCATION": "hash", "PERSON": "pseudonymize", "IBAN_CODE": "block"}


async def test_allowed_decision_sets_obligations_on_the_context(tmp_path):
    step = EvaluatePolicy(
        engine=_engine(tmp_path, FIXED), backend_tags=BACKEND_TAGS, default_pii_actions={"PHONE_NUMBER": "mask"}
    )
    ctx = await step(make_context(backends=("demo-upstream", "onprem-eu", "cloud-us")))
    assert ctx.denial is None
    assert ctx.backends == ("demo-upstream", "cloud-us")
    assert ctx.pii_actions == {
        "PHONE_NUMBER": "mask",
        "PERSON": "pseudonymize",
        "EMAIL_ADDRESS": "mask",
        "IBAN_CODE": "block",
    }
    assert ctx.max_tokens_cap == 512
    assert ctx.store_content == "none"
    assert ctx.policy_version == step.engine.version


async def test_an_earlier_lower_token_cap_is_kept(tmp_path):
    step = EvaluatePolicy(engine=_engine(tmp_path, FIXED), backend_tags=BACKEND_TAGS)
    ctx = await step(replace(make_context(backends=("demo-upstream",)), max_tokens_cap=100))
    assert ctx.max_tokens_cap == 100


async def test_denial_carries_the_policy_reasons_and_version(engine):
    step = EvaluatePolicy(engine=engine, backend_tags=BACKEND_TAGS)
    ctx = await step(make_context(roles=("auditor",), pii_counts={"JWT": 1}))
    assert isinstance(ctx.denial, PolicyDenied)
    assert ctx.denial.reasons == ("policy.caps.endpoint_not_allowed", "policy.data.secret_detected")
    assert ctx.denial.status_code == 403
    assert ctx.denial.openai_code == "policy_denied"
    assert ctx.denial.message.startswith("Request denied by policy: policy.caps.endpoint_not_allowed: ")
    assert ctx.reasons[-1] == "policy.denied"
    assert ctx.policy_version == engine.version


async def test_no_allowed_backend_is_a_denial(tmp_path):
    step = EvaluatePolicy(engine=_engine(tmp_path, FIXED), backend_tags=BACKEND_TAGS)
    ctx = await step(make_context(backends=("onprem-eu",)))
    assert isinstance(ctx.denial, PolicyDenied)
    assert ctx.denial.reasons == ("policy.backend.none_allowed",)


async def test_malformed_decision_is_denied_with_a_clear_reason(tmp_path):
    engine = _engine(tmp_path, 'package gateway\n\ndecision := {"allow": "yes", "backends": []}\n')
    ctx = await EvaluatePolicy(engine=engine, backend_tags=BACKEND_TAGS)(make_context())
    assert isinstance(ctx.denial, PolicyDenied)
    assert ctx.denial.reasons == ("policy.decision_malformed",)
    assert "`allow` must be a boolean" in ctx.denial.message


async def test_undefined_decision_is_denied(tmp_path):
    engine = _engine(tmp_path, 'package gateway\n\ndecision := {"allow": true, "backends": []} if input.never\n')
    ctx = await EvaluatePolicy(engine=engine, backend_tags=BACKEND_TAGS)(make_context())
    assert isinstance(ctx.denial, PolicyDenied)
    assert ctx.denial.reasons == ("policy.decision_undefined",)


async def test_engine_failure_fails_closed_by_default(tmp_path):
    step = EvaluatePolicy(engine=_engine(tmp_path, BROKEN_AT_RUNTIME), backend_tags=BACKEND_TAGS)
    with capture_logs() as logs, pytest.raises(PolicyEngineUnavailable) as info:
        await step(make_context())
    assert info.value.status_code == 503
    assert info.value.openai_code == "policy_unavailable"
    assert any(e["event"] == "policy.engine_error" and e["line"] == 3 for e in logs)


async def test_engine_failure_fails_open_only_when_configured(tmp_path):
    step = EvaluatePolicy(
        engine=_engine(tmp_path, BROKEN_AT_RUNTIME),
        backend_tags=BACKEND_TAGS,
        fail_open=True,
        default_pii_actions={"PERSON": "mask"},
    )
    with capture_logs() as logs:
        ctx = await step(make_context(backends=("demo-upstream", "cloud-us")))
    assert ctx.denial is None
    assert ctx.reasons == ("policy.unavailable",)
    assert ctx.pii_actions == {"PERSON": "mask"}
    assert ctx.backends == ("demo-upstream", "cloud-us")
    assert any(e["event"] == "policy.unavailable" and e["log_level"] == "warning" for e in logs)


SLOW = 'package gateway\n\ndecision := {"allow": count(numbers.range(1, 300000)) > 0, "backends": []}\n'


@pytest.mark.parametrize("offload", [False, True])
async def test_late_decision_is_discarded_as_unavailable(tmp_path, offload):
    root = write_policy(tmp_path, {"gateway/decision.rego": SLOW})
    engine = EmbeddedPolicyEngine(compile_policy(read_policy_sources(root)), offload=offload, timeout_s=0.001)
    try:
        with pytest.raises(PolicyEngineUnavailable, match="did not answer in time"):
            await engine.decide(build_policy_input(make_context(), BACKEND_TAGS).to_json())
    finally:
        engine.close()


async def test_step_runs_in_the_pipeline_and_records_its_latency(engine):
    step = EvaluatePolicy(engine=engine, backend_tags=BACKEND_TAGS)
    ctx = await run([step], make_context())
    assert ctx.denial is None
    assert "policy" in ctx.timings_ms


async def test_offloaded_and_inline_evaluation_agree(engine, shipped_policy):
    offloaded = EmbeddedPolicyEngine(shipped_policy, offload=True, timeout_s=5)
    document = build_policy_input(
        make_context(pii_counts={"PERSON": 1}, backends=("cloud-us",)), BACKEND_TAGS
    ).to_json()
    try:
        inline: PolicyResult = await engine.decide(document)
        threaded: PolicyResult = await offloaded.decide(document)
    finally:
        offloaded.close()
    assert inline.decision == threaded.decision


async def test_a_found_type_nobody_named_still_gets_the_default_action(tmp_path):
    """A type the defaults and the policy both omit is redacted with the default action, not forwarded."""
    step = EvaluatePolicy(
        engine=_engine(tmp_path, FIXED),
        backend_tags=BACKEND_TAGS,
        default_pii_actions={"PERSON": "pseudonymize"},
        default_redact_action="mask",
    )
    ctx = await run([step], make_context(pii_counts={"PHONE_NUMBER": 2, "PERSON": 1}))
    assert ctx.pii_actions["PHONE_NUMBER"] == "mask"
    assert ctx.pii_actions["PERSON"] == "pseudonymize"

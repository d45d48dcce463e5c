"""Each shipped rule, through the embedded engine and the pipeline step (Rego unit tests cover the details)."""

from __future__ import annotations

import pytest

from gateway.errors import PolicyDenied
from gateway.policy.step import EvaluatePolicy
from tests.unit.policy.contexts import BACKEND_TAGS, make_context

pytestmark = pytest.mark.anyio

COMMERCIAL = {"commercial": True, "monthly_active_users": 5000, "region": "US", "use_case": "support"}


@pytest.fixture
def step(engine):
    return EvaluatePolicy(engine=engine, backend_tags=BACKEND_TAGS)


@pytest.mark.parametrize(
    ("case", "code"),
    [
        (
            {
                "model": "meta-llama/Llama-3.1-8B-Instruct",
                "attributes": {**COMMERCIAL, "monthly_active_users": 800_000_000},
            },
            "policy.license.mau_exceeded",
        ),
        (
            {"model": "meta-llama/Llama-3.2-11B-Vision-Instruct", "attributes": {**COMMERCIAL, "region": "DE"}},
            "policy.license.region_restricted",
        ),
        ({"model": "CohereForAI/c4ai-command-r-v01", "attributes": COMMERCIAL}, "policy.license.non_commercial"),
        (
            {"model": "mistralai/Codestral-22B-v0.1", "attributes": {**COMMERCIAL, "commercial": False}},
            "policy.license.use_case_not_permitted",
        ),
        (
            {"model": "tiiuae/falcon-180B-chat", "attributes": {**COMMERCIAL, "use_case": "hosting"}},
            "policy.license.use_case_prohibited",
        ),
        ({"model": "someone/unlisted"}, "policy.license.unknown_model"),
        ({"pii_counts": {"API_KEY": 1}}, "policy.data.secret_detected"),
        (
            {"tenant": "acme-bank", "pii_counts": {"PERSON": 1}, "backends": ("cloud-us",)},
            "policy.data.pii_to_external",
        ),
        ({"tenant": "globex-health", "backends": ("cloud-us",)}, "policy.data.external_forbidden"),
        ({"tenant": "acme-bank", "backends": ("demo-upstream-us",)}, "policy.data.residency"),
        (
            {"tenant": "acme-bank", "model": "CohereForAI/c4ai-command-r-plus", "roles": ("admin",)},
            "policy.model.denied_for_tenant",
        ),
        ({"tenant": "acme-bank", "model": "google/gemma-2-9b-it"}, "policy.model.not_allowed_for_role"),
        ({"roles": ("auditor",)}, "policy.caps.endpoint_not_allowed"),
        (
            {"tenant": "initech-research", "body": {"messages": [{"role": "user", "content": "x" * 40_000}]}},
            "policy.caps.prompt_too_large",
        ),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
async def test_shipped_rule_denies_with_its_reason_code(step, case, code):
    ctx = await step(make_context(**case))
    assert isinstance(ctx.denial, PolicyDenied)
    assert code in ctx.denial.reasons


async def test_license_denial_message_names_license_and_clause(step):
    ctx = await step(make_context(model="llama-3.1-8b", attributes={**COMMERCIAL, "monthly_active_users": 900_000_000}))
    assert isinstance(ctx.denial, PolicyDenied)
    assert "Llama 3.1 Community License Agreement, section 2 (Additional Commercial Terms)" in ctx.denial.message


async def test_demo_models_are_allowed_for_the_demo_tenant(step):
    for model in ("demo-chat", "demo-embed"):
        ctx = await step(make_context(model=model))
        assert ctx.denial is None, ctx.reasons


async def test_pii_bound_for_an_external_backend_is_redacted_for_internal_data(step):
    ctx = await step(make_context(pii_counts={"EMAIL_ADDRESS": 2}, backends=("cloud-us",)))
    assert ctx.denial is None
    assert ctx.pii_actions == {"EMAIL_ADDRESS": "mask"}
    assert ctx.backends == ("cloud-us",)


async def test_confidential_pii_is_kept_on_prem(step):
    ctx = await step(make_context(tenant="acme-bank", pii_counts={"PERSON": 1}, backends=("cloud-us", "onprem-eu")))
    assert ctx.denial is None
    assert ctx.backends == ("onprem-eu",)


async def test_tier_caps_max_tokens(step):
    assert (await step(make_context(tenant="acme-bank", backends=("onprem-eu",)))).max_tokens_cap == 16384
    assert (await step(make_context(tenant="initech-research"))).max_tokens_cap == 1024


async def test_restricted_tenant_content_is_not_stored(step):
    assert (await step(make_context(tenant="globex-health"))).store_content == "none"


async def test_secret_denial_never_contains_the_secret(step):
    body = {"messages": [{"role": "user", "content": "my key is sk-proj-abcdefghijklmnopqrstuvwx"}]}
    ctx = await step(make_context(pii_counts={"API_KEY": 1}, body=body))
    assert isinstance(ctx.denial, PolicyDenied)
    assert "sk-proj" not in ctx.denial.message
    assert "API_KEY" in ctx.denial.message

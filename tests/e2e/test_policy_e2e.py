"""Policy as code through running gateways, driven by the official openai SDK (issue 4).

Two gateways on demo upstreams:

- `governed`: PII detection and a copy of the shipped policies in a temp directory, watched
  for changes (the hot-reload tests edit it and put it back); an on-prem backend and an
  external one (tag `location: external`), each its own demo upstream so a test sees where a
  prompt went. Keys carry the tenant attributes the license rules read (commercial use,
  monthly active users, region).
- `opa-down`: `policy.engine: opa` pointing at a closed port, failure mode left at its default.

Prompts carry a unique marker, so a test finds (or misses) its own call in an upstream's
request log (`GET /_demo/requests`). The `gateway policy test` CLI runs as a subprocess on a
copy with a failing test added.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from tests.e2e.gateways import (
    audit_events,
    backend,
    bodies_mentioning,
    copy_policies,
    processes_running,
    wait_for,
)
from tests.processes import Running, free_port

pytestmark = pytest.mark.e2e

LLAMA_31 = "meta-llama/Llama-3.1-8B-Instruct"
LLAMA_31_EXTERNAL = "meta-llama/Llama-3.1-70B-Instruct"
LLAMA_32_VISION = "meta-llama/Llama-3.2-11B-Vision-Instruct"
NON_COMMERCIAL = "CohereForAI/c4ai-command-r-v01"  # CC-BY-NC-4.0 in the shipped catalog
DEMO = "demo-chat"

SMALL_CO = "sk-pol-small-co"  # commercial, 5000 monthly active users, US
BIG_CO = "sk-pol-big-co"  # commercial, 800 million monthly active users, US
EU_CO = "sk-pol-eu-co"  # commercial, 5000 monthly active users, Germany
RESEARCH = "sk-pol-research"  # not commercial
BANK = "sk-pol-bank"  # tenant acme-bank: data class `confidential`, PII never leaves on-prem
AUDITOR = "sk-pol-auditor"
ADMIN = "sk-pol-admin"
FROZEN = "sk-pol-frozen"  # tenant frozen-co, which the hot-reload tests deny by an edit
RELOAD_CO = "sk-pol-reload-co"  # tenant reload-co, which a tenant-data edit restricts

FAKE_AWS_KEY = "AKIAIOSFODNN7EXAMPLE"  # AWS's documented example access key id
EMAIL = "jane.roe@example.com"


def _key(
    key: str, attributes: Mapping[str, Any], *, tenant: str = "acme", roles: tuple[str, ...] = ("app",)
) -> dict[str, Any]:
    return {
        "key": key,
        "id": key.removeprefix("sk-"),
        "tenant": tenant,
        "roles": list(roles),
        "attributes": dict(attributes),
    }


def _keys() -> list[dict[str, Any]]:
    us: dict[str, Any] = {"commercial": True, "monthly_active_users": 5000, "region": "US"}
    return [
        _key(SMALL_CO, us),
        _key(BIG_CO, {**us, "monthly_active_users": 800_000_000}),
        _key(EU_CO, {**us, "region": "DE"}),
        _key(RESEARCH, {**us, "commercial": False}),
        _key(BANK, {**us, "region": "DE"}, tenant="acme-bank"),
        _key(FROZEN, us, tenant="frozen-co"),
        _key(RELOAD_CO, us, tenant="reload-co"),
        _key(AUDITOR, {}, roles=("auditor",)),
        _key(ADMIN, {}, roles=("admin",)),
    ]


def _base_config(tmp: Path, name: str, policy: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "keys": _keys(),
        "policy": dict(policy),
        "audit": {"database_url": f"sqlite+aiosqlite:///{tmp}/{name}-audit.db"},
        "ratelimits": {"enabled": False},
    }


@pytest.fixture(scope="module")
def tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("policy-e2e")


@pytest.fixture(scope="module")
def editable_policies(tmp: Path) -> Path:
    return copy_policies(tmp / "editable-policies")


@pytest.fixture(scope="module")
def processes(tmp: Path, editable_policies: Path, upstream: Running) -> Iterator[dict[str, Running]]:
    """The gateways, the external backend's demo upstream, and the e2e session's demo upstream as on-prem."""

    def governed(up: Mapping[str, Running]) -> dict[str, Any]:
        return {
            **_base_config(tmp, "governed", {"dir": str(editable_policies), "reload_debounce_ms": 50}),
            "backends": [
                backend(
                    "onprem",
                    upstream,
                    [LLAMA_31, LLAMA_32_VISION, NON_COMMERCIAL, DEMO],
                    tags={"location": "on-prem", "region": "eu-west", "accelerator": "cpu"},
                ),
                backend(
                    "external",
                    up["external-upstream"],
                    [LLAMA_31_EXTERNAL],
                    tags={"location": "external", "region": "eu-west"},
                ),
            ],
        }

    opa_policies = copy_policies(tmp / "opa-policies")

    def opa_down(up: Mapping[str, Running]) -> dict[str, Any]:
        closed = f"http://127.0.0.1:{free_port()}"
        return {
            **_base_config(
                tmp,
                "opa-down",
                {
                    "dir": str(opa_policies),
                    "engine": "opa",
                    "opa_url": closed,
                    "reload": False,
                    "run_tests_on_reload": False,
                },
            ),
            "backends": [backend("onprem", upstream, [DEMO], tags={"location": "on-prem"})],
            "pii": {"enabled": False},
        }

    with processes_running(
        tmp,
        upstreams={"external-upstream": ()},
        gateways={"governed": governed, "opa-down": opa_down},
    ) as running:
        yield {**running, "onprem-upstream": upstream}


def sdk(gateway: Running, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=key, max_retries=0, timeout=20)


def chat(gateway: Running, key: str, model: str, text: str) -> Any:
    with sdk(gateway, key) as client:
        return client.chat.completions.create(model=model, messages=[{"role": "user", "content": text}], max_tokens=8)


def refusal(gateway: Running, key: str, model: str, text: str) -> openai.APIStatusError:
    with pytest.raises(openai.APIStatusError) as caught:
        chat(gateway, key, model, text)
    return caught.value


def error_of(exc: openai.APIStatusError) -> dict[str, Any]:
    body = exc.body
    assert isinstance(body, dict)
    return body


def assert_policy_denied(exc: openai.APIStatusError, code: str, *phrases: str) -> str:
    """The refusal is a 403 `policy_denied` naming `code` and each phrase; returns the message."""
    assert exc.status_code == 403
    error = error_of(exc)
    assert error["code"] == "policy_denied"
    assert error["type"]
    message = str(error["message"])
    assert code in message
    for phrase in phrases:
        assert phrase in message
    return message


def marker() -> str:
    return f"marker-{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="module")
def governed(processes: dict[str, Running]) -> Running:
    return processes["governed"]


@pytest.fixture(scope="module")
def onprem_upstream(processes: dict[str, Running]) -> Running:
    return processes["onprem-upstream"]


@pytest.fixture(scope="module")
def external_upstream(processes: dict[str, Running]) -> Running:
    return processes["external-upstream"]


# --- license rules -----------------------------------------------------------------------------


def test_llama_is_refused_to_a_commercial_tenant_above_the_mau_threshold(
    governed: Running, onprem_upstream: Running
) -> None:
    tag = marker()
    message = assert_policy_denied(
        refusal(governed, BIG_CO, LLAMA_31, f"Hello {tag}"),
        "policy.license.mau_exceeded",
        "Llama 3.1 Community License Agreement, section 2 (Additional Commercial Terms)",
        "700000000",
    )
    assert "800000000" in message  # the tenant's reported figure, so the caller sees why
    assert bodies_mentioning(onprem_upstream, tag) == []
    # The same model, the same backend, a tenant below the threshold: served.
    assert chat(governed, SMALL_CO, LLAMA_31, f"Hello {tag}").choices[0].message.content
    assert len(bodies_mentioning(onprem_upstream, tag)) == 1


def test_llama_3_2_vision_is_refused_to_an_eu_tenant(governed: Running, onprem_upstream: Running) -> None:
    tag = marker()
    assert_policy_denied(
        refusal(governed, EU_CO, LLAMA_32_VISION, f"Describe {tag}"),
        "policy.license.region_restricted",
        "Llama 3.2 Community License Agreement, Llama 3.2 Acceptable Use Policy (multimodal models)",
        "`DE`",
    )
    assert bodies_mentioning(onprem_upstream, tag) == []
    assert chat(governed, SMALL_CO, LLAMA_32_VISION, f"Describe {tag}").choices[0].message.content
    # The EU restriction is on the multimodal models only: a Llama text model is served.
    assert chat(governed, EU_CO, LLAMA_31, f"Describe {tag}").choices[0].message.content


def test_non_commercial_license_is_refused_to_a_commercial_tenant(governed: Running, onprem_upstream: Running) -> None:
    tag = marker()
    assert_policy_denied(
        refusal(governed, SMALL_CO, NON_COMMERCIAL, f"Summarise {tag}"),
        "policy.license.non_commercial",
        "Creative Commons Attribution-NonCommercial 4.0 International, section 2(a)(1)",
    )
    assert bodies_mentioning(onprem_upstream, tag) == []
    assert chat(governed, RESEARCH, NON_COMMERCIAL, f"Summarise {tag}").choices[0].message.content


def test_a_policy_denial_is_audited_with_its_reasons_and_the_policy_version(governed: Running) -> None:
    exc = refusal(governed, BIG_CO, LLAMA_31, "Hello")
    request_id = exc.response.headers["x-request-id"]
    events = wait_for(
        lambda: audit_events(governed, AUDITOR, request_id=request_id) or None,
        timeout_s=5,
    )
    denied = [e for e in events if e["event_type"] == "denied"]
    assert len(denied) == 1
    assert "policy.license.mau_exceeded" in denied[0]["reasons"]
    assert denied[0]["decision"] == "deny"
    assert str(denied[0]["policy_version"]).startswith("sha256:")


# --- data rules ------------------------------------------------------------------------------------


def test_pii_bound_for_an_external_backend_is_masked_as_the_policy_says(
    governed: Running, external_upstream: Running, onprem_upstream: Running
) -> None:
    tag = marker()
    text = f"Please write to {EMAIL} about ticket {tag}."
    assert chat(governed, SMALL_CO, LLAMA_31_EXTERNAL, text).choices[0].message.content
    (forwarded,) = bodies_mentioning(external_upstream, tag)
    sent = forwarded["messages"][0]["content"]
    assert EMAIL not in json.dumps(forwarded)
    # Data class `internal`: PII for external backends is masked (the policy's `redact_action`),
    assert "<EMAIL_ADDRESS>" in sent
    # where the configuration's default for an on-prem call is a pseudonym.
    chat(governed, SMALL_CO, DEMO, text)
    (on_prem,) = bodies_mentioning(onprem_upstream, tag)
    assert EMAIL not in json.dumps(on_prem)
    assert "<EMAIL_ADDRESS_1>" in on_prem["messages"][0]["content"]


def test_pii_bound_for_an_external_backend_is_refused_for_a_confidential_tenant(
    governed: Running, external_upstream: Running
) -> None:
    tag = marker()
    message = assert_policy_denied(
        refusal(governed, BANK, LLAMA_31_EXTERNAL, f"Please write to {EMAIL} about ticket {tag}."),
        "policy.data.pii_to_external",
        "EMAIL_ADDRESS",
    )
    assert EMAIL not in message
    assert bodies_mentioning(external_upstream, tag) == []
    # Without PII the same tenant may use the external backend.
    assert chat(governed, BANK, LLAMA_31_EXTERNAL, f"Ticket {tag} is closed.").choices[0].message.content
    assert len(bodies_mentioning(external_upstream, tag)) == 1


@pytest.mark.parametrize(
    ("key", "model", "upstream_name"),
    [
        (SMALL_CO, DEMO, "onprem-upstream"),
        (RESEARCH, LLAMA_31_EXTERNAL, "external-upstream"),
        (BANK, LLAMA_31, "onprem-upstream"),
    ],
    ids=["on-prem", "external", "confidential-tenant-on-prem"],
)
def test_secrets_are_always_blocked(processes: dict[str, Running], key: str, model: str, upstream_name: str) -> None:
    tag = marker()
    text = f"Deploy {tag} with aws_access_key_id = {FAKE_AWS_KEY} please"
    message = assert_policy_denied(
        refusal(processes["governed"], key, model, text), "policy.data.secret_detected", "AWS_ACCESS_KEY"
    )
    assert FAKE_AWS_KEY not in message
    assert bodies_mentioning(processes[upstream_name], tag) == []


def test_models_list_still_works(governed: Running) -> None:
    with sdk(governed, SMALL_CO) as client:
        ids = {model.id for model in client.models.list()}
        assert {LLAMA_31, LLAMA_31_EXTERNAL, DEMO} <= ids
        assert client.models.retrieve(LLAMA_31).id == LLAMA_31


# --- hot reload --------------------------------------------------------------------------------

FREEZE_RULE = """package gateway.access

# METADATA
# description: Tenants under a freeze may not call any model.
# custom:
#   code: policy.access.tenant_frozen
deny contains reason if {
	input.principal.tenant == "frozen-co"
	reason := {"code": "policy.access.tenant_frozen", "message": "tenant `frozen-co` is frozen"}
}
"""


def policy_status(gateway: Running) -> dict[str, Any]:
    response = httpx.get(f"{gateway.url}/admin/policy", headers={"Authorization": f"Bearer {ADMIN}"}, timeout=5)
    response.raise_for_status()
    status = response.json()["active"]
    assert isinstance(status, dict)
    return status


def outcome(gateway: Running, key: str) -> int:
    """HTTP status of a small chat call to the demo model."""
    try:
        chat(gateway, key, DEMO, "ping")
    except openai.APIStatusError as exc:
        return exc.status_code
    return 200


@pytest.fixture
def reloading(processes: dict[str, Running], editable_policies: Path) -> Iterator[Running]:
    """The governed gateway for a test that edits its policies: the files are put back afterwards."""
    gateway = processes["governed"]
    original = policy_status(gateway)["active_version"]
    snapshot = {p: p.read_bytes() for p in editable_policies.rglob("*") if p.is_file()}
    yield gateway
    for path in [p for p in editable_policies.rglob("*") if p.is_file() and p not in snapshot]:
        path.unlink()
    for path, content in snapshot.items():
        if path.read_bytes() != content:
            path.write_bytes(content)
    wait_for(lambda: policy_status(gateway)["active_version"] == original, timeout_s=10)


def test_a_deny_rule_saved_on_disk_takes_effect_within_two_seconds(reloading: Running, editable_policies: Path) -> None:
    before = policy_status(reloading)["active_version"]
    assert outcome(reloading, FROZEN) == 200
    saved_at = time.monotonic()
    (editable_policies / "gateway" / "access" / "freeze.rego").write_text(FREEZE_RULE)
    wait_for(lambda: outcome(reloading, FROZEN) == 403, timeout_s=2.0)
    assert time.monotonic() - saved_at <= 2.0
    exc = refusal(reloading, FROZEN, DEMO, "ping")
    assert_policy_denied(exc, "policy.access.tenant_frozen", "frozen-co")
    assert outcome(reloading, SMALL_CO) == 200  # other tenants are untouched
    status = policy_status(reloading)
    assert status["active_version"] != before
    assert status["last_attempt"]["outcome"] == "applied"


def test_a_tenant_data_edit_takes_effect_within_two_seconds(reloading: Running, editable_policies: Path) -> None:
    path = editable_policies / "data" / "tenants.json"
    data = json.loads(path.read_text())
    data["tenants"]["reload-co"] = {**data["tenants"]["default"], "models": {"allow": ["*"], "deny": [DEMO]}}
    assert outcome(reloading, RELOAD_CO) == 200
    saved_at = time.monotonic()
    path.write_text(json.dumps(data, indent=2))
    wait_for(lambda: outcome(reloading, RELOAD_CO) == 403, timeout_s=2.0)
    assert time.monotonic() - saved_at <= 2.0
    assert_policy_denied(refusal(reloading, RELOAD_CO, DEMO, "ping"), "policy.model.denied_for_tenant")


def test_a_broken_edit_keeps_the_last_good_version_and_is_reported(reloading: Running, editable_policies: Path) -> None:
    before = policy_status(reloading)
    path = editable_policies / "gateway" / "access" / "access.rego"
    lines = path.read_text().splitlines()
    broken_line = len(lines) + 2
    path.write_text("\n".join([*lines, "", "deny contains reason if {{{ this is not rego"]) + "\n")

    def refused_for_the_broken_line() -> dict[str, Any] | None:
        status = policy_status(reloading)
        attempt = status["last_attempt"] or {}
        errors = [e for e in attempt.get("errors", []) if e["file"] == "gateway/access/access.rego"]
        return status if any(e["line"] == broken_line for e in errors) else None

    status = wait_for(refused_for_the_broken_line, timeout_s=5)
    assert status["active_version"] == before["active_version"]
    attempt = status["last_attempt"]
    assert attempt["ok"] is False
    assert attempt["outcome"] == "refused_compile"
    (error,) = [e for e in attempt["errors"] if e["file"] == "gateway/access/access.rego"]
    assert error["line"] == broken_line
    assert error["message"]
    assert status["reloads_refused"] > before["reloads_refused"]
    # Still served, and still governed, by the last good version.
    assert outcome(reloading, SMALL_CO) == 200
    assert_policy_denied(refusal(reloading, BIG_CO, LLAMA_31, "ping"), "policy.license.mau_exceeded")
    metrics = httpx.get(f"{reloading.url}/metrics", timeout=5).text
    assert 'gateway_policy_last_reload_ok{role="active"} 0.0' in metrics
    logged = [json.loads(line) for line in reloading.log().splitlines() if "policy.reload_refused" in line]
    assert any(
        e.get("file") == "gateway/access/access.rego" and e.get("line") == broken_line
        for entry in logged
        for e in entry.get("errors", [])
    )


def test_policy_test_command_exits_non_zero_on_a_failing_test(tmp: Path) -> None:
    directory = copy_policies(tmp / "failing-test-policies")
    (directory / "gateway" / "access" / "expectation_test.rego").write_text(
        """package gateway.access_test

import data.gateway.access

test_every_tenant_is_refused_demo_chat if {
	count(access.deny) > 0 with input as {
		"request": {"model": "demo-chat", "endpoint": "chat"},
		"principal": {"tenant": "acme", "roles": ["app"], "attributes": {}},
		"model": {"id": "demo-chat"},
		"backends": [],
	}
}
"""
    )
    result = subprocess.run(
        [sys.executable, "-m", "gateway", "policy", "test", str(directory)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    failing = [line for line in result.stdout.splitlines() if "test_every_tenant_is_refused_demo_chat" in line]
    assert len(failing) == 1
    assert "FAIL" in failing[0]
    assert "PASS" in result.stdout  # the shipped tests still ran and passed


# --- engine failure ----------------------------------------------------------------------------


def test_an_unreachable_policy_engine_fails_closed_by_default(processes: dict[str, Running]) -> None:
    gateway, upstream = processes["opa-down"], processes["onprem-upstream"]
    tag = marker()
    exc = refusal(gateway, SMALL_CO, DEMO, f"Hello {tag}")
    assert exc.status_code == 503
    assert error_of(exc)["code"] == "policy_unavailable"
    assert bodies_mentioning(upstream, tag) == []
    with sdk(gateway, SMALL_CO) as client:  # listing models needs no decision
        assert DEMO in {model.id for model in client.models.list()}

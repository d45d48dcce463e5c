"""Building policy-step contexts and small policy directories for the policy tests."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gateway.auth import Principal, Role
from gateway.pipeline import CallRequest, Context, Endpoint

POLICIES = Path(__file__).resolve().parents[3] / "policies"

BACKEND_TAGS: dict[str, dict[str, str]] = {
    "demo-upstream": {"location": "on-prem", "accelerator": "cpu", "region": "local"},
    "onprem-eu": {"location": "on-prem", "accelerator": "gaudi", "region": "eu-west"},
    "cloud-us": {"location": "external", "region": "us-east"},
}


def make_context(
    *,
    model: str = "demo-chat",
    tenant: str = "acme",
    roles: tuple[Role, ...] = ("app",),
    attributes: Mapping[str, Any] | None = None,
    pii_counts: Mapping[str, int] | None = None,
    backends: tuple[str, ...] = ("demo-upstream",),
    endpoint: Endpoint = "chat",
    body: Mapping[str, Any] | None = None,
) -> Context:
    """A call as it reaches the policy step (PII already counted)."""
    body = body or {"model": model, "messages": [{"role": "user", "content": "hello there"}]}
    attrs = {"commercial": True, "monthly_active_users": 5000, "region": "cn-east", "use_case": "support"}
    return Context(
        request=CallRequest(request_id="req-1", endpoint=endpoint, requested_model=model, model=model, body=body),
        principal=Principal(
            key_id="key_test",
            tenant=tenant,
            roles=frozenset(roles),
            attributes=dict(attributes if attributes is not None else attrs),
        ),
        body=body,
        backends=backends,
        pii_counts=dict(pii_counts or {}),
    )


def write_policy(root: Path, files: Mapping[str, str]) -> Path:
    """Write a policy directory (relative path -> content) and return it."""
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


MINIMAL_DECISION = """package gateway

decision := {
\t"allow": input.allow,
\t"reasons": [{"code": "policy.test.denied", "message": "denied by the test policy"} | not input.allow],
\t"backends": [b.name | some b in input.backends],
}
"""

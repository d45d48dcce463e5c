"""Seeded random policy inputs, for the engine differential test and the latency benchmark.

Pure. Inputs are drawn from the catalog the policy set ships (models, aliases, tenants) plus
values outside it (unknown models, tenants, regions, entity types), so generated calls exercise
every rule, allowed and denied. Numbers are integers, as in real inputs: thresholds and money
stay exact in every engine.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping

from gateway.policy.decision import BackendCandidate, JsonValue, PolicyInput

_ENTITIES = (
    "EMAIL_ADDRESS",
    "PERSON",
    "PHONE_NUMBER",
    "CREDIT_CARD",
    "LOCATION",
    "IBAN_CODE",
    "CN_RESIDENT_ID",
    "API_KEY",
    "PASSWORD",
    "JWT",
    "SECRET_DB_URL",
)
_REGIONS = ("US", "DE", "FR", "eu-west", "eu-central", "cn-east", "JP", "EU", "br", "local", "")
_USE_CASES = ("support", "research", "evaluation", "testing", "hosting", "military", "surveillance", "personal")
_MAU = (0, 5000, 99_999_999, 100_000_000, 100_000_001, 699_999_999, 700_000_000, 700_000_001, 2_000_000_000)
_ROLES = (("app",), ("auditor",), ("admin",), ("app", "auditor"), ())
_ENDPOINTS = ("chat", "completion", "embedding")
_BACKENDS = (
    BackendCandidate("onprem-eu", {"location": "on-prem", "region": "eu-west", "accelerator": "gaudi"}),
    BackendCandidate("onprem-local", {"location": "on-prem", "region": "local", "accelerator": "cpu"}),
    BackendCandidate("cloud-us", {"location": "external", "region": "us-east"}),
    BackendCandidate("cloud-eu", {"location": "external", "region": "eu-central"}),
    BackendCandidate("untagged", {}),
)


def _model_names(data: Mapping[str, JsonValue]) -> list[str]:
    catalog = data.get("data")
    names: list[str] = ["unknown/model", "demo-chat"]
    if isinstance(catalog, dict):
        for key in ("models", "model_aliases"):
            section = catalog.get(key)
            if isinstance(section, dict):
                names.extend(section)
    return names


def _tenants(data: Mapping[str, JsonValue]) -> list[str]:
    catalog = data.get("data")
    tenants = catalog.get("tenants") if isinstance(catalog, dict) else None
    return [*(tenants if isinstance(tenants, dict) else {}), "unknown-tenant"]


def random_inputs(data: Mapping[str, JsonValue], *, seed: int, count: int) -> Iterator[PolicyInput]:
    """`count` inputs drawn with `random.Random(seed)` from the policy set's data document."""
    rng = random.Random(seed)  # noqa: S311 - test data, not security
    models = _model_names(data)
    tenants = _tenants(data)
    for i in range(count):
        model = rng.choice(models)
        attributes: dict[str, str | int | bool | float | None] = {}
        if rng.random() < 0.9:
            attributes["commercial"] = rng.random() < 0.7
        if rng.random() < 0.8:
            attributes["monthly_active_users"] = rng.choice(_MAU)
        if rng.random() < 0.8:
            attributes["region"] = rng.choice(_REGIONS)
        if rng.random() < 0.7:
            attributes["use_case"] = rng.choice(_USE_CASES)
        if rng.random() < 0.2:
            attributes["tier"] = rng.choice(("free", "standard", "enterprise", "platinum"))
        pii = {e: rng.choice((0, 1, 1, 2, 5)) for e in rng.sample(_ENTITIES, rng.choice((0, 0, 0, 1, 2, 3)))}
        backends = tuple(rng.sample(_BACKENDS, rng.choice((0, 1, 1, 2, 3))))
        yield PolicyInput(
            request_id=f"req-{seed}-{i}",
            endpoint=rng.choice(_ENDPOINTS),
            model=model,
            requested_model=model,
            stream=rng.random() < 0.5,
            max_tokens=rng.choice((None, 16, 4096, 100_000)),
            estimated_tokens=rng.choice((1, 100, 8192, 8193, 40_000, 200_000)),
            key_id=f"key_{rng.randrange(16):04x}",
            tenant=rng.choice(tenants),
            roles=rng.choice(_ROLES),
            attributes=attributes,
            pii_request=pii,
            backends=backends,
        )

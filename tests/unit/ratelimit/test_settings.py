from __future__ import annotations

import pytest
import yaml
from pydantic import ValidationError

from gateway.ratelimit.rules import LimitKind
from gateway.ratelimit.settings import RateLimitSettings

ISSUE_YAML = """
storage: memory://
default: {requests_per_minute: 600, tokens_per_minute: 200000, concurrent: 32}
tenants: {acme: {requests_per_minute: 60, tokens_per_day: 2000000}}
keys: {}
models: {}
redis_failure: {per_minute: open, budgets: closed}
"""


def test_the_issue_example_configuration_is_accepted() -> None:
    settings = RateLimitSettings.model_validate(yaml.safe_load(ISSUE_YAML))
    limits = {lim.kind: lim.amount for lim in settings.rule_book().resolve(key_id="k", tenant="acme", model="m")}
    assert limits == {
        LimitKind.REQUESTS_PER_MINUTE: 60,
        LimitKind.TOKENS_PER_MINUTE: 200_000,
        LimitKind.TOKENS_PER_DAY: 2_000_000,
        LimitKind.CONCURRENT: 32,
    }
    assert not settings.uses_redis


def test_defaults_fail_open_per_minute_and_closed_for_budgets() -> None:
    settings = RateLimitSettings()
    assert settings.redis_failure.per_minute == "open"
    assert settings.redis_failure.budgets == "closed"


def test_a_configured_default_replaces_the_built_in_one_entirely() -> None:
    settings = RateLimitSettings(default={"requests_per_minute": 5})
    kinds = {lim.kind for lim in settings.rule_book().resolve(key_id="k", tenant="t", model="m")}
    assert kinds == {LimitKind.REQUESTS_PER_MINUTE}


def test_tenant_naming_an_unknown_tier_fails_at_start_up() -> None:
    with pytest.raises(ValidationError, match="no tier named `gold`"):
        RateLimitSettings(tenants={"acme": {"tier": "gold"}})


def test_tenant_tier_is_applied() -> None:
    settings = RateLimitSettings(tiers={"free": {"requests_per_minute": 3}}, tenants={"acme": {"tier": "free"}})
    limits = {lim.kind: lim.amount for lim in settings.rule_book().resolve(key_id="k", tenant="acme", model="m")}
    assert limits[LimitKind.REQUESTS_PER_MINUTE] == 3


@pytest.mark.parametrize("storage", ["memcached://127.0.0.1", "127.0.0.1:6379", "async+redis://x"])
def test_unknown_storage_kinds_are_refused(storage: str) -> None:
    with pytest.raises(ValidationError, match="storage"):
        RateLimitSettings(storage=storage)


def test_redis_storage_is_recognised() -> None:
    assert RateLimitSettings(storage="redis://127.0.0.1:6379/0").uses_redis


@pytest.mark.parametrize("bad", [{"requests_per_minute": 0}, {"concurrent": -1}, {"tokens_per_hour": 5}])
def test_non_positive_or_unknown_limits_are_refused(bad: dict[str, int]) -> None:
    with pytest.raises(ValidationError):
        RateLimitSettings(default=bad)


def test_storage_url_is_kept_out_of_the_repr() -> None:
    settings = RateLimitSettings(storage="redis://:hunter2@127.0.0.1:6379/0")
    assert "hunter2" not in repr(settings)

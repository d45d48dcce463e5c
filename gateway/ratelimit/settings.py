"""Rate-limit settings, nested in the gateway's configuration as `ratelimits:`.

Plain pydantic models (not BaseSettings): `gateway/config.py` owns reading the file and the
environment; this module only says what the section may contain and turns it into the pure
`RuleBook` that `rules.py` resolves. Bad values (unknown tiers, a storage URL of an unknown
kind, non-positive limits) fail at start-up.

```yaml
ratelimits:
  storage: memory://          # redis://127.0.0.1:6379/0 to share limits across processes
  default: {requests_per_minute: 600, tokens_per_minute: 200000, concurrent: 32}
  tiers: {free: {requests_per_minute: 20, tokens_per_day: 100000}}
  tenants: {acme: {tier: free, requests_per_minute: 60, tokens_per_day: 2000000}}
  keys: {}                    # by key id
  models: {}                  # by model id
  redis_failure: {per_minute: open, budgets: closed}
```
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveInt, field_validator, model_validator

from gateway.ratelimit.rules import LimitKind, Rule, RuleBook

FailureMode = Literal["open", "closed"]

_STORAGE_SCHEMES = ("memory://", "redis://", "rediss://")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LimitRuleSettings(_Section):
    """Limits at one level. Omitted fields are inherited; `null` means unlimited at this level."""

    requests_per_minute: PositiveInt | None = None
    """Calls per minute (fixed window, Retry-After exact)."""
    tokens_per_minute: PositiveInt | None = None
    """Prompt + completion tokens per minute: reserved up front, settled with real usage."""
    tokens_per_day: PositiveInt | None = None
    """Daily token budget, resetting at 00:00 UTC; exhausting it answers `insufficient_quota`."""
    concurrent: PositiveInt | None = None
    """Calls in flight at once (a stream counts until its last byte)."""

    def to_rule(self) -> Rule:
        """The pure rule: only fields set in the configuration, so the rest is inherited."""
        return Rule({kind: getattr(self, kind.value) for kind in LimitKind if kind.value in self.model_fields_set})


class TenantLimitSettings(LimitRuleSettings):
    tier: str | None = None
    """A key of `tiers` whose limits this tenant gets before its own fields apply."""


class RedisFailureSettings(_Section):
    """What happens to a call when the shared storage cannot be reached.

    `open`: the call goes through unlimited (logged, counted in
    `gateway_ratelimit_decisions_total{result="failed_open"}`); `closed`: 503
    `ratelimit.unavailable`. A call subject to both kinds fails closed if either kind does.
    """

    per_minute: FailureMode = "open"
    """Requests/tokens per minute and concurrency: short windows that forgive a short outage."""
    budgets: FailureMode = "closed"
    """Daily token budgets: money; an outage must not let a tenant overspend."""


def _default_rule() -> LimitRuleSettings:
    return LimitRuleSettings(requests_per_minute=600, tokens_per_minute=200_000, concurrent=32)


class RateLimitSettings(_Section):
    """Rate limits and token quotas per key, tenant (and tier) and model."""

    enabled: bool = True
    """Turn rate limits off. Only for benchmarks and development: a governed deployment keeps it on."""
    storage: str = Field(default="memory://", repr=False)
    """`memory://` (one process) or `redis://[:password@]host:port/db` (`rediss://` for TLS) to
    share limits between gateway processes. May hold a password, so it is never logged."""
    key_prefix: str = Field(default="gateway:ratelimit", min_length=1)
    """Prefix of every Redis key the limiter writes."""
    storage_timeout_s: float = Field(default=0.25, gt=0)
    """Connect and read timeout for one storage round trip."""
    storage_retry_interval_s: float = Field(default=1.0, ge=0)
    """After a storage failure, calls skip the storage (and fail open or closed at once) for this long."""
    default: LimitRuleSettings = Field(default_factory=_default_rule)
    """Limits of every tenant, before its tier and its own entry."""
    tiers: dict[str, LimitRuleSettings] = Field(default_factory=dict)
    """Named sets of tenant limits (free, pro, ...), named by a tenant entry or a key's `tier` attribute."""
    tenants: dict[str, TenantLimitSettings] = Field(default_factory=dict)
    """Per tenant: a tier and/or its own limits, shared by all its keys."""
    keys: dict[str, LimitRuleSettings] = Field(default_factory=dict)
    """Per key id: extra limits for one key, on top of its tenant's."""
    models: dict[str, LimitRuleSettings] = Field(default_factory=dict)
    """Per model id: limits on all traffic to the model, whichever tenant sends it."""
    redis_failure: RedisFailureSettings = Field(default_factory=RedisFailureSettings)
    default_completion_tokens: PositiveInt = 1024
    """Completion tokens reserved for a call that sets no `max_tokens`/`max_completion_tokens`."""
    concurrency_lease_s: float = Field(default=600.0, gt=0)
    """A concurrency slot not released within this time (a crashed process) frees itself."""
    concurrency_retry_after_s: PositiveInt = 1
    """`Retry-After` for a call refused by a concurrency limit."""

    @field_validator("storage")
    @classmethod
    def _known_storage(cls, value: str) -> str:
        if not value.startswith(_STORAGE_SCHEMES):
            raise ValueError("must start with memory://, redis:// or rediss://")
        return value

    @model_validator(mode="after")
    def _tiers_exist(self) -> RateLimitSettings:
        for tenant, entry in self.tenants.items():
            if entry.tier is not None and entry.tier not in self.tiers:
                raise ValueError(f"tenants.{tenant}.tier: no tier named `{entry.tier}` in `tiers`")
        return self

    @property
    def uses_redis(self) -> bool:
        return not self.storage.startswith("memory://")

    def rule_book(self) -> RuleBook:
        """The pure rules these settings describe."""
        return RuleBook(
            default=self.default.to_rule(),
            tiers={name: rule.to_rule() for name, rule in self.tiers.items()},
            tenants={name: entry.to_rule() for name, entry in self.tenants.items()},
            tenant_tiers={name: entry.tier for name, entry in self.tenants.items() if entry.tier is not None},
            keys={key: rule.to_rule() for key, rule in self.keys.items()},
            models={model: rule.to_rule() for model, rule in self.models.items()},
        )

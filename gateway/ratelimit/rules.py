"""Rate-limit rules: which limits apply to a call, their windows, and whether a call fits.

Pure: no storage, no clock of its own (callers pass `now`), no awaits. The adapter in
`limiter.py` reads and writes counters and hands the readings back here to be judged, so the
decision logic is tested without Redis.

Rules come from four places, merged field by field: `default` < tier < tenant entry for the
tenant scope; `keys` and `models` add limits of their own for one key or one model (across all
tenants). Windows are fixed and aligned to the clock: minute windows start at a per-scope phase
(so tenants do not all reset on the same second), day windows at 00:00 UTC. A fixed window is
what makes `Retry-After` exact: when it has passed, the counter is back to zero.
"""

from __future__ import annotations

import functools
import math
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Literal

ScopeKind = Literal["key", "tenant", "model"]
LimitType = Literal["requests", "tokens"]

_MINUTE_S = 60
_DAY_S = 86_400


class LimitKind(StrEnum):
    """One kind of limit; the value is the configuration field that sets it."""

    REQUESTS_PER_MINUTE = "requests_per_minute"
    TOKENS_PER_MINUTE = "tokens_per_minute"
    TOKENS_PER_DAY = "tokens_per_day"
    CONCURRENT = "concurrent"

    @property
    def window_s(self) -> int | None:
        """Window length in seconds; None for the concurrency limit, which has no window."""
        return _WINDOWS_S[self]

    @property
    def counts_tokens(self) -> bool:
        return self in (LimitKind.TOKENS_PER_MINUTE, LimitKind.TOKENS_PER_DAY)

    @property
    def is_budget(self) -> bool:
        """True for limits that reset once a day: exhausting one means no retry before tomorrow."""
        return self is LimitKind.TOKENS_PER_DAY

    @property
    def label(self) -> str:
        """How OpenAI names the limit in its messages, e.g. `requests per min (RPM)`."""
        return _LABELS[self]


_WINDOWS_S: dict[LimitKind, int | None] = {
    LimitKind.REQUESTS_PER_MINUTE: _MINUTE_S,
    LimitKind.TOKENS_PER_MINUTE: _MINUTE_S,
    LimitKind.TOKENS_PER_DAY: _DAY_S,
    LimitKind.CONCURRENT: None,
}
_LABELS: dict[LimitKind, str] = {
    LimitKind.REQUESTS_PER_MINUTE: "requests per min (RPM)",
    LimitKind.TOKENS_PER_MINUTE: "tokens per min (TPM)",
    LimitKind.TOKENS_PER_DAY: "tokens per day (TPD)",
    LimitKind.CONCURRENT: "concurrent requests",
}


@dataclass(frozen=True, slots=True)
class Scope:
    """Who shares a limit: one key, one tenant or one model."""

    kind: ScopeKind
    id: str

    def describe(self) -> str:
        """How messages name the scope, e.g. tenant `acme`."""
        return f"{self.kind} `{self.id}`"


@dataclass(frozen=True, slots=True)
class Limit:
    """One limit as it applies to one call: `amount` per window (or in flight) for `scope`."""

    scope: Scope
    kind: LimitKind
    amount: int


@dataclass(frozen=True, slots=True)
class Rule:
    """The limits one level of configuration sets.

    A kind missing from `values` is inherited from the level below; a kind mapped to None
    is explicitly unlimited at this level (`tokens_per_minute: null` lifts a default).
    """

    values: Mapping[LimitKind, int | None] = field(default_factory=dict)

    def over(self, base: Rule) -> Rule:
        """This rule laid over `base`: its own values win, the rest come from `base`."""
        return Rule({**base.values, **self.values})

    def limits_for(self, scope: Scope) -> tuple[Limit, ...]:
        """The limits this rule sets, applied to `scope`; unlimited kinds are left out."""
        return tuple(Limit(scope, kind, amount) for kind in LimitKind if (amount := self.values.get(kind)) is not None)


@dataclass(frozen=True, slots=True)
class RuleBook:
    """All configured rules; `resolve` gives the limits for one call."""

    default: Rule = field(default_factory=Rule)
    tiers: Mapping[str, Rule] = field(default_factory=dict)
    tenants: Mapping[str, Rule] = field(default_factory=dict)
    tenant_tiers: Mapping[str, str] = field(default_factory=dict)
    """Tenant -> the tier its configuration names."""
    keys: Mapping[str, Rule] = field(default_factory=dict)
    models: Mapping[str, Rule] = field(default_factory=dict)

    def has_tier(self, tier: str) -> bool:
        return tier in self.tiers

    def tenant_rule(self, tenant: str, tier: str | None = None) -> Rule:
        """Default, then the tier (`tier` if given, else the tenant's own), then the tenant's entry.

        An unknown tier name is ignored: the tenant keeps the default and its own entry.
        """
        rule = self.default
        tier = tier or self.tenant_tiers.get(tenant)
        if tier is not None and tier in self.tiers:
            rule = self.tiers[tier].over(rule)
        own = self.tenants.get(tenant)
        return own.over(rule) if own is not None else rule

    def resolve(self, *, key_id: str, tenant: str, model: str, tier: str | None = None) -> tuple[Limit, ...]:
        """Every limit one call is subject to: its key's, its tenant's and its model's."""
        limits = list(self.tenant_rule(tenant, tier).limits_for(Scope("tenant", tenant)))
        if (key_rule := self.keys.get(key_id)) is not None:
            limits.extend(key_rule.limits_for(Scope("key", key_id)))
        if (model_rule := self.models.get(model)) is not None:
            limits.extend(model_rule.limits_for(Scope("model", model)))
        return tuple(limits)


@dataclass(frozen=True, slots=True)
class Window:
    """One fixed window of a windowed limit: `index` names it in storage, `[start, end)` in time."""

    index: int
    start: float
    end: float


@functools.lru_cache(maxsize=4096)
def window_phase_s(scope: Scope) -> int:
    """A stable per-scope offset (0-59 s) for minute windows, the same in every process."""
    return zlib.crc32(f"{scope.kind}/{scope.id}".encode()) % _MINUTE_S


def window_of(limit: Limit, now: float) -> Window:
    """The window of `limit` that contains `now` (epoch seconds).

    Minute windows are shifted by the scope's phase; day windows start at 00:00 UTC so a daily
    budget resets when operators expect it to. Raises ValueError for the concurrency limit.
    """
    length = limit.kind.window_s
    if length is None:
        raise ValueError(f"{limit.kind} has no window")
    phase = window_phase_s(limit.scope) if length == _MINUTE_S else 0
    index = math.floor((now + phase) / length)
    start = float(index * length - phase)
    return Window(index, start, start + length)


@dataclass(frozen=True, slots=True)
class CounterReading:
    """A window counter right after this call's cost was added to it."""

    limit: Limit
    used: int
    """The counter's value including this call's cost."""
    cost: int
    resets_at: float
    """Epoch seconds at which the window ends and the counter starts again from zero."""

    @property
    def fits(self) -> bool:
        return self.used <= self.limit.amount


@dataclass(frozen=True, slots=True)
class SlotReading:
    """A concurrency limit: calls in flight in its scope, and whether it had no room for this one."""

    limit: Limit
    in_flight: int
    full: bool


@dataclass(frozen=True, slots=True)
class Denial:
    """Why a call does not fit, in the terms the client and the audit log need."""

    limit: Limit
    """The limit that denied the call (the one reported when several did)."""
    reason: str
    """Dotted reason code, `ratelimit.<limit kind>`."""
    limit_type: LimitType
    message: str
    retry_after_s: float | None
    """Exact wait until the call can fit; None when waiting a short while cannot help."""
    quota_exhausted: bool = False
    """A daily budget is used up: OpenAI's `insufficient_quota`, no retry."""


def _too_large(c: CounterReading) -> Denial:
    return Denial(
        limit=c.limit,
        reason=f"ratelimit.{c.limit.kind}",
        limit_type="tokens",
        message=(
            f"Request too large for {c.limit.scope.describe()} on {c.limit.kind.label}: "
            f"Limit {c.limit.amount}, Requested {c.cost}. Reduce the prompt or max_tokens and try again."
        ),
        retry_after_s=None,
    )


def _budget_exhausted(c: CounterReading) -> Denial:
    resets = datetime.fromtimestamp(c.resets_at, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    return Denial(
        limit=c.limit,
        reason=f"ratelimit.{c.limit.kind}",
        limit_type="tokens",
        message=(
            f"You exceeded the token quota of {c.limit.scope.describe()} on {c.limit.kind.label}: "
            f"Limit {c.limit.amount}, Used {c.used - c.cost}, Requested {c.cost}. "
            f"The quota resets at {resets}."
        ),
        retry_after_s=None,
        quota_exhausted=True,
    )


def _window_full(c: CounterReading, now: float) -> Denial:
    wait = max(0.0, c.resets_at - now)
    return Denial(
        limit=c.limit,
        reason=f"ratelimit.{c.limit.kind}",
        limit_type="tokens" if c.limit.kind.counts_tokens else "requests",
        message=(
            f"Rate limit reached for {c.limit.scope.describe()} on {c.limit.kind.label}: "
            f"Limit {c.limit.amount}, Used {c.used - c.cost}, Requested {c.cost}. "
            f"Please try again in {format_duration(wait)}."
        ),
        retry_after_s=wait,
    )


def _slots_full(s: SlotReading, retry_after_s: float) -> Denial:
    return Denial(
        limit=s.limit,
        reason=f"ratelimit.{s.limit.kind}",
        limit_type="requests",
        message=(
            f"Too many concurrent requests for {s.limit.scope.describe()}: "
            f"Limit {s.limit.amount}, In flight {s.in_flight}. "
            f"Please try again in {format_duration(retry_after_s)}."
        ),
        retry_after_s=retry_after_s,
    )


def judge(
    counters: Sequence[CounterReading],
    slots: Sequence[SlotReading],
    *,
    now: float,
    concurrency_retry_after_s: float,
) -> Denial | None:
    """The denial for a call given its readings, or None if every limit has room.

    Precedence: a request larger than a token limit (it can never fit), then an exhausted daily
    budget (no retry before tomorrow), then per-minute and concurrency limits, reporting the one
    with the longest wait, since the call fits only when all of them do.
    """
    for c in counters:
        if c.cost > c.limit.amount:
            return _too_large(c)
    over = [c for c in counters if not c.fits]
    for c in over:
        if c.limit.kind.is_budget:
            return _budget_exhausted(c)
    waits = [_window_full(c, now) for c in over]
    waits += [_slots_full(s, concurrency_retry_after_s) for s in slots if s.full]
    return max(waits, key=lambda d: d.retry_after_s or 0.0, default=None)


def format_duration(seconds: float) -> str:
    """A duration as OpenAI writes it in `x-ratelimit-reset-*` (Go's style): `1s`, `6m0s`, `250ms`.

    Rounded to the millisecond; zero and negative durations are `0s`.
    """
    ms = round(seconds * 1000)
    if ms <= 0:
        return "0s"
    if ms < 1000:
        return f"{ms}ms"
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    whole, frac = divmod(rest, 1000)
    secs = f"{whole}.{frac:03d}".rstrip("0") if frac else str(whole)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"


def retry_after_header_s(wait_s: float) -> int:
    """`Retry-After` in whole seconds: rounded up (never early), at least 1."""
    return max(1, math.ceil(wait_s))

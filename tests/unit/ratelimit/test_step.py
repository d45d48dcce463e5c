"""The step and finisher over the in-process (memory) limiter; Redis is in tests/integration."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Mapping
from dataclasses import replace
from typing import Any

import pytest
from prometheus_client import REGISTRY
from structlog.testing import capture_logs

from gateway.auth import Principal
from gateway.errors import PolicyDenied, RateLimited, UpstreamTimeout
from gateway.pipeline import CallRequest, Context, Outcome, Usage, run
from gateway.ratelimit.estimate import estimate_call_tokens
from gateway.ratelimit.rules import Limit, LimitKind, Scope, window_of
from gateway.ratelimit.service import RateLimits, build_rate_limits, close_rate_limits
from gateway.ratelimit.settings import RateLimitSettings
from gateway.ratelimit.step import (
    FAILED_OPEN_REASON,
    HEADERS_EXTRA,
    RESERVATION_EXTRA,
    ReservationLedger,
    settled_tokens,
)

pytestmark = pytest.mark.anyio


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def make(clock: Clock) -> AsyncIterator[Any]:
    opened: list[RateLimits] = []

    def build(**settings: Any) -> RateLimits:
        limits = build_rate_limits(RateLimitSettings(**settings), clock=clock)
        opened.append(limits)
        return limits

    yield build
    for limits in opened:
        await close_rate_limits(limits)


_ids = iter(range(1_000_000))


def call_ctx(
    body: Mapping[str, Any] | None = None, *, tenant: str = "acme", attributes: Mapping[str, Any] | None = None
) -> Context:
    body = body or {"model": "m", "messages": [{"role": "user", "content": "hello there"}], "max_tokens": 100}
    request = CallRequest(request_id=f"req_{next(_ids)}", endpoint="chat", requested_model="m", model="m", body=body)
    principal = Principal(key_id="key_1", tenant=tenant, roles=frozenset({"app"}), attributes=attributes or {})
    return Context(request=request, principal=principal, body=body, backends=("b",))


def reserved_tokens(ctx: Context) -> int:
    return estimate_call_tokens("chat", ctx.request.body, default_completion_tokens=1024).total_tokens


def ok(usage: Usage | None) -> Outcome:
    return Outcome(status_code=200, backend="b", usage=usage)


async def test_admitted_call_carries_headers_and_its_reservation(make: Any) -> None:
    limits = make(default={"requests_per_minute": 10, "tokens_per_minute": 10_000})
    ctx = await limits.step(call_ctx())
    assert ctx.denial is None
    headers = ctx.extras[HEADERS_EXTRA]
    assert headers["x-ratelimit-limit-requests"] == "10"
    assert headers["x-ratelimit-remaining-requests"] == "9"
    assert headers["x-ratelimit-remaining-tokens"] == str(10_000 - reserved_tokens(ctx))
    assert ctx.extras[RESERVATION_EXTRA].tokens == reserved_tokens(ctx)


async def test_call_over_the_request_limit_is_denied_with_an_exact_retry_after(make: Any, clock: Clock) -> None:
    limits = make(default={"requests_per_minute": 2})
    for _ in range(2):
        assert (await limits.step(call_ctx())).denial is None
    clock.now += 7.3
    ctx = await limits.step(call_ctx())
    error = ctx.denial
    assert isinstance(error, RateLimited)
    window = window_of(Limit(Scope("tenant", "acme"), LimitKind.REQUESTS_PER_MINUTE, 2), clock.now)
    headers = error.headers()
    assert headers["retry-after"] == str(math.ceil(window.end - clock.now))
    assert headers["retry-after-ms"] == str(math.ceil((window.end - clock.now) * 1000))
    assert headers["x-should-retry"] == "true"
    assert headers["x-ratelimit-remaining-requests"] == "0"
    assert error.limit_type == "requests"
    assert error.wire_code == "rate_limit_exceeded"
    assert ctx.extras[HEADERS_EXTRA]["x-ratelimit-limit-requests"] == "2"
    assert ctx.reasons == ("ratelimit.requests_per_minute", "ratelimit.exceeded")


async def test_the_window_resets_when_retry_after_has_passed(make: Any, clock: Clock) -> None:
    limits = make(default={"requests_per_minute": 1})
    await limits.step(call_ctx())
    denied = await limits.step(call_ctx())
    assert isinstance(denied.denial, RateLimited)
    assert denied.denial.retry_after_s is not None
    clock.now += denied.denial.retry_after_s
    assert (await limits.step(call_ctx())).denial is None


async def test_exhausted_daily_budget_answers_insufficient_quota_without_retry(make: Any) -> None:
    limits = make(default={"tokens_per_day": 1000})
    first = await limits.step(call_ctx())
    await limits.finisher.finish(first, ok(Usage(600, 390)))
    ctx = await limits.step(call_ctx())
    error = ctx.denial
    assert isinstance(error, RateLimited)
    assert error.wire_code == "insufficient_quota"
    assert error.retry_after_s is None
    assert error.headers()["x-should-retry"] == "false"
    assert "retry-after" not in error.headers()


async def test_settlement_makes_the_token_counter_match_real_usage(make: Any) -> None:
    limits = make(default={"tokens_per_minute": 100_000})
    used = 0
    for usage in (Usage(12, 3), Usage(40, 900), Usage(7, 0)):  # below and above the estimate
        ctx = await limits.step(call_ctx())
        await limits.finisher.finish(ctx, ok(usage))
        used += usage.total_tokens
    probe = await limits.step(call_ctx())
    remaining = int(probe.extras[HEADERS_EXTRA]["x-ratelimit-remaining-tokens"])
    assert remaining == 100_000 - used - reserved_tokens(probe)


async def test_finisher_settles_from_the_context_the_route_kept_before_the_pipeline(make: Any) -> None:
    limits = make(default={"concurrent": 1})
    original = call_ctx()
    await run([limits.step], original)
    assert (await limits.step(call_ctx())).denial is not None  # the slot is held
    await limits.finisher.finish(original, Outcome(status_code=503, error=UpstreamTimeout("slow")))
    assert (await limits.step(call_ctx())).denial is None


async def test_settling_twice_releases_the_slot_only_once(make: Any) -> None:
    limits = make(default={"concurrent": 1})
    first = await limits.step(call_ctx())
    await limits.finisher.finish(first, ok(Usage(1, 1)))
    second = await limits.step(call_ctx())
    assert second.denial is None
    await limits.finisher.finish(first, ok(Usage(1, 1)))
    third = await limits.step(call_ctx())
    assert isinstance(third.denial, RateLimited)
    assert third.reasons[0] == "ratelimit.concurrent"


async def test_call_denied_by_a_later_step_gets_its_tokens_back(make: Any) -> None:
    limits = make(default={"tokens_per_minute": 50_000})
    ctx = await limits.step(call_ctx())
    ctx = ctx.deny(PolicyDenied(("policy.model_not_allowed",)))
    await limits.finisher.finish(ctx, Outcome(status_code=403, error=ctx.denial))
    probe = await limits.step(call_ctx())
    assert probe.extras[HEADERS_EXTRA]["x-ratelimit-remaining-tokens"] == str(50_000 - reserved_tokens(probe))


async def test_denied_call_leaves_no_charge_on_any_limit(make: Any) -> None:
    limits = make(default={"requests_per_minute": 100, "tokens_per_minute": 2_000})
    big = call_ctx({"model": "m", "messages": [{"role": "user", "content": "x"}], "max_tokens": 1_500})
    assert (await limits.step(big)).denial is None
    denied = await limits.step(call_ctx({"model": "m", "messages": [], "max_tokens": 1_000}))
    assert isinstance(denied.denial, RateLimited)
    assert denied.denial.limit_type == "tokens"
    probe = await limits.step(call_ctx({"model": "m", "messages": [], "max_tokens": 1}))
    assert probe.extras[HEADERS_EXTRA]["x-ratelimit-remaining-requests"] == "98"  # big + probe only


async def test_request_bigger_than_the_token_limit_is_refused_without_retry(make: Any) -> None:
    limits = make(default={"tokens_per_minute": 1_000})
    ctx = await limits.step(call_ctx({"model": "m", "messages": [], "max_tokens": 5_000}))
    assert isinstance(ctx.denial, RateLimited)
    assert ctx.denial.retry_after_s is None
    assert ctx.denial.wire_code == "rate_limit_exceeded"


async def test_denials_are_counted_by_the_kind_of_limit_and_scope_that_denied(make: Any) -> None:
    limits = make(default={"requests_per_minute": 100}, keys={"key_1": {"requests_per_minute": 1}})
    labels = {"limit": "requests_per_minute", "scope": "key"}
    before = REGISTRY.get_sample_value("gateway_ratelimit_denials_total", labels) or 0.0
    await limits.step(call_ctx())
    await limits.step(call_ctx())
    assert REGISTRY.get_sample_value("gateway_ratelimit_denials_total", labels) == before + 1


async def test_key_attribute_tier_selects_the_tenant_limits(make: Any) -> None:
    limits = make(default={"requests_per_minute": 100}, tiers={"trial": {"requests_per_minute": 1}})
    attributes = {"tier": "trial"}
    assert (await limits.step(call_ctx(attributes=attributes))).denial is None
    assert (await limits.step(call_ctx(attributes=attributes))).denial is not None


async def test_an_unknown_tier_keeps_the_tenant_limits_and_is_reported_once(make: Any) -> None:
    limits = make(default={"requests_per_minute": 100}, tiers={"trial": {"requests_per_minute": 1}})
    attributes = {"tier": "trail"}
    with capture_logs() as logs:
        for _ in range(3):
            assert (await limits.step(call_ctx(attributes=attributes))).denial is None
    assert [e["event"] for e in logs if e["log_level"] == "warning"] == ["ratelimit.unknown_tier"]


async def test_calls_without_any_limit_pass_untouched(make: Any) -> None:
    limits = make(default={})
    ctx = call_ctx()
    assert await limits.step(ctx) is ctx


async def test_failed_open_reason_is_a_stable_code() -> None:
    assert FAILED_OPEN_REASON == "ratelimit.failed_open"


@pytest.mark.parametrize(
    ("outcome", "expected"),
    [
        (ok(Usage(10, 20)), 30),
        (ok(Usage(10, 20, estimated=True)), 30),
        (ok(None), 500),
        (Outcome(status_code=502, backend="b"), 0),
        (Outcome(status_code=504, error=UpstreamTimeout("slow")), 0),
        (Outcome(status_code=499, backend="b", usage=Usage(5, 5, estimated=True)), 10),
    ],
)
def test_settled_tokens_prefer_reported_usage_and_refund_failed_calls(outcome: Outcome, expected: int) -> None:
    assert settled_tokens(500, outcome) == expected


async def test_ledger_drops_reservations_whose_finisher_never_ran(make: Any, clock: Clock) -> None:
    limits = make(default={"concurrent": 5}, concurrency_lease_s=30)
    ledger: ReservationLedger = limits.finisher.ledger
    await limits.step(call_ctx())
    assert len(ledger) == 1
    clock.now += 31
    await limits.step(call_ctx())
    assert len(ledger) == 1


async def test_ledger_pops_the_reservation_of_the_same_request_object_first(make: Any) -> None:
    limits = make(default={"concurrent": 5})
    a = call_ctx()
    b = replace(a, request=replace(a.request))  # same request id, another call object
    ra = (await limits.step(a)).extras[RESERVATION_EXTRA]
    rb = (await limits.step(b)).extras[RESERVATION_EXTRA]
    ledger: ReservationLedger = limits.finisher.ledger
    assert ledger.pop(b.request) is rb
    assert ledger.pop(a.request) is ra
    assert ledger.pop(a.request) is None

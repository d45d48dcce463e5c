"""The limiter against its real storages: in-process memory and a real Redis server.

Every behaviour runs on both storages (one contract), and the Redis-only tests prove that
independent limiter instances, each with its own connection pool as separate gateway
processes would have, enforce one combined limit. Each test writes under its own key prefix.
Redis comes from GATEWAY_TEST_REDIS_URL (default redis://127.0.0.1:6379/0); under CI=true a
missing Redis fails the tests instead of skipping them.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

import pytest
import redis.asyncio
from redis.exceptions import RedisError

from gateway.auth import Principal
from gateway.errors import RateLimited
from gateway.pipeline import CallRequest, Context, Outcome, Usage
from gateway.ratelimit.limiter import Reservation, counter_key
from gateway.ratelimit.rules import Limit, LimitKind, Scope, window_of
from gateway.ratelimit.service import RateLimits, build_rate_limits, close_rate_limits
from gateway.ratelimit.settings import RateLimitSettings
from gateway.ratelimit.step import HEADERS_EXTRA, RESERVATION_EXTRA

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

REDIS_URL = os.environ.get("GATEWAY_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
IN_CI = os.environ.get("CI", "").lower() == "true"

TENANT = Scope("tenant", "acme")
# The tests that fire a burst of calls at two fresh limiters check shared counting, not the
# deadline: 50 calls on cold pools open dozens of connections at once, which on a loaded CI
# machine can take longer than the default 0.25 s and would (correctly) fail open.
_COLD_BURST_TIMEOUT_S = 5.0


async def require_redis() -> str:
    client = redis.asyncio.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        await client.ping()
    except (RedisError, OSError) as exc:
        if IN_CI:
            pytest.fail(f"Redis at {REDIS_URL} is required under CI=true: {exc!r}")
        pytest.skip(f"no Redis at {REDIS_URL}: {exc!r}")
    finally:
        await client.aclose()
    return REDIS_URL


async def delete_prefix(prefix: str) -> None:
    client = redis.asyncio.Redis.from_url(REDIS_URL)
    try:
        keys = [key async for key in client.scan_iter(match=f"{prefix}:*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


class Clock:
    """A settable clock, started in the middle of the tenant's current minute window."""

    def __init__(self, real_now: float) -> None:
        window = window_of(Limit(TENANT, LimitKind.REQUESTS_PER_MINUTE, 1), real_now)
        self.now = window.start + 20.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(time.time())


@pytest.fixture
def prefix() -> str:
    return f"test:ratelimit:{uuid.uuid4().hex}"


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def storage(request: pytest.FixtureRequest, prefix: str) -> AsyncIterator[str]:
    if request.param == "memory":
        yield "memory://"
        return
    url = await require_redis()
    yield url
    await delete_prefix(prefix)


@pytest.fixture
async def redis_url(prefix: str) -> AsyncIterator[str]:
    url = await require_redis()
    yield url
    await delete_prefix(prefix)


Make = Callable[..., RateLimits]


@pytest.fixture
async def make(storage: str, prefix: str, clock: Clock) -> AsyncIterator[Make]:
    opened: list[RateLimits] = []

    def build(**settings: Any) -> RateLimits:
        limits = build_rate_limits(RateLimitSettings(storage=storage, key_prefix=prefix, **settings), clock=clock)
        opened.append(limits)
        return limits

    yield build
    for limits in opened:
        await close_rate_limits(limits)


_ids = iter(range(10_000_000))


def call_ctx(max_tokens: int = 100, *, key_id: str = "key_1") -> Context:
    body: Mapping[str, Any] = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "max_tokens": max_tokens}
    request = CallRequest(request_id=f"req_{next(_ids)}", endpoint="chat", requested_model="m", model="m", body=body)
    principal = Principal(key_id=key_id, tenant="acme", roles=frozenset({"app"}))
    return Context(request=request, principal=principal, body=body, backends=("b",))


def reserved(ctx: Context) -> int:
    reservation: Reservation = ctx.extras[RESERVATION_EXTRA]
    return reservation.tokens


def remaining(ctx: Context, kind: str) -> int:
    return int(ctx.extras[HEADERS_EXTRA][f"x-ratelimit-remaining-{kind}"])


def ok(prompt: int, completion: int, *, estimated: bool = False) -> Outcome:
    return Outcome(status_code=200, backend="b", usage=Usage(prompt, completion, estimated=estimated))


async def test_exactly_the_limit_is_admitted_and_the_next_call_waits_for_the_window(make: Make, clock: Clock) -> None:
    limits = make(default={"requests_per_minute": 5})
    results = [await limits.step(call_ctx()) for _ in range(6)]
    assert [r.denial is None for r in results] == [True] * 5 + [False]
    denial = results[-1].denial
    assert isinstance(denial, RateLimited)
    window = window_of(Limit(TENANT, LimitKind.REQUESTS_PER_MINUTE, 5), clock.now)
    assert denial.retry_after_s == int(window.end - clock.now)
    clock.now = window.end
    assert (await limits.step(call_ctx())).denial is None


async def test_settlement_refunds_and_charges_so_counters_match_real_usage(make: Make) -> None:
    limits = make(default={"tokens_per_minute": 1_000_000, "tokens_per_day": 5_000_000})
    actual = 0
    for prompt, completion in ((20, 5), (30, 2_000), (1, 0), (900, 900)):
        ctx = await limits.step(call_ctx(max_tokens=300))
        await limits.finisher.finish(ctx, ok(prompt, completion))
        actual += prompt + completion
    probe = await limits.step(call_ctx(max_tokens=1))
    assert remaining(probe, "tokens") == 1_000_000 - actual - reserved(probe)


async def test_streamed_call_is_settled_with_the_usage_the_relay_reports(make: Make) -> None:
    limits = make(default={"tokens_per_minute": 100_000})
    ctx = await limits.step(call_ctx(max_tokens=4_000))
    await limits.finisher.finish(ctx, ok(12, 48, estimated=True))
    probe = await limits.step(call_ctx(max_tokens=1))
    assert remaining(probe, "tokens") == 100_000 - 60 - reserved(probe)


async def test_refund_after_the_window_closed_is_dropped_and_overage_charges_the_current_window(
    make: Make, clock: Clock
) -> None:
    limits = make(default={"tokens_per_minute": 100_000})
    window = window_of(Limit(TENANT, LimitKind.TOKENS_PER_MINUTE, 1), clock.now)
    over = await limits.step(call_ctx(max_tokens=10))
    under = await limits.step(call_ctx(max_tokens=5_000))
    clock.now = window.end + 1
    await limits.finisher.finish(over, ok(1_000, 2_000))  # 3000 used, more than reserved
    await limits.finisher.finish(under, ok(1, 1))  # its refund belongs to a window that has reset
    probe = await limits.step(call_ctx(max_tokens=1))
    overage = 3_000 - reserved(over)
    assert remaining(probe, "tokens") == 100_000 - overage - reserved(probe)


async def test_denied_call_is_rolled_back_on_every_limit(make: Make) -> None:
    limits = make(default={"requests_per_minute": 50, "tokens_per_minute": 1_000, "concurrent": 10})
    first = await limits.step(call_ctx(max_tokens=900))
    denied = await limits.step(call_ctx(max_tokens=500))
    assert isinstance(denied.denial, RateLimited)
    await limits.finisher.finish(denied, Outcome(status_code=429, error=denied.denial))
    probe = await limits.step(call_ctx(max_tokens=1))
    assert remaining(probe, "requests") == 50 - 2  # first and probe, not the denied call
    assert remaining(probe, "tokens") == 1_000 - reserved(first) - reserved(probe)


async def test_concurrency_slots_are_held_until_the_call_is_settled(make: Make) -> None:
    limits = make(default={"concurrent": 2})
    a = await limits.step(call_ctx())
    b = await limits.step(call_ctx())
    c = await limits.step(call_ctx())
    assert (a.denial, b.denial) == (None, None)
    assert isinstance(c.denial, RateLimited)
    assert c.denial.retry_after_s == 1
    await limits.finisher.finish(a, ok(1, 1))
    assert (await limits.step(call_ctx())).denial is None


async def test_a_slot_whose_holder_never_settled_frees_itself_when_its_lease_expires(make: Make, clock: Clock) -> None:
    limits = make(default={"concurrent": 1}, concurrency_lease_s=5)
    assert (await limits.step(call_ctx())).denial is None  # a call whose process died: never settled
    assert (await limits.step(call_ctx())).denial is not None
    clock.now += 5.5
    assert (await limits.step(call_ctx())).denial is None


async def test_key_and_tenant_limits_are_enforced_together(make: Make) -> None:
    limits = make(default={"requests_per_minute": 3}, keys={"key_1": {"requests_per_minute": 1}})
    assert (await limits.step(call_ctx(key_id="key_1"))).denial is None
    key_denied = await limits.step(call_ctx(key_id="key_1"))
    assert key_denied.reasons[0] == "ratelimit.requests_per_minute"
    assert key_denied.extras[HEADERS_EXTRA]["x-ratelimit-limit-requests"] == "1"
    assert (await limits.step(call_ctx(key_id="key_2"))).denial is None
    assert (await limits.step(call_ctx(key_id="key_3"))).denial is None
    assert (await limits.step(call_ctx(key_id="key_4"))).denial is not None  # tenant's 3 used


async def test_daily_budget_spans_minute_windows(make: Make, clock: Clock) -> None:
    limits = make(default={"tokens_per_day": 1_000})
    ctx = await limits.step(call_ctx(max_tokens=10))
    await limits.finisher.finish(ctx, ok(500, 450))
    clock.now += 120
    denied = await limits.step(call_ctx(max_tokens=100))
    assert isinstance(denied.denial, RateLimited)
    assert denied.denial.wire_code == "insufficient_quota"


@pytest.mark.redis
async def test_redis_counter_holds_exactly_the_real_usage(redis_url: str, prefix: str, clock: Clock) -> None:
    limits = build_rate_limits(
        RateLimitSettings(storage=redis_url, key_prefix=prefix, default={"tokens_per_minute": 10_000}), clock=clock
    )
    try:
        for prompt, completion in ((100, 50), (3, 7)):
            ctx = await limits.step(call_ctx(max_tokens=1_000))
            await limits.finisher.finish(ctx, ok(prompt, completion))
    finally:
        await close_rate_limits(limits)
    limit = Limit(TENANT, LimitKind.TOKENS_PER_MINUTE, 10_000)
    client = redis.asyncio.Redis.from_url(redis_url)
    try:
        value = await client.get(f"{prefix}:{counter_key(limit, window_of(limit, clock.now))}")
    finally:
        await client.aclose()
    assert value == b"160"


@pytest.mark.redis
async def test_two_limiter_instances_enforce_one_combined_limit(redis_url: str, prefix: str, clock: Clock) -> None:
    n = 25
    settings = RateLimitSettings(
        storage=redis_url,
        key_prefix=prefix,
        default={"requests_per_minute": n, "tokens_per_minute": 10**9},
        storage_timeout_s=_COLD_BURST_TIMEOUT_S,
    )
    first, second = build_rate_limits(settings, clock=clock), build_rate_limits(settings, clock=clock)
    try:
        attempts = [(first if i % 2 else second).step(call_ctx()) for i in range(2 * n)]
        results = await asyncio.gather(*attempts)
    finally:
        await close_rate_limits(first)
        await close_rate_limits(second)
    admitted = [r for r in results if r.denial is None]
    assert len(admitted) == n
    assert all(isinstance(r.denial, RateLimited) for r in results if r.denial is not None)


@pytest.mark.redis
async def test_two_limiter_instances_share_concurrency_slots(redis_url: str, prefix: str, clock: Clock) -> None:
    settings = RateLimitSettings(
        storage=redis_url, key_prefix=prefix, default={"concurrent": 3}, storage_timeout_s=_COLD_BURST_TIMEOUT_S
    )
    first, second = build_rate_limits(settings, clock=clock), build_rate_limits(settings, clock=clock)
    try:
        results = await asyncio.gather(*[(first if i % 2 else second).step(call_ctx()) for i in range(8)])
        assert sum(r.denial is None for r in results) == 3
        held = next(r for r in results if r.denial is None)
        for limits in (first, second):  # only the instance that reserved the slot holds it
            await limits.finisher.finish(held, ok(1, 1))
        assert (await second.step(call_ctx())).denial is None
    finally:
        await close_rate_limits(first)
        await close_rate_limits(second)


@pytest.mark.redis
async def test_settlement_completes_when_the_finisher_is_cancelled(redis_url: str, prefix: str, clock: Clock) -> None:
    settings = RateLimitSettings(storage=redis_url, key_prefix=prefix, default={"concurrent": 1})
    limits = build_rate_limits(settings, clock=clock)
    ctx = await limits.step(call_ctx())
    finishing = asyncio.ensure_future(limits.finisher.finish(ctx, ok(1, 1)))
    await asyncio.sleep(0)  # the finisher is now waiting on Redis
    finishing.cancel()
    with pytest.raises(asyncio.CancelledError):
        await finishing
    await close_rate_limits(limits)  # waits for the settlement still in flight
    other = build_rate_limits(settings, clock=clock)
    try:
        assert (await other.step(call_ctx())).denial is None
    finally:
        await close_rate_limits(other)

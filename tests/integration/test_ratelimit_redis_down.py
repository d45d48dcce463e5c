"""What calls get when the rate-limit Redis cannot be reached: fail open or closed, as configured.

"Down" is a real closed port (connection refused) or a real server that accepts connections
and never answers (the storage timeout). No Redis server is needed for these tests.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any

import pytest
from prometheus_client import REGISTRY
from structlog.testing import capture_logs

from gateway.auth import Principal
from gateway.pipeline import CallRequest, Context, Outcome, Usage
from gateway.ratelimit.limiter import RateLimiterUnavailable
from gateway.ratelimit.service import RateLimits, build_rate_limits, close_rate_limits, open_rate_limits
from gateway.ratelimit.settings import RateLimitSettings
from gateway.ratelimit.step import FAILED_OPEN_REASON, HEADERS_EXTRA

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

PER_MINUTE = {"requests_per_minute": 10, "tokens_per_minute": 10_000, "concurrent": 4}
BUDGET = {"tokens_per_day": 100_000}


@pytest.fixture
def closed_port_url() -> str:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"redis://127.0.0.1:{port}/0"


@pytest.fixture
async def silent_server_url() -> AsyncIterator[str]:
    """A TCP server that accepts connections and never answers."""
    held: list[asyncio.StreamWriter] = []

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    yield f"redis://127.0.0.1:{port}/0"
    for writer in held:
        writer.close()
    server.close()
    await server.wait_closed()


@pytest.fixture
async def opened() -> AsyncIterator[list[RateLimits]]:
    limits: list[RateLimits] = []
    yield limits
    for item in limits:
        await close_rate_limits(item)


def build(opened: list[RateLimits], url: str, **settings: Any) -> RateLimits:
    limits = build_rate_limits(RateLimitSettings(storage=url, storage_timeout_s=0.2, **settings))
    opened.append(limits)
    return limits


def call_ctx() -> Context:
    body: Mapping[str, Any] = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 10}
    request = CallRequest(request_id="req_down", endpoint="chat", requested_model="m", model="m", body=body)
    principal = Principal(key_id="key_1", tenant="acme", roles=frozenset({"app"}))
    return Context(request=request, principal=principal, body=body, backends=("b",))


def decisions(result: str) -> float:
    return REGISTRY.get_sample_value("gateway_ratelimit_decisions_total", {"result": result}) or 0.0


async def test_per_minute_limits_fail_open_by_default(opened: list[RateLimits], closed_port_url: str) -> None:
    limits = build(opened, closed_port_url, default=PER_MINUTE)
    before = decisions("failed_open")
    with capture_logs() as logs:
        ctx = await limits.step(call_ctx())
    assert ctx.denial is None
    assert FAILED_OPEN_REASON in ctx.reasons
    assert HEADERS_EXTRA not in ctx.extras
    assert decisions("failed_open") == before + 1
    assert [e["event"] for e in logs if e["log_level"] == "warning"] == ["ratelimit.storage_unavailable"]


async def test_daily_budgets_fail_closed_by_default(opened: list[RateLimits], closed_port_url: str) -> None:
    limits = build(opened, closed_port_url, default={**PER_MINUTE, **BUDGET})
    before = decisions("failed_closed")
    with pytest.raises(RateLimiterUnavailable) as raised:
        await limits.step(call_ctx())
    assert raised.value.status_code == 503
    assert raised.value.code == "ratelimit.unavailable"
    assert decisions("failed_closed") == before + 1


async def test_per_minute_limits_can_be_configured_to_fail_closed(
    opened: list[RateLimits], closed_port_url: str
) -> None:
    limits = build(opened, closed_port_url, default=PER_MINUTE, redis_failure={"per_minute": "closed"})
    with pytest.raises(RateLimiterUnavailable):
        await limits.step(call_ctx())


async def test_budgets_can_be_configured_to_fail_open(opened: list[RateLimits], closed_port_url: str) -> None:
    limits = build(opened, closed_port_url, default=BUDGET, redis_failure={"budgets": "open"})
    ctx = await limits.step(call_ctx())
    assert ctx.denial is None
    assert FAILED_OPEN_REASON in ctx.reasons


async def test_after_a_failure_calls_skip_the_storage_for_the_retry_interval(
    opened: list[RateLimits], closed_port_url: str
) -> None:
    limits = build(opened, closed_port_url, default=PER_MINUTE, storage_retry_interval_s=30)
    errors = "gateway_ratelimit_storage_errors_total"
    before = REGISTRY.get_sample_value(errors, {"operation": "reserve"}) or 0.0
    with capture_logs() as logs:
        for _ in range(5):
            assert (await limits.step(call_ctx())).denial is None
    assert REGISTRY.get_sample_value(errors, {"operation": "reserve"}) == before + 1
    assert sum(e["event"] == "ratelimit.storage_unavailable" for e in logs) == 1


async def test_a_redis_that_never_answers_is_cut_off_by_the_storage_timeout(
    opened: list[RateLimits], silent_server_url: str
) -> None:
    limits = build(opened, silent_server_url, default=BUDGET)
    started = time.perf_counter()
    with pytest.raises(RateLimiterUnavailable):
        await limits.step(call_ctx())
    assert time.perf_counter() - started < 2.0


async def test_settling_while_redis_is_down_logs_and_does_not_raise(
    opened: list[RateLimits], closed_port_url: str
) -> None:
    healthy = build(opened, "memory://", default=PER_MINUTE)
    ctx = await healthy.step(call_ctx())
    reservation = healthy.finisher.ledger.pop(ctx.request)
    assert reservation is not None
    down = build(opened, closed_port_url, default=PER_MINUTE)
    with capture_logs() as logs:
        await down.limiter.settle(reservation, actual_tokens=3)
    assert any(e["event"] == "ratelimit.settle_failed" for e in logs)
    await down.finisher.finish(ctx, Outcome(status_code=200, usage=Usage(1, 2)))  # nothing left: no-op


async def test_the_gateway_starts_with_redis_down_and_reports_not_ready(closed_port_url: str) -> None:
    with capture_logs() as logs:
        async with open_rate_limits(RateLimitSettings(storage=closed_port_url, storage_timeout_s=0.2)) as limits:
            assert not await limits.ready()
    assert any(e["event"] == "ratelimit.storage_unreachable_at_start" for e in logs)

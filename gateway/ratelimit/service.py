"""Rate limits as the app uses them: built from settings, opened and closed with the lifespan.

Wiring only. `open_rate_limits(settings)` yields the step, the finisher and a readiness check;
leaving the context waits for settlements in flight, releases the slots of calls that never
finished, and closes the storage connections.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

import structlog

from gateway.ratelimit.limiter import RateLimiter
from gateway.ratelimit.settings import RateLimitSettings
from gateway.ratelimit.step import (
    EnforceRateLimits,
    ReservationLedger,
    SettleRateLimits,
    TierOf,
    tier_from_attributes,
)

log = structlog.get_logger("gateway.ratelimit")


@dataclass(frozen=True, slots=True)
class RateLimits:
    """The rate-limit parts of one app: put `step` after authentication, `finisher` among finishers."""

    limiter: RateLimiter
    step: EnforceRateLimits
    finisher: SettleRateLimits

    async def ready(self) -> bool:
        """Readiness check: the storage answers."""
        return await self.limiter.ping()


def build_rate_limits(
    settings: RateLimitSettings,
    *,
    tier_of: TierOf = tier_from_attributes,
    clock: Callable[[], float] = time.time,
) -> RateLimits:
    """Limiter, step and finisher sharing one ledger. Does no I/O; close with `close_rate_limits`."""
    limiter = RateLimiter.from_settings(settings, clock=clock)
    ledger = ReservationLedger(max_age_s=settings.concurrency_lease_s, clock=clock)
    step = EnforceRateLimits(
        limiter=limiter,
        rules=settings.rule_book(),
        ledger=ledger,
        failure=settings.redis_failure,
        default_completion_tokens=settings.default_completion_tokens,
        tier_of=tier_of,
    )
    return RateLimits(limiter=limiter, step=step, finisher=SettleRateLimits(limiter=limiter, ledger=ledger))


async def close_rate_limits(limits: RateLimits) -> None:
    """Release what unfinished calls still hold, then close the limiter."""
    abandoned = limits.finisher.ledger.drain()
    for reservation in abandoned:
        await limits.limiter.settle(reservation, actual_tokens=reservation.tokens)
    if abandoned:
        log.warning("ratelimit.released_at_shutdown", reservations=len(abandoned))
    await limits.limiter.aclose()


@asynccontextmanager
async def open_rate_limits(
    settings: RateLimitSettings, *, tier_of: TierOf = tier_from_attributes
) -> AsyncIterator[RateLimits]:
    """Rate limits for the app's lifespan (`async with open_rate_limits(s.ratelimits) as rl:`)."""
    limits = build_rate_limits(settings, tier_of=tier_of)
    if settings.uses_redis and not await limits.ready():
        log.warning("ratelimit.storage_unreachable_at_start")
    try:
        yield limits
    finally:
        await close_rate_limits(limits)

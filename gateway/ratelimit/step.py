"""The pipeline's rate-limit step and its finisher.

`EnforceRateLimits` runs right after authentication: it resolves the call's limits, reserves a
token estimate, a request and a concurrency slot, and either denies the call (`RateLimited`,
429) or lets it on with its reservation recorded. It always leaves the `x-ratelimit-*` headers
for the response in `ctx.extras["ratelimit.headers"]`. `SettleRateLimits` runs after every call
and settles the reservation with the usage the backend reported.

The two share a `ReservationLedger` keyed by request id, so the finisher finds the reservation
even when it is handed an earlier copy of the context (the route keeps the pre-pipeline copy
when a later step raises). Popping from the ledger makes settlement happen at most once.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import structlog

from gateway.errors import RateLimited
from gateway.pipeline import CallRequest, Context, Outcome
from gateway.ratelimit import metrics
from gateway.ratelimit.estimate import estimate_call_tokens
from gateway.ratelimit.limiter import RateLimiter, RateLimiterUnavailable, Reservation
from gateway.ratelimit.rules import Denial, Limit, RuleBook, retry_after_header_s
from gateway.ratelimit.settings import RedisFailureSettings

log = structlog.get_logger("gateway.ratelimit")

HEADERS_EXTRA = "ratelimit.headers"
"""`ctx.extras` key: dict[str, str] of `x-ratelimit-*` headers for the response (success or 429)."""
RESERVATION_EXTRA = "ratelimit.reservation"
"""`ctx.extras` key: the call's `Reservation`, for information (the finisher uses the ledger)."""
FAILED_OPEN_REASON = "ratelimit.failed_open"
"""Reason code added to a call let through unlimited because the storage was unreachable."""

TierOf = Callable[[Context], str | None]


def tier_from_attributes(ctx: Context) -> str | None:
    """The tier named by the key's `tier` attribute, if any.

    The extension point for a policy that names a tier: pass another `TierOf` to the step.
    """
    tier = ctx.principal.attributes.get("tier")
    return tier if isinstance(tier, str) and tier else None


def settled_tokens(reserved: int, outcome: Outcome) -> int:
    """The tokens a finished call really used, as far as the gateway knows.

    The backend's usage (or the relay's estimate of it) when there is one; none when the call
    failed without reporting usage (it never reached a backend, or the backend refused it);
    otherwise the reservation stands, since a backend that answered without usage did work.
    """
    if outcome.usage is not None:
        return outcome.usage.total_tokens
    if outcome.error is not None or outcome.status_code >= 400:
        return 0
    return reserved


@dataclass(slots=True)
class _Entry:
    request: CallRequest
    reservation: Reservation


class ReservationLedger:
    """Open reservations of this process, by request id.

    Entries older than `max_age_s` (a call whose finisher never ran) are dropped with a
    warning when new ones arrive; their leases have expired in the storage by then.
    """

    def __init__(self, *, max_age_s: float, clock: Callable[[], float] = time.time) -> None:
        self._open: dict[str, list[_Entry]] = {}
        self._max_age_s = max_age_s
        self._clock = clock

    def __len__(self) -> int:
        return sum(len(entries) for entries in self._open.values())

    def add(self, request: CallRequest, reservation: Reservation) -> None:
        self._prune()
        entries = self._open.setdefault(request.request_id, [])
        if entries:
            log.warning("ratelimit.duplicate_request_id", request_id=request.request_id)
        entries.append(_Entry(request, reservation))

    def pop(self, request: CallRequest) -> Reservation | None:
        """The reservation of this call, removed from the ledger; None if there is none (left)."""
        entries = self._open.get(request.request_id)
        if not entries:
            return None
        index = next((i for i, e in enumerate(entries) if e.request is request), 0)
        entry = entries.pop(index)
        if not entries:
            del self._open[request.request_id]
        return entry.reservation

    def drain(self) -> list[Reservation]:
        """Every open reservation, removed (shutdown)."""
        reservations = [e.reservation for entries in self._open.values() for e in entries]
        self._open.clear()
        return reservations

    def _prune(self) -> None:
        cutoff = self._clock() - self._max_age_s
        while self._open:
            request_id, entries = next(iter(self._open.items()))
            if entries[0].reservation.created_at >= cutoff:
                return
            entries.pop(0)
            if not entries:
                del self._open[request_id]
            log.warning("ratelimit.reservation_abandoned", request_id=request_id)


def _error_for(denial: Denial, headers: dict[str, str]) -> RateLimited:
    extra = dict(headers)
    retry_after_s: int | None = None
    if denial.retry_after_s is not None:
        retry_after_s = retry_after_header_s(denial.retry_after_s)
        extra["retry-after-ms"] = str(max(1, math.ceil(denial.retry_after_s * 1000)))  # never early
    return RateLimited(
        denial.message,
        limit_type=denial.limit_type,
        retry_after_s=retry_after_s,
        openai_code="insufficient_quota" if denial.quota_exhausted else "rate_limit_exceeded",
        extra_headers=extra,
    )


class EnforceRateLimits:
    """Reserve the call's share of every limit it is subject to, or deny it with a 429.

    If the storage is unreachable the call fails closed (`RateLimiterUnavailable`, 503) when
    any of its limits is configured to, else it goes on unlimited with reason
    `ratelimit.failed_open`. `tier_of` picks the tenant's tier for the call (default: the
    key's `tier` attribute, else the tenant's configured tier).
    """

    __slots__ = (
        "_default_completion_tokens",
        "_failure",
        "_ledger",
        "_limiter",
        "_rules",
        "_tier_of",
        "_unknown_tiers",
    )
    name = "ratelimit"

    def __init__(
        self,
        *,
        limiter: RateLimiter,
        rules: RuleBook,
        ledger: ReservationLedger,
        failure: RedisFailureSettings | None = None,
        default_completion_tokens: int = 1024,
        tier_of: TierOf = tier_from_attributes,
    ) -> None:
        self._limiter = limiter
        self._rules = rules
        self._ledger = ledger
        self._failure = failure or RedisFailureSettings()
        self._default_completion_tokens = default_completion_tokens
        self._tier_of = tier_of
        self._unknown_tiers: set[str] = set()

    async def __call__(self, ctx: Context, /) -> Context:
        principal, call = ctx.principal, ctx.request
        tier = self._tier_of(ctx)
        if tier is not None and not self._rules.has_tier(tier) and tier not in self._unknown_tiers:
            self._unknown_tiers.add(tier)  # warn once per name, not per call
            log.warning("ratelimit.unknown_tier", tier=tier, tenant=principal.tenant, key_id=principal.key_id)
        limits = self._rules.resolve(key_id=principal.key_id, tenant=principal.tenant, model=call.model, tier=tier)
        if not limits:
            return ctx
        estimate = estimate_call_tokens(
            call.endpoint, call.body, default_completion_tokens=self._default_completion_tokens
        )
        started = time.perf_counter()
        try:
            admission = await self._limiter.reserve(limits, tokens=estimate.total_tokens)
        except RateLimiterUnavailable:
            if self._fails_closed(limits):
                metrics.DECISIONS.labels("failed_closed").inc()
                raise
            metrics.DECISIONS.labels("failed_open").inc()
            log.info("ratelimit.failed_open", request_id=call.request_id, tenant=principal.tenant)
            return replace(ctx, reasons=(*ctx.reasons, FAILED_OPEN_REASON))
        finally:
            metrics.RESERVE_LATENCY.observe(time.perf_counter() - started)
        headers = dict(admission.headers)
        if admission.denial is not None:
            ctx = ctx.with_extra(HEADERS_EXTRA, headers)
            denial = admission.denial
            metrics.DECISIONS.labels("denied").inc()
            metrics.DENIALS.labels(denial.limit.kind.value, denial.limit.scope.kind).inc()
            log.info(
                "ratelimit.denied",
                request_id=call.request_id,
                tenant=principal.tenant,
                key_id=principal.key_id,
                model=call.model,
                reason=denial.reason,
                scope=denial.limit.scope.kind,
                retry_after_s=denial.retry_after_s,
                estimated_tokens=estimate.total_tokens,
            )
            return ctx.deny(_error_for(denial, headers), denial.reason)
        metrics.ALLOWED.inc()
        extras = {**ctx.extras, HEADERS_EXTRA: headers}
        reservation = admission.reservation
        if reservation is not None and reservation.needs_settling:
            self._ledger.add(call, reservation)
            extras[RESERVATION_EXTRA] = reservation
        return replace(ctx, extras=extras)

    def _fails_closed(self, limits: Sequence[Limit]) -> bool:
        has_budget = any(limit.kind.is_budget for limit in limits)
        has_short = any(not limit.kind.is_budget for limit in limits)
        return (has_budget and self._failure.budgets == "closed") or (
            has_short and self._failure.per_minute == "closed"
        )


@dataclass(frozen=True, slots=True)
class SettleRateLimits:
    """Settle a finished call's reservation with its real usage and free its concurrency slot."""

    limiter: RateLimiter
    ledger: ReservationLedger

    async def finish(self, ctx: Context, outcome: Outcome, /) -> None:
        reservation = self.ledger.pop(ctx.request)
        if reservation is None:
            return
        started = time.perf_counter()
        try:
            await self.limiter.settle(reservation, actual_tokens=settled_tokens(reservation.tokens, outcome))
        finally:
            metrics.SETTLE_LATENCY.observe(time.perf_counter() - started)

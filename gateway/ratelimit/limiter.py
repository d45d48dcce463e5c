"""The rate limiter: window counters on the `limits` library, concurrency leases, settlement.

Adapter. Counters live in a `limits` async storage (`MemoryStorage` for one process,
`RedisStorage` over redis-py to share them between processes) and are used as the library's
fixed-window strategy uses them: `incr(key, expiry, cost)`, then compare with the limit. We
call the storage's `incr` directly rather than `FixedWindowRateLimiter.hit`, because `hit`
returns only a bool and the response headers need the counter's value, which `incr` returns
in the same round trip. Window keys carry the window's index (see `rules.window_of`), so a
settlement addresses the exact window its reservation charged, in every process.

Why fixed windows, not the library's moving window or sliding-window counter:
- Retry-After is exact: when the window ends the counter is zero, so a client that waits the
  time it was told gets through (llama-index and the npm SDK retry exactly when told).
- Settlement needs negative adjustments. A moving window stores one list entry per token
  (200k entries for a 200k TPM limit) and cannot remove entries; the sliding-window counter
  renames its keys at window shifts, so a later refund cannot find the window it belongs to.
  `incr` with a negative amount is an atomic `INCRBY` in Redis and a `Counter` update in
  memory. (`MemoryStorage.decr` floors at zero and Redis has no `decr`, so neither is used.)
- One atomic round trip per limit, which keeps the Redis cost per call under a millisecond.
The price is the fixed window's burst: up to twice a per-minute limit across a window edge.
Concurrency limits bound what that burst can do to a backend.

A call's charges are made together (concurrently for Redis); if any limit denies, every
charge is rolled back, so a denied call leaves no trace. Storage failures become
`RateLimiterUnavailable`; the step decides whether that fails open or closed.
"""

from __future__ import annotations

import asyncio
import functools
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import redis.asyncio
import structlog
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.errors import StorageError
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from gateway.errors import DependencyError
from gateway.ratelimit import metrics
from gateway.ratelimit.headers import ratelimit_headers
from gateway.ratelimit.leases import LeaseResult, LeaseStore, MemoryLeases, RedisLeases
from gateway.ratelimit.rules import (
    CounterReading,
    Denial,
    Limit,
    LimitKind,
    Scope,
    SlotReading,
    Window,
    judge,
    window_of,
)
from gateway.ratelimit.settings import RateLimitSettings

log = structlog.get_logger("gateway.ratelimit")

_STORAGE_ERRORS = (StorageError, RedisError)
_KEY_SLACK_S = 60
"""Counter keys outlive their window by this much, so a process with a slightly slow clock
still finds the window's counter instead of starting a fresh one."""


class RateLimiterUnavailable(DependencyError):
    """The rate-limit storage cannot be reached and the limits in play fail closed."""

    code = "ratelimit.unavailable"
    status_code = 503
    openai_code = "ratelimit_unavailable"


@dataclass(frozen=True, slots=True)
class TokenCharge:
    """Tokens a reservation charged to one window counter."""

    limit: Limit
    key: str
    window_end: float


@dataclass(frozen=True, slots=True)
class Reservation:
    """What an admitted call holds until it is settled: token charges and concurrency leases."""

    id: str
    tokens: int
    charges: tuple[TokenCharge, ...]
    lease_keys: tuple[str, ...]
    created_at: float

    @property
    def needs_settling(self) -> bool:
        return bool(self.charges or self.lease_keys)


@dataclass(frozen=True, slots=True)
class Admission:
    """The limiter's answer for one call."""

    denial: Denial | None
    headers: Mapping[str, str]
    reservation: Reservation | None
    """Present when the call was admitted."""
    counters: tuple[CounterReading, ...] = ()
    slots: tuple[SlotReading, ...] = ()


@functools.lru_cache(maxsize=4096)
def _limit_path(kind: LimitKind, scope: Scope) -> str:
    # Scope ids are quoted so that no id can collide with another id's key.
    return f"{kind}/{scope.kind}/{quote(scope.id, safe='')}"


def counter_key(limit: Limit, window: Window) -> str:
    """Storage key of one window's counter."""
    return f"{_limit_path(limit.kind, limit.scope)}/{window.index}"


def lease_key(limit: Limit) -> str:
    """Storage key of one concurrency limit's lease set."""
    return _limit_path(limit.kind, limit.scope)


def _key_ttl_s(limit: Limit) -> int:
    window = limit.kind.window_s
    return (window or 0) + _KEY_SLACK_S


@dataclass(slots=True)
class _Breaker:
    """After a storage failure, skip the storage for a while instead of timing out on every call."""

    interval_s: float
    down_until: float = 0.0
    down: bool = False

    def is_open(self) -> bool:
        return self.down and time.monotonic() < self.down_until

    def trip(self, error: BaseException) -> None:
        if not self.down:
            log.warning("ratelimit.storage_unavailable", error=type(error).__name__, retry_in_s=self.interval_s)
        self.down = True
        self.down_until = time.monotonic() + self.interval_s

    def reset(self) -> None:
        if self.down:
            log.info("ratelimit.storage_recovered")
        self.down = False


@dataclass(slots=True)
class _Op:
    """One storage operation of a reservation and how to undo it."""

    run: Callable[[], Awaitable[Any]]
    undo: Callable[[], Awaitable[Any]] | None
    result: Any = None
    done: bool = False
    error: BaseException | None = None

    @property
    def took_effect(self) -> bool:
        """Whether the op is known to have changed the storage (a refused lease did not)."""
        if not self.done:
            return False
        return not isinstance(self.result, LeaseResult) or self.result.acquired


class RateLimiter:
    """Reserves, judges and settles the limits of calls. One per app, closed with `aclose`.

    `io_timeout_s` is the deadline of one batch of storage round trips (a reservation, a
    settlement), whose operations then run concurrently; None for in-process storage, which
    never waits.
    """

    def __init__(
        self,
        *,
        counters: Storage,
        leases: LeaseStore,
        lease_s: float,
        concurrency_retry_after_s: float,
        retry_interval_s: float,
        io_timeout_s: float | None,
        closers: Sequence[Callable[[], Awaitable[None]]] = (),
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._counters = counters
        self._leases = leases
        self._lease_s = lease_s
        self._concurrency_retry_after_s = concurrency_retry_after_s
        self._breaker = _Breaker(retry_interval_s)
        self._timeout_s = io_timeout_s
        self._closers = tuple(closers)
        self._clock = clock
        self._settling: set[asyncio.Task[None]] = set()

    @classmethod
    def from_settings(cls, settings: RateLimitSettings, *, clock: Callable[[], float] = time.time) -> RateLimiter:
        """A limiter on memory or Redis storage as `settings.storage` says. Does no I/O."""
        common: dict[str, Any] = {
            "lease_s": settings.concurrency_lease_s,
            "concurrency_retry_after_s": float(settings.concurrency_retry_after_s),
            "retry_interval_s": settings.storage_retry_interval_s,
            "clock": clock,
        }
        if not settings.uses_redis:
            return cls(counters=MemoryStorage(), leases=MemoryLeases(), io_timeout_s=None, **common)
        pool = redis.asyncio.ConnectionPool.from_url(
            settings.storage,
            # No per-socket read/write timeout: redis-py implements the write one with
            # `asyncio.wait_for`, a task per command, which on Python 3.11 can also swallow a
            # cancellation. Each batch of operations runs under one `asyncio.timeout` instead.
            socket_connect_timeout=settings.storage_timeout_s,
            # One immediate retry on a broken pooled connection (Redis restarted).
            retry=Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
        )
        client = redis.asyncio.Redis(connection_pool=pool)
        counters = RedisStorage(
            "async+" + settings.storage,
            wrap_exceptions=True,
            implementation="redispy",
            key_prefix=settings.key_prefix,
            # One pool for counters and leases; `limits` documents this option.
            connection_pool=pool,  # type: ignore[arg-type]  # typed as scalar options only
        )
        leases = RedisLeases(client, key_prefix=settings.key_prefix, set_ttl_s=settings.concurrency_lease_s)
        return cls(
            counters=counters,
            leases=leases,
            io_timeout_s=settings.storage_timeout_s,
            closers=(client.aclose, pool.aclose),
            **common,
        )

    async def reserve(self, limits: Sequence[Limit], *, tokens: int) -> Admission:
        """Charge one call to every limit in `limits`; roll everything back if any denies.

        Raises `RateLimiterUnavailable` if the storage fails (after undoing what it can).
        """
        if self._breaker.is_open():
            raise RateLimiterUnavailable("Rate-limit storage is unavailable.")
        now = self._clock()
        lease_id = uuid.uuid4().hex
        windowed: list[tuple[Limit, Window, str, int]] = []
        slotted: list[Limit] = []
        for limit in limits:
            if limit.kind is LimitKind.CONCURRENT:
                slotted.append(limit)
                continue
            window = window_of(limit, now)
            cost = tokens if limit.kind.counts_tokens else 1
            windowed.append((limit, window, counter_key(limit, window), cost))
        ops = [self._counter_op(key, _key_ttl_s(limit), cost) for limit, _, key, cost in windowed]
        lease_keys = tuple(lease_key(limit) for limit in slotted)
        if slotted:
            ops.append(self._lease_op(slotted, lease_keys, lease_id, now))
        await self._run(ops)
        failed = next((op.error for op in ops if op.error is not None), None)
        if failed is not None:
            metrics.STORAGE_ERRORS.labels("reserve").inc()
            await self._undo(ops)
            self._breaker.trip(failed)
            raise RateLimiterUnavailable("Rate-limit storage is unavailable.") from failed
        self._breaker.reset()
        counters = tuple(
            CounterReading(limit, int(op.result), cost, window.end)
            for (limit, window, _, cost), op in zip(windowed, ops[: len(windowed)], strict=True)
        )
        slots = self._slot_readings(slotted, ops[-1].result) if slotted else ()
        denial = judge(counters, slots, now=now, concurrency_retry_after_s=self._concurrency_retry_after_s)
        headers = ratelimit_headers(counters, admitted=denial is None, now=now)
        if denial is not None:
            await self._undo(ops)
            return Admission(denial, headers, None, counters, slots)
        charges = tuple(
            TokenCharge(limit, key, window.end) for limit, window, key, _ in windowed if limit.kind.counts_tokens
        )
        reservation = Reservation(lease_id, tokens, charges, lease_keys if slotted else (), now)
        return Admission(None, headers, reservation, counters, slots)

    async def settle(self, reservation: Reservation, *, actual_tokens: int) -> None:
        """Adjust the token counters by `actual_tokens - reservation.tokens`; release the slots.

        Completes even if the caller is cancelled meanwhile (a client that went away), and
        never raises for storage failures: they are logged and counted, and unreleased slots
        free themselves when their leases expire.
        """
        if self._timeout_s is None:  # in-process storage never suspends: nothing can interrupt it
            await self._settle(reservation, actual_tokens)
            return
        task = asyncio.ensure_future(self._settle(reservation, actual_tokens))
        self._settling.add(task)
        task.add_done_callback(self._settling.discard)
        await asyncio.shield(task)

    async def _settle(self, reservation: Reservation, actual_tokens: int) -> None:
        delta = actual_tokens - reservation.tokens
        now = self._clock()
        ops: list[_Op] = []
        for charge in reservation.charges if delta else ():
            if now < charge.window_end:
                key = charge.key
            elif delta > 0:
                # The window has closed; the tokens were used now, so the current window pays.
                key = counter_key(charge.limit, window_of(charge.limit, now))
            else:
                continue  # the reserved window has reset: there is nothing left to refund
            ops.append(self._counter_op(key, _key_ttl_s(charge.limit), delta))
        if reservation.lease_keys:
            keys, lease = reservation.lease_keys, reservation.id
            ops.append(_Op(lambda: self._leases.release(keys, lease), None))
        await self._run(ops)
        errors = [op.error for op in ops if op.error is not None]
        if errors:
            metrics.STORAGE_ERRORS.labels("settle").inc()
            log.warning("ratelimit.settle_failed", error=type(errors[0]).__name__, failed_ops=len(errors))
        if delta:
            (metrics.TOKENS_CHARGED if delta > 0 else metrics.TOKENS_REFUNDED).inc(abs(delta))

    async def ping(self) -> bool:
        """True if the storage answers within the storage timeout (readiness)."""
        try:
            async with asyncio.timeout(self._timeout_s):
                return bool(await self._counters.check())
        except (*_STORAGE_ERRORS, TimeoutError):
            return False

    async def aclose(self) -> None:
        """Wait for settlements still running, then close the storage connections."""
        if self._settling:
            await asyncio.gather(*self._settling, return_exceptions=True)
        for close in self._closers:
            await close()

    def _counter_op(self, key: str, ttl_s: int, amount: int) -> _Op:
        async def run() -> int:
            return int(await self._counters.incr(key, ttl_s, amount))

        async def undo() -> int:
            return int(await self._counters.incr(key, ttl_s, -amount))

        return _Op(run, undo if amount else None)

    def _lease_op(self, slotted: Sequence[Limit], keys: tuple[str, ...], lease_id: str, now: float) -> _Op:
        limits = [limit.amount for limit in slotted]

        async def run() -> LeaseResult:
            return await self._leases.acquire(keys, limits, lease_id, now=now, deadline=now + self._lease_s)

        async def undo() -> None:
            await self._leases.release(keys, lease_id)

        return _Op(run, undo)

    @staticmethod
    def _slot_readings(slotted: Sequence[Limit], result: LeaseResult) -> tuple[SlotReading, ...]:
        return tuple(
            SlotReading(limit, held, full=not result.acquired and held >= limit.amount)
            for limit, held in zip(slotted, result.held, strict=True)
        )

    async def _run(self, ops: Sequence[_Op]) -> None:
        """Run every op, recording results and storage errors; other exceptions propagate.

        The whole batch shares one deadline; an op cut off by it gets a `TimeoutError` (it may
        or may not have reached the storage, so it is never undone).
        """

        async def one(op: _Op) -> None:
            try:
                op.result = await op.run()
                op.done = True
            except _STORAGE_ERRORS as exc:
                op.error = exc

        if self._timeout_s is None:  # memory: nothing to wait for
            for op in ops:
                await one(op)
            return
        try:
            async with asyncio.timeout(self._timeout_s):
                if len(ops) > 1:
                    await asyncio.gather(*(one(op) for op in ops))
                else:
                    for op in ops:
                        await one(op)
        except TimeoutError as exc:
            for op in ops:
                if not op.done and op.error is None:
                    op.error = exc

    async def _undo(self, ops: Sequence[_Op]) -> None:
        """Roll back the ops that took effect (a denial, or a partial storage failure)."""
        undos = [_Op(op.undo, None) for op in ops if op.undo is not None and op.took_effect]
        await self._run(undos)
        if any(op.error is not None for op in undos):
            metrics.STORAGE_ERRORS.labels("rollback").inc()
            log.warning("ratelimit.rollback_failed", failed_ops=sum(op.error is not None for op in undos))

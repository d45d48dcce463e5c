"""Concurrency slots: leases held by calls in flight, in process memory or in Redis.

The `limits` library counts events in windows; it has no semaphore, and a plain counter
(INCR on start, DECR at the end) leaks a slot forever when a process dies mid-call. So a slot
is a lease: a member of a sorted set scored by its deadline. Acquiring prunes expired leases,
checks every scope's count and adds the lease to all of them, atomically (one Lua script in
Redis, no await in memory); releasing removes it. A crashed process's slots free themselves
when their leases expire. This module is the only part of the limiter written by hand.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, cast

import redis.asyncio

_ACQUIRE = """
-- KEYS: one sorted set per concurrency limit (member: lease id, score: lease deadline)
-- ARGV: now, deadline, lease id, set ttl in ms, then one limit per key
local counts = {}
local room = 1
for i, key in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', ARGV[1])
  local held = redis.call('ZCARD', key)
  counts[i] = held
  if held >= tonumber(ARGV[4 + i]) then room = 0 end
end
if room == 1 then
  for _, key in ipairs(KEYS) do
    redis.call('ZADD', key, ARGV[2], ARGV[3])
    redis.call('PEXPIRE', key, ARGV[4])
  end
end
table.insert(counts, 1, room)
return counts
"""

_RELEASE = """
for _, key in ipairs(KEYS) do
  redis.call('ZREM', key, ARGV[1])
end
return #KEYS
"""


@dataclass(frozen=True, slots=True)
class LeaseResult:
    """Leases held in each scope before this call, and whether the call got a slot in all of them."""

    acquired: bool
    held: tuple[int, ...]


class LeaseStore(Protocol):
    """Where concurrency leases live."""

    async def acquire(
        self, keys: Sequence[str], limits: Sequence[int], lease_id: str, *, now: float, deadline: float
    ) -> LeaseResult:
        """Add `lease_id` to every key if each holds fewer than its limit; all or nothing."""
        ...

    async def release(self, keys: Sequence[str], lease_id: str) -> None:
        """Remove `lease_id` from every key; a lease already gone (expired) is no error."""
        ...


class MemoryLeases:
    """Leases of one process, for `memory://` storage."""

    def __init__(self) -> None:
        self._held: dict[str, dict[str, float]] = {}

    async def acquire(
        self, keys: Sequence[str], limits: Sequence[int], lease_id: str, *, now: float, deadline: float
    ) -> LeaseResult:
        counts: list[int] = []
        for key, limit in zip(keys, limits, strict=True):
            held = self._held.get(key, {})
            if len(held) >= limit:  # prune only when it matters: the common case stays O(1)
                held = {lease: until for lease, until in held.items() if until > now}
                self._held[key] = held
            counts.append(len(held))
        acquired = all(count < limit for count, limit in zip(counts, limits, strict=True))
        if acquired:
            for key in keys:
                self._held.setdefault(key, {})[lease_id] = deadline
        return LeaseResult(acquired, tuple(counts))

    async def release(self, keys: Sequence[str], lease_id: str) -> None:
        for key in keys:
            held = self._held.get(key)
            if held is None:
                continue
            held.pop(lease_id, None)
            if not held:
                del self._held[key]


class RedisLeases:
    """Leases shared by every gateway process using one Redis."""

    def __init__(self, client: redis.asyncio.Redis, *, key_prefix: str, set_ttl_s: float) -> None:
        self._prefix = key_prefix
        self._set_ttl_ms = max(1, round(set_ttl_s * 1000))
        self._acquire = client.register_script(_ACQUIRE)
        self._release = client.register_script(_RELEASE)

    def _keys(self, keys: Sequence[str]) -> list[str]:
        return [f"{self._prefix}:{key}" for key in keys]

    async def acquire(
        self, keys: Sequence[str], limits: Sequence[int], lease_id: str, *, now: float, deadline: float
    ) -> LeaseResult:
        args: list[str | int] = [repr(now), repr(deadline), lease_id, self._set_ttl_ms, *limits]
        reply = cast("list[int]", await self._acquire(keys=self._keys(keys), args=args))
        return LeaseResult(bool(reply[0]), tuple(int(n) for n in reply[1:]))

    async def release(self, keys: Sequence[str], lease_id: str) -> None:
        await self._release(keys=self._keys(keys), args=[lease_id])

"""Rate limiter cost per call, with memory and with Redis storage.

Measures, for one call at a time (no contention), the time spent in the rate-limit step
(rule resolution, token estimate, reservation, headers) plus its finisher (settlement and
slot release), and separately the limiter alone (`reserve` + `settle`). Two rule sets: the
default (tenant requests/min, tokens/min, concurrency: 3 limits) and a heavy one (plus a key
limit, a model concurrency limit and a daily budget: 6 limits).

    .venv/bin/python benchmarks/ratelimit_bench.py [--iterations 2000] [--redis redis://127.0.0.1:6379/0]
        [--check]   # exit 1 if a p50 misses its target (0.3 ms memory, 1 ms Redis)

Redis keys are written under a fresh prefix and deleted afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import redis.asyncio
from redis.exceptions import RedisError

from gateway.auth import Principal
from gateway.pipeline import CallRequest, Context, Outcome, Usage
from gateway.ratelimit.service import build_rate_limits, close_rate_limits
from gateway.ratelimit.settings import RateLimitSettings

TARGET_P50_MS = {"memory": 0.3, "redis": 1.0}
HUGE = 10**12
RULES: dict[str, dict[str, Any]] = {
    "default": {"default": {"requests_per_minute": HUGE, "tokens_per_minute": HUGE, "concurrent": 10_000}},
    "heavy": {
        "default": {
            "requests_per_minute": HUGE,
            "tokens_per_minute": HUGE,
            "tokens_per_day": HUGE,
            "concurrent": 10_000,
        },
        "keys": {"key_bench": {"requests_per_minute": HUGE}},
        "models": {"bench-model": {"concurrent": 10_000}},
    },
}
BODY = {
    "model": "bench-model",
    "messages": [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "Summarise the attached quarterly report in five bullet points. " * 4},
    ],
    "max_tokens": 256,
}


def context(i: int) -> Context:
    request = CallRequest(
        request_id=f"bench_{i}", endpoint="chat", requested_model="bench-model", model="bench-model", body=BODY
    )
    principal = Principal(key_id="key_bench", tenant="bench", roles=frozenset({"app"}))
    return Context(request=request, principal=principal, body=BODY, backends=("b",))


def percentiles(samples_s: list[float]) -> dict[str, float]:
    ms = sorted(s * 1000 for s in samples_s)
    return {
        "p50": statistics.median(ms),
        "p90": ms[int(len(ms) * 0.9)],
        "p99": ms[int(len(ms) * 0.99)],
        "mean": statistics.fmean(ms),
    }


async def timed(iterations: int, warmup: int, one: Callable[[int], Awaitable[None]]) -> list[float]:
    samples: list[float] = []
    for i in range(warmup + iterations):
        started = time.perf_counter()
        await one(i)
        if i >= warmup:
            samples.append(time.perf_counter() - started)
    return samples


async def bench(storage: str, rules: dict[str, Any], iterations: int, prefix: str) -> dict[str, dict[str, float]]:
    settings = RateLimitSettings(storage=storage, key_prefix=prefix, **rules)
    limits = build_rate_limits(settings)
    outcome = Outcome(status_code=200, backend="b", usage=Usage(40, 120))

    async def step_and_finisher(i: int) -> None:
        ctx = await limits.step(context(i))
        if ctx.denial is not None:
            raise RuntimeError("benchmark limits must never deny")
        await limits.finisher.finish(ctx, outcome)

    resolved = settings.rule_book().resolve(key_id="key_bench", tenant="bench", model="bench-model")

    async def limiter_only(_: int) -> None:
        admission = await limits.limiter.reserve(resolved, tokens=300)
        if admission.reservation is None:
            raise RuntimeError("benchmark limits must never deny")
        await limits.limiter.settle(admission.reservation, actual_tokens=160)

    try:
        warmup = max(50, iterations // 10)
        return {
            "step+finisher": percentiles(await timed(iterations, warmup, step_and_finisher)),
            "limiter only": percentiles(await timed(iterations, warmup, limiter_only)),
        }
    finally:
        await close_rate_limits(limits)


async def redis_reachable(url: str) -> bool:
    client = redis.asyncio.Redis.from_url(url, socket_connect_timeout=1)
    try:
        return bool(await client.ping())
    except (RedisError, OSError):
        return False
    finally:
        await client.aclose()


async def delete_prefix(url: str, prefix: str) -> None:
    client = redis.asyncio.Redis.from_url(url)
    try:
        keys = [key async for key in client.scan_iter(match=f"{prefix}:*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iterations", type=int, default=2000, help="measured calls per case (bounded)")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0", help="Redis URL; skipped if unreachable")
    parser.add_argument("--check", action="store_true", help="exit 1 if a p50 misses its target")
    args = parser.parse_args()
    iterations = max(100, min(args.iterations, 20_000))

    storages = {"memory": "memory://"}
    if await redis_reachable(args.redis):
        storages["redis"] = args.redis
    else:
        print(f"Redis at {args.redis} is unreachable: Redis cases skipped", file=sys.stderr)

    missed = False
    print(f"rate limiter cost per call, {iterations} calls per case (ms)")
    print(f"{'storage':8} {'rules':8} {'measured':14} {'p50':>7} {'p90':>7} {'p99':>7} {'mean':>7}  target p50")
    for name, url in storages.items():
        prefix = f"bench:ratelimit:{uuid.uuid4().hex}"
        try:
            for rules_name, rules in RULES.items():
                results = await bench(url, rules, iterations, prefix)
                for measured, stats in results.items():
                    target = TARGET_P50_MS[name]
                    verdict = "ok" if stats["p50"] <= target else "MISSED"
                    missed |= verdict == "MISSED" and measured == "step+finisher"
                    print(
                        f"{name:8} {rules_name:8} {measured:14} {stats['p50']:7.3f} {stats['p90']:7.3f} "
                        f"{stats['p99']:7.3f} {stats['mean']:7.3f}  <= {target} {verdict}"
                    )
        finally:
            if name == "redis":
                await delete_prefix(url, prefix)
    return 1 if args.check and missed else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))

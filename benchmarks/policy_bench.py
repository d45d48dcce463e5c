"""Decision latency of the shipped policy set with the embedded engine (and, if installed, OPA).

Measures `EmbeddedPolicyEngine.decide` end to end as the pipeline calls it: input to JSON,
regorus evaluation of `data.gateway.decision`, output validation. Three workloads: the demo call
repeated (allowed, no PII; answered by the decision cache), the demo call with a different prompt
size each time (the common case as the engine sees it: never cached), and a seeded mix of
generated calls that exercise every rule (many denials, so more rules fire and more messages
are formatted than in real traffic).
Reports wall-clock and CPU (thread) time percentiles, because on a shared machine wall time also
counts time spent waiting for a core. Bounded: a few thousand decisions, seconds of CPU.

    .venv/bin/python benchmarks/policy_bench.py [--count 3000] [--output results.json] [--oracle]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import time
from pathlib import Path
from typing import Any

from gateway.policy.embedded import EmbeddedPolicyEngine, compile_policy
from gateway.policy.samples import random_inputs
from gateway.policy.sources import read_policy_sources

ROOT = Path(__file__).resolve().parents[1]

DEMO_INPUT: dict[str, Any] = {
    "schema": "gateway.policy.input/v1",
    "request": {
        "id": "bench",
        "endpoint": "chat",
        "model": "demo-chat",
        "requested_model": "gpt-4o-mini",
        "stream": False,
        "max_tokens": None,
        "estimated_tokens": 120,
    },
    "principal": {
        "key_id": "demo-app",
        "tenant": "acme",
        "roles": ["app"],
        "attributes": {"commercial": True, "monthly_active_users": 5000, "region": "cn-east", "use_case": "support"},
    },
    "pii": {"request": {}},
    "backends": [{"name": "demo-upstream", "tags": {"location": "on-prem", "accelerator": "cpu", "region": "local"}}],
    "model": {"id": "demo-chat"},
}


def _percentiles(samples_ms: list[float]) -> dict[str, float]:
    ordered = sorted(samples_ms)

    def pick(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 4)

    return {
        "p50_ms": pick(0.50),
        "p90_ms": pick(0.90),
        "p99_ms": pick(0.99),
        "max_ms": round(ordered[-1], 4),
        "mean_ms": round(statistics.fmean(ordered), 4),
    }


async def _measure(engine: EmbeddedPolicyEngine, documents: list[dict[str, Any]], warmup: int) -> dict[str, Any]:
    for document in documents[:warmup]:
        await engine.decide(document)
    wall: list[float] = []
    cpu: list[float] = []
    for document in documents:
        w0, c0 = time.perf_counter_ns(), time.thread_time_ns()
        await engine.decide(document)
        cpu.append((time.thread_time_ns() - c0) / 1e6)
        wall.append((time.perf_counter_ns() - w0) / 1e6)
    return {"decisions": len(documents), "wall": _percentiles(wall), "cpu": _percentiles(cpu)}


def _distinct_demo_calls(count: int) -> list[dict[str, Any]]:
    """The demo call with a different prompt size each time: what one app's traffic looks like
    to the decision cache (it never hits, since `estimated_tokens` is part of the input)."""
    return [
        {**DEMO_INPUT, "request": {**DEMO_INPUT["request"], "id": f"bench-{n}", "estimated_tokens": 100 + n}}
        for n in range(count)
    ]


def _measure_oracle(sources: Any, documents: list[dict[str, Any]]) -> dict[str, Any] | None:
    try:
        from opa_bindings import OpaEngine  # noqa: PLC0415 - optional, installed outside the lock
    except ImportError:
        return None
    engine = OpaEngine()
    try:
        for path, source in sources.policy_modules:
            engine.add_policy(path, source)
        engine.add_data(dict(sources.data))
        wall: list[float] = []
        for document in documents:
            t0 = time.perf_counter_ns()
            engine.eval_document("gateway.decision", document)
            wall.append((time.perf_counter_ns() - t0) / 1e6)
        return {"decisions": len(documents), "wall": _percentiles(wall)}
    finally:
        engine.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=ROOT / "policies")
    parser.add_argument("--count", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--output", type=Path)
    parser.add_argument("--oracle", action="store_true", help="also time the OPA engine (opa-golib-python-bindings)")
    args = parser.parse_args()

    sources = read_policy_sources(args.dir)
    engine = EmbeddedPolicyEngine(compile_policy(sources), timeout_s=10)
    generated = [p.to_json() for p in random_inputs(sources.data, seed=args.seed, count=args.count)]
    results: dict[str, Any] = {
        "policy_version": sources.version,
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "load_average_1m": round(os.getloadavg()[0], 2),
        },
        "embedded": {
            "demo_call": await _measure(engine, [DEMO_INPUT] * args.count, warmup=200),
            "demo_call_uncached": await _measure(engine, _distinct_demo_calls(args.count), warmup=0),
            "generated_mix": await _measure(engine, generated, warmup=200),
        },
    }
    if args.oracle:
        results["opa_oracle"] = _measure_oracle(sources, generated)
    engine.close()
    text = json.dumps(results, indent=2)
    print(text)
    if args.output:
        args.output.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    asyncio.run(main())

"""Audit log benchmarks: writer throughput, the latency strict mode adds, export memory.

    .venv/bin/python benchmarks/audit_bench.py                      # SQLite and local PostgreSQL
    .venv/bin/python benchmarks/audit_bench.py --only sqlite --events 5000
    .venv/bin/python benchmarks/audit_bench.py --postgres postgresql+asyncpg://postgres@127.0.0.1/test

1. Throughput: N realistic request events (about 1 KB of redacted content each) from C
   concurrent callers, in strict mode (each caller waits for its commit) and async mode
   (callers only queue; timed until everything is committed).
2. Strict latency: 16 callers make calls for D seconds: append the request event, wait the
   upstream's time (`--model-ms`), append the response event. The time each append waits for
   its commit is what strict mode adds (per event, and per call: both waits). With model time
   0 the writer is saturated (events back to back); with a model time, calls arrive as real
   traffic does.
3. Export: E events are written, then a child process streams them to /dev/null as JSONL
   through `AuditStore.iter_events` (what `GET /audit/export` and `gateway audit export` do);
   its peak RSS is compared with an export of E/10 events: flat memory means both are alike.

Each run uses a fresh SQLite file or a fresh PostgreSQL schema, dropped afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self

import uvloop
from prometheus_client import CollectorRegistry
from sqlalchemy import text

from gateway.audit import migrate
from gateway.audit.database import create_audit_engine
from gateway.audit.metrics import AuditMetrics
from gateway.audit.record import AuditEvent, request_event, uuid7
from gateway.audit.settings import AuditSettings
from gateway.audit.writer import AuditWriter
from gateway.auth import Principal
from gateway.pipeline import CallRequest, Context

ROOT = Path(__file__).resolve().parents[1]
BODY = {
    "model": "llama-3.1-8b-instruct",
    "temperature": 0.2,
    "messages": [
        {"role": "system", "content": "You are a helpful assistant for the claims department. " * 4},
        {"role": "user", "content": "Customer <PERSON> (<EMAIL_ADDRESS>, <PHONE_NUMBER>) asks about claim 7. " * 8},
    ],
}


def make_context(n: int) -> Context:
    request = CallRequest(
        request_id=f"bench-{n}",
        endpoint="chat",
        requested_model="gpt-4o-mini",
        model="llama-3.1-8b-instruct",
        body=BODY,
        client_addr="10.1.2.3",
        user_agent="OpenAI/Python 1.40.0",
    )
    principal = Principal(key_id="key_bench", tenant=f"tenant-{n % 7}", roles=frozenset({"app"}))
    return Context(
        request=request,
        principal=principal,
        body=BODY,
        backends=("vllm",),
        reasons=("pii.redacted",),
        policy_version="bench",
        pii_actions={"EMAIL_ADDRESS": "mask", "PERSON": "mask", "PHONE_NUMBER": "mask"},
        pii_counts={"EMAIL_ADDRESS": 8, "PERSON": 8, "PHONE_NUMBER": 8},
        timings_ms={"auth": 0.05, "ratelimit": 0.1, "pii": 3.2, "policy": 0.4},
    )


TEMPLATE = request_event(
    make_context(0), event_id="x", now=datetime.now(UTC), gateway_version="bench", store_content="redacted"
)


def event(n: int) -> AuditEvent:
    now = datetime.now(UTC)
    return replace(TEMPLATE, event_id=uuid7(now, os.urandom(10)), occurred_at=now, request_id=f"bench-{n}")


class Database:
    """A fresh, migrated audit database for one benchmark."""

    def __init__(self, kind: str, pg_url: str, **overrides: Any) -> None:
        self.kind = kind
        self._dir = tempfile.TemporaryDirectory(prefix="audit-bench-")
        if kind == "sqlite":
            self.settings = AuditSettings(database_url=f"sqlite+aiosqlite:///{self._dir.name}/audit.db", **overrides)
        else:
            schema = f"audit_bench_{uuid.uuid4().hex[:10]}"
            self.settings = AuditSettings(database_url=pg_url, postgres_schema=schema, **overrides)

    async def __aenter__(self) -> Self:
        self.engine = create_audit_engine(self.settings)
        await migrate.upgrade(self.engine, schema=self.settings.postgres_schema)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.settings.postgres_schema:
            async with self.engine.begin() as conn:
                await conn.execute(text(f'DROP SCHEMA "{self.settings.postgres_schema}" CASCADE'))
        await self.engine.dispose()
        self._dir.cleanup()


async def throughput(kind: str, pg_url: str, *, events: int, concurrency: int, mode: str) -> dict[str, float]:
    async with Database(kind, pg_url, mode=mode) as db:
        registry = CollectorRegistry()
        metrics = AuditMetrics.create(registry)
        counter = iter(range(events))
        async with AuditWriter(db.engine, db.settings, metrics=metrics) as writer:

            async def caller() -> None:
                for n in counter:
                    await writer.append(event(n), wait=mode == "strict")
                    if mode == "async" and n % 256 == 0:
                        await asyncio.sleep(0)

            started = time.perf_counter()
            await asyncio.gather(*(caller() for _ in range(concurrency)))
            await writer.wait_flushed()
            elapsed = time.perf_counter() - started
        batches = registry.get_sample_value("gateway_audit_batches_total") or 0.0
        return {"events_per_s": events / elapsed, "mean_batch": events / batches if batches else 0.0}


async def strict_latency(
    kind: str, pg_url: str, *, concurrency: int, duration_s: float, model_ms: float = 0.0
) -> dict[str, float]:
    """What strict mode adds to calls: `concurrency` callers each append a request event, wait
    about `model_ms` (the upstream's time, 0.5x to 1.5x), append the response event, and start over. Both appends
    wait for their commit; a call's added latency is the sum of its two waits.

    With `model_ms=0` the callers do nothing but write events back to back: the writer is
    saturated and every wait includes the whole commit of the previous group.
    """
    async with Database(kind, pg_url) as db:
        waits: list[float] = []
        per_call: list[float] = []
        registry = CollectorRegistry()
        deadline = time.perf_counter() + duration_s
        async with AuditWriter(db.engine, db.settings, metrics=AuditMetrics.create(registry)) as writer:

            async def timed_append(n: int) -> float:
                started = time.perf_counter()
                await writer.append(event(n), wait=True)
                waited = (time.perf_counter() - started) * 1000.0
                waits.append(waited)
                return waited

            async def caller(k: int) -> None:
                rng = random.Random(k)
                n = k
                # Callers start spread over one model time, as independent clients would.
                await asyncio.sleep(model_ms / 1000.0 * k / concurrency)
                while time.perf_counter() < deadline:
                    added = await timed_append(n)
                    if model_ms:
                        # Model times vary from call to call (here: 0.5x to 1.5x the mean).
                        await asyncio.sleep(model_ms / 1000.0 * rng.uniform(0.5, 1.5))
                    added += await timed_append(n + 1)
                    per_call.append(added)
                    n += 2 * concurrency

            await asyncio.gather(*(caller(2 * k) for k in range(concurrency)))
        q = statistics.quantiles(waits, n=100)
        calls = statistics.quantiles(per_call, n=100)
        batches = registry.get_sample_value("gateway_audit_batches_total") or 1.0
        commit_s = registry.get_sample_value("gateway_audit_commit_seconds_sum") or 0.0
        return {
            "calls": len(per_call),
            "p50_ms": q[49],
            "p95_ms": q[94],
            "p99_ms": q[98],
            "call_p50_ms": calls[49],
            "call_p99_ms": calls[98],
            "mean_batch": len(waits) / batches,
            "mean_commit_ms": commit_s / batches * 1000.0,
        }


async def fill(db: Database, events: int) -> None:
    async with AuditWriter(
        db.engine,
        db.settings.model_copy(update={"mode": "async", "batch_max_events": 2000, "queue_max_events": 50_000}),
        metrics=AuditMetrics.create(CollectorRegistry()),
    ) as writer:
        for n in range(events):
            while writer.queue_depth >= 40_000:
                await asyncio.sleep(0.01)
            await writer.append(event(n), wait=False)
            if n % 1000 == 0:
                await asyncio.sleep(0)
        await writer.wait_flushed()


def export_child(settings_json: str) -> None:
    """Runs in a child process: stream every event as JSONL to /dev/null, report RSS.

    RSS is sampled every 1,000 events; every 10th sample is shown: flat memory means the
    samples stay level however many events have gone by. `peak_rss_mb` is the highest sample.
    (Not `ru_maxrss`: a child started with vfork inherits the parent's high-water mark, and the
    benchmark's parent has just written the events.)
    """
    import psutil  # noqa: PLC0415

    from gateway.audit.export import export_lines  # noqa: PLC0415
    from gateway.audit.query import AuditStore, EventFilter  # noqa: PLC0415

    settings = AuditSettings.model_validate(json.loads(settings_json))
    process = psutil.Process()

    async def run() -> tuple[int, float, list[float]]:
        engine = create_audit_engine(settings)
        size, lines, samples, started = 0, 0, [], time.perf_counter()
        with Path(os.devnull).open("w", encoding="utf-8") as sink:
            async for chunk in export_lines(AuditStore(engine).iter_events(EventFilter()), "jsonl"):
                sink.write(chunk)
                size += len(chunk)
                before, lines = lines, lines + chunk.count("\n")
                if lines // 1_000 != before // 1_000:
                    samples.append(process.memory_info().rss / 1e6)
        samples.append(process.memory_info().rss / 1e6)  # at the end too: small exports have no other
        elapsed = time.perf_counter() - started
        await engine.dispose()
        return size, elapsed, samples

    size, elapsed, samples = asyncio.run(run())
    shown = samples[9::10]
    print(json.dumps({"bytes": size, "seconds": elapsed, "peak_rss_mb": max(samples), "rss_samples_mb": shown}))


async def export_memory(kind: str, pg_url: str, *, events: int) -> list[dict[str, float]]:
    results = []
    async with Database(kind, pg_url) as db:
        written = 0
        for target in (events // 10, events):
            await fill(db, target - written)
            written = target
            out = (
                subprocess.run(
                    [sys.executable, __file__, "--export-child", db.settings.model_dump_json()],
                    check=True,
                    capture_output=True,
                    text=True,
                    cwd=ROOT,
                )
                .stdout.strip()
                .splitlines()[-1]
            )
            data = json.loads(out)
            results.append({"events": target, **data})
    return results


async def main(args: argparse.Namespace) -> None:
    kinds = ["sqlite", "postgres"] if args.only is None else [args.only]
    for kind in kinds:
        print(f"\n## {kind}\n")
        for mode, concurrency in (("strict", 64), ("async", 8)):
            r = await throughput(kind, args.postgres, events=args.events, concurrency=concurrency, mode=mode)
            print(
                f"throughput {mode:<6} callers={concurrency:<3} {args.events} events: "
                f"{r['events_per_s']:8.0f} events/s  (mean batch {r['mean_batch']:.1f})"
            )
        for model_ms in args.model_ms:
            lat = await strict_latency(kind, args.postgres, concurrency=16, duration_s=args.duration, model_ms=model_ms)
            print(
                f"strict latency  callers=16 model={model_ms:g} ms  {lat['calls']} calls: "
                f"per event p50 {lat['p50_ms']:.2f} ms  p95 {lat['p95_ms']:.2f} ms  p99 {lat['p99_ms']:.2f} ms; "
                f"per call (2 events) p50 {lat['call_p50_ms']:.2f} ms  p99 {lat['call_p99_ms']:.2f} ms  "
                f"(mean batch {lat['mean_batch']:.1f}, mean commit {lat['mean_commit_ms']:.2f} ms)"
            )
        if args.export_events:
            for r in await export_memory(kind, args.postgres, events=args.export_events):
                samples = " ".join(f"{m:.0f}" for m in r["rss_samples_mb"])
                print(
                    f"export jsonl {r['events']:>7} events: {r['seconds']:.1f} s, "
                    f"{r['bytes'] / 1e6:.0f} MB written, peak RSS {r['peak_rss_mb']:.0f} MB, "
                    f"RSS every 10k events (MB): {samples}"
                )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=["sqlite", "postgres"])
    parser.add_argument("--postgres", default="postgresql+asyncpg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--duration", type=float, default=5.0, help="seconds of each strict latency run")
    parser.add_argument(
        "--model-ms",
        type=float,
        nargs="+",
        default=[0.0, 50.0],
        help="upstream time between a call's request and response events (0: saturated writer)",
    )
    parser.add_argument("--export-events", type=int, default=100_000, help="0 skips the export benchmark")
    parser.add_argument(
        "--loop",
        choices=["uvloop", "asyncio"],
        default="uvloop",
        help="event loop: uvloop is what `gateway serve` runs on (default)",
    )
    parser.add_argument("--export-child", help=argparse.SUPPRESS)
    parsed = parser.parse_args()
    if parsed.export_child:
        export_child(parsed.export_child)
    elif parsed.loop == "uvloop":
        uvloop.run(main(parsed))
    else:
        asyncio.run(main(parsed))

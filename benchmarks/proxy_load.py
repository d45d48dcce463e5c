"""The load generator: N concurrent workers on one aiohttp session, bounded in count and time.

Sends the same request body to one URL until either the request budget is spent or the
phase's time cap passes, whichever comes first, and records per-request latency (and, for
streams, the time to the first content token). It knows nothing about which server it is
loading; `proxy_bench.py` decides targets, processes and CPU accounting.

Not a general load tool: loopback only, one body per phase, no ramp-up, no open-loop rate.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import aiohttp
import msgspec

Kind = Literal["chat", "stream"]

_decode = msgspec.json.Decoder().decode


@dataclass(frozen=True, slots=True)
class PhaseSpec:
    """One measured phase: what to send, how many at once, how many in all, for how long at most."""

    kind: Kind
    concurrency: int
    requests: int
    time_cap_s: float


@dataclass(slots=True)
class PhaseResult:
    """What one phase measured. Latencies in milliseconds, one entry per successful request."""

    spec: PhaseSpec
    wall_s: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    ttft_ms: list[float] = field(default_factory=list)
    errors: int = 0
    first_error: str | None = None
    capped: bool = False
    """True when the time cap stopped the phase before the request budget was spent."""

    @property
    def ok(self) -> int:
        return len(self.latencies_ms)

    @property
    def attempted(self) -> int:
        return self.ok + self.errors

    @property
    def requests_per_s(self) -> float:
        return self.ok / self.wall_s if self.wall_s > 0 else 0.0

    def record_error(self, message: str) -> None:
        self.errors += 1
        if self.first_error is None:
            self.first_error = message


def percentile(values: Sequence[float], pct: float) -> float | None:
    """Nearest-rank percentile (`pct` in 0..100); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100.0 * len(ordered)))
    return ordered[rank - 1]


class _SseScan:
    """Incremental SSE reader: notices the first non-empty content delta and the `[DONE]` frame."""

    def __init__(self) -> None:
        self._buffer = b""
        self.saw_content = False
        self.done = False

    def feed(self, chunk: bytes) -> bool:
        """Consume bytes; True when this chunk carried the stream's first content token."""
        self._buffer += chunk
        first = False
        while b"\n\n" in self._buffer:
            event, self._buffer = self._buffer.split(b"\n\n", 1)
            for line in event.splitlines():
                if not line.startswith(b"data:"):
                    continue
                data = line[5:].strip()
                if data == b"[DONE]":
                    self.done = True
                elif not self.saw_content and _has_content(data):
                    self.saw_content = first = True
        return first


def _has_content(data: bytes) -> bool:
    try:
        chunk = _decode(data)
    except msgspec.DecodeError:
        return False
    choices = chunk.get("choices") if isinstance(chunk, dict) else None
    if not choices:
        return False
    delta = choices[0].get("delta") or {}
    return bool(delta.get("content")) or bool(choices[0].get("text"))


async def _one_chat(session: aiohttp.ClientSession, url: str, body: bytes, headers: Mapping[str, str]) -> str | None:
    async with session.post(url, data=body, headers=headers) as response:
        payload = await response.read()
        if response.status != 200:
            return f"HTTP {response.status}: {payload[:200]!r}"
    return None


async def _one_stream(
    session: aiohttp.ClientSession, url: str, body: bytes, headers: Mapping[str, str], started: float
) -> tuple[str | None, float | None]:
    scan = _SseScan()
    ttft: float | None = None
    async with session.post(url, data=body, headers=headers) as response:
        if response.status != 200:
            payload = await response.read()
            return f"HTTP {response.status}: {payload[:200]!r}", None
        async for chunk in response.content.iter_any():
            if scan.feed(chunk) and ttft is None:
                ttft = (time.perf_counter() - started) * 1000.0
    if not scan.done:
        return "stream ended without data: [DONE]", ttft
    if ttft is None:
        return "stream carried no content token", None
    return None, ttft


async def run_phase(
    session: aiohttp.ClientSession, url: str, body: bytes, headers: Mapping[str, str], spec: PhaseSpec
) -> PhaseResult:
    """Run one phase to its request budget or time cap and return what it measured."""
    result = PhaseResult(spec)
    issued = 0
    started = time.perf_counter()
    deadline = started + spec.time_cap_s
    per_request_timeout = max(spec.time_cap_s, 1.0)

    async def worker() -> None:
        nonlocal issued
        while issued < spec.requests:
            if time.perf_counter() >= deadline:
                result.capped = True
                return
            issued += 1
            t0 = time.perf_counter()
            try:
                async with asyncio.timeout(per_request_timeout):
                    if spec.kind == "chat":
                        error, ttft = await _one_chat(session, url, body, headers), None
                    else:
                        error, ttft = await _one_stream(session, url, body, headers, t0)
            except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                error, ttft = f"{type(exc).__name__}: {exc}", None
            if error is not None:
                result.record_error(error)
                continue
            result.latencies_ms.append((time.perf_counter() - t0) * 1000.0)
            if ttft is not None:
                result.ttft_ms.append(ttft)

    await asyncio.gather(*(worker() for _ in range(spec.concurrency)))
    result.wall_s = time.perf_counter() - started
    return result

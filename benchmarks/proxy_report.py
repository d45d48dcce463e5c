"""Turning measured phases into the markdown tables and JSON the harness prints.

Pure: takes `Row`s (one measured phase of one target plus the CPU time the processes spent
in it) and renders them; computes the "added" figures (proxy minus direct) and checks them
against the issue's targets. No I/O beyond returning strings and dicts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from proxy_load import PhaseResult, PhaseSpec, percentile

DIRECT = "direct"

TARGET_CPU_MS = 0.4
"""Issue 2: at most 0.4 ms of gateway CPU per non-streaming call, governance steps off."""
TARGET_ADDED_P50_MS = 1.0
"""Issue 2: at most 1 ms added p50 latency at concurrency 1."""
TARGET_ADDED_TTFT_MS = 1.0
"""Issue 2: streaming adds at most 1 ms to the time to first token."""


@dataclass(frozen=True, slots=True)
class Row:
    """One phase of one target, with CPU seconds spent by each side during it."""

    target: str
    result: PhaseResult
    proxy_cpu_s: float | None
    upstream_cpu_s: float
    loadgen_cpu_s: float
    foreign_load: tuple[float, float] | None = None
    """Cores' worth of CPU used by processes outside the benchmark during the phase, on the
    proxy core and on the load core (None when unpinned)."""

    def per_request_ms(self, seconds: float | None) -> float | None:
        if seconds is None or self.result.ok == 0:
            return None
        return seconds * 1000.0 / self.result.ok

    @property
    def phase(self) -> str:
        return f"{self.result.spec.kind} c={self.result.spec.concurrency}"

    def to_json(self) -> dict[str, Any]:
        r = self.result
        return {
            "target": self.target,
            "kind": r.spec.kind,
            "concurrency": r.spec.concurrency,
            "requests_budget": r.spec.requests,
            "time_cap_s": r.spec.time_cap_s,
            "ok": r.ok,
            "errors": r.errors,
            "first_error": r.first_error,
            "capped": r.capped,
            "wall_s": round(r.wall_s, 3),
            "requests_per_s": round(r.requests_per_s, 1),
            "p50_ms": _round(percentile(r.latencies_ms, 50)),
            "p99_ms": _round(percentile(r.latencies_ms, 99)),
            "ttft_p50_ms": _round(percentile(r.ttft_ms, 50)),
            "ttft_p99_ms": _round(percentile(r.ttft_ms, 99)),
            "proxy_cpu_ms_per_request": _round(self.per_request_ms(self.proxy_cpu_s)),
            "upstream_cpu_ms_per_request": _round(self.per_request_ms(self.upstream_cpu_s)),
            "loadgen_cpu_ms_per_request": _round(self.per_request_ms(self.loadgen_cpu_s)),
            "foreign_load_proxy_core": _round(self.foreign_load[0]) if self.foreign_load else None,
            "foreign_load_load_core": _round(self.foreign_load[1]) if self.foreign_load else None,
        }


def merge_rows(parts: Sequence[Row], spec: PhaseSpec) -> Row:
    """One row from the rounds of a phase: samples pooled, CPU and wall time summed."""
    result = PhaseResult(spec)
    for part in parts:
        r = part.result
        result.wall_s += r.wall_s
        result.latencies_ms.extend(r.latencies_ms)
        result.ttft_ms.extend(r.ttft_ms)
        result.errors += r.errors
        result.first_error = result.first_error or r.first_error
        result.capped = result.capped or r.capped
    proxy = [p.proxy_cpu_s for p in parts if p.proxy_cpu_s is not None]
    foreign = None
    if result.wall_s > 0 and all(p.foreign_load is not None for p in parts):
        foreign = (
            sum(p.foreign_load[0] * p.result.wall_s for p in parts if p.foreign_load) / result.wall_s,
            sum(p.foreign_load[1] * p.result.wall_s for p in parts if p.foreign_load) / result.wall_s,
        )
    return Row(
        target=parts[0].target,
        result=result,
        proxy_cpu_s=sum(proxy) if proxy else None,
        upstream_cpu_s=sum(p.upstream_cpu_s for p in parts),
        loadgen_cpu_s=sum(p.loadgen_cpu_s for p in parts),
        foreign_load=foreign,
    )


def _round(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


def _fmt(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _foreign(load: tuple[float, float] | None) -> str:
    return "-" if load is None else f"{load[0]:.2f} / {load[1]:.2f}"


def results_table(rows: Sequence[Row]) -> str:
    """Every phase of every target as one markdown table."""
    header = (
        "| target | phase | ok / err | req/s | p50 ms | p99 ms | TTFT p50 ms | TTFT p99 ms "
        "| proxy CPU ms/req | upstream CPU ms/req | load-gen CPU ms/req | other load, proxy / load core |"
    )
    lines = [header, "|" + "---|" * 12]
    for row in rows:
        r = row.result
        capped = " (time cap)" if r.capped else ""
        lines.append(
            f"| {row.target} | {row.phase} | {r.ok} / {r.errors}{capped} | {r.requests_per_s:.0f} "
            f"| {_fmt(percentile(r.latencies_ms, 50))} | {_fmt(percentile(r.latencies_ms, 99))} "
            f"| {_fmt(percentile(r.ttft_ms, 50))} | {_fmt(percentile(r.ttft_ms, 99))} "
            f"| {_fmt(row.per_request_ms(row.proxy_cpu_s), 3)} | {_fmt(row.per_request_ms(row.upstream_cpu_s), 3)} "
            f"| {_fmt(row.per_request_ms(row.loadgen_cpu_s), 3)} | {_foreign(row.foreign_load)} |"
        )
    return "\n".join(lines)


def _find(rows: Sequence[Row], target: str, kind: str, concurrency: int) -> Row | None:
    for row in rows:
        if row.target == target and row.result.spec.kind == kind and row.result.spec.concurrency == concurrency:
            return row
    return None


def _added(rows: Sequence[Row], target: str, kind: str, *, ttft: bool) -> float | None:
    mine, direct = _find(rows, target, kind, 1), _find(rows, DIRECT, kind, 1)
    if mine is None or direct is None:
        return None
    if ttft:
        a, b = percentile(mine.result.ttft_ms, 50), percentile(direct.result.ttft_ms, 50)
    else:
        a, b = percentile(mine.result.latencies_ms, 50), percentile(direct.result.latencies_ms, 50)
    return None if a is None or b is None else a - b


def summary(rows: Sequence[Row]) -> list[dict[str, Any]]:
    """Per proxy: added p50 and TTFT at concurrency 1, CPU per call per chat phase, and target checks."""
    proxies = [t for t in dict.fromkeys(r.target for r in rows) if t != DIRECT]
    out = []
    for proxy in proxies:
        chat_cpu = {
            r.result.spec.concurrency: r.per_request_ms(r.proxy_cpu_s)
            for r in rows
            if r.target == proxy and r.result.spec.kind == "chat"
        }
        known = [v for v in chat_cpu.values() if v is not None]
        worst_cpu = max(known) if known else None
        added_p50 = _added(rows, proxy, "chat", ttft=False)
        added_ttft = _added(rows, proxy, "stream", ttft=True)
        out.append(
            {
                "proxy": proxy,
                "added_p50_ms_c1": _round(added_p50),
                "added_ttft_p50_ms_c1": _round(added_ttft),
                "cpu_ms_per_call_by_concurrency": {c: _round(v) for c, v in chat_cpu.items()},
                "cpu_ms_per_call_worst": _round(worst_cpu),
                "meets_cpu_target": None if worst_cpu is None else worst_cpu <= TARGET_CPU_MS,
                "meets_added_p50_target": None if added_p50 is None else added_p50 <= TARGET_ADDED_P50_MS,
                "meets_added_ttft_target": None if added_ttft is None else added_ttft <= TARGET_ADDED_TTFT_MS,
            }
        )
    return out


def summary_table(items: Sequence[dict[str, Any]]) -> str:
    """The added-cost summary as a markdown table, with the issue's targets in the header."""

    verdict = {None: "-", True: "yes", False: "NO"}
    header = (
        f"| proxy | added p50 @ c=1 ms (target <= {TARGET_ADDED_P50_MS:g}) "
        f"| added TTFT p50 @ c=1 ms (target <= {TARGET_ADDED_TTFT_MS:g}) "
        f"| CPU ms/call per chat phase (target <= {TARGET_CPU_MS:g}) | meets p50 / TTFT / CPU |"
    )
    lines = [header, "|---|---|---|---|---|"]
    for item in items:
        cpu = ", ".join(f"c={c}: {_fmt(v, 3)}" for c, v in item["cpu_ms_per_call_by_concurrency"].items())
        verdicts = " / ".join(
            verdict[item[k]] for k in ("meets_added_p50_target", "meets_added_ttft_target", "meets_cpu_target")
        )
        lines.append(
            f"| {item['proxy']} | {_fmt(item['added_p50_ms_c1'])} | {_fmt(item['added_ttft_p50_ms_c1'])} "
            f"| {cpu} | {verdicts} |"
        )
    return "\n".join(lines)

"""Benchmark harness: the demo upstream directly vs. through the gateway, on 127.0.0.1.

Run from the repository root with the project's venv (options: `--help`, benchmarks/README.md):

    .venv/bin/python benchmarks/proxy_bench.py [--with-baseline] [--with-litellm] [--json FILE]

It starts two demo upstreams (one for plain chat, one that streams with a delay between
chunks so time to first token differs from total time) pinned with the load generator to
one core, and the proxies under test pinned to the other: the gateway with no governance steps
(`gateway_core.py`) and, on request, the shipped `gateway serve`, a bare Litestar + aiohttp
pass-through (`baseline_app.py`) and LiteLLM's proxy (`litellm_env.py`). Then, for each phase
(chat at each concurrency, streams) and each target in turn, it sends a fixed number of
requests under a time cap and reads every process's CPU time before and after. Prints the
command line and markdown tables; `--json` also writes the numbers to a file.

Not a general load tool: loopback only, closed loop, one request body per phase; every loop
stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import shlex
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import aiohttp
import msgspec
import yaml
from litellm_env import MASTER_KEY, LitellmSetupError, ensure_litellm, write_litellm_config
from proxy_load import PhaseResult, PhaseSpec, run_phase
from proxy_report import DIRECT, Row, merge_rows, results_table, summary, summary_table
from proxy_servers import Server, ServerError, busy_seconds_per_core, free_port, pinned, start_server

ROOT = Path(__file__).resolve().parent.parent
CHAT_MODEL = "demo-chat"
STREAM_MODEL = "demo-stream"
GATEWAY_KEY = "sk-bench-gateway"
"""A throwaway key for the benchmark's local gateway (loopback only, never deployed)."""
PROMPT = "Benchmark request: answer briefly."


@dataclass(frozen=True, slots=True)
class Target:
    """Something that speaks the OpenAI API at `base_url` (ending in /v1)."""

    name: str
    base_url: str
    api_key: str
    process: Server | None
    """The proxy process whose CPU time is charged to this target (None: direct to the upstream)."""

    def url_for(self, kind: str, upstreams: dict[str, Server]) -> str:
        if self.process is None:
            return f"{upstreams[kind].url}/v1/chat/completions"
        return f"{self.base_url}/chat/completions"


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("expected a positive integer")
    return value


def _parse_ints(text: str) -> tuple[int, ...]:
    values = tuple(int(part) for part in text.split(",") if part.strip())
    if not values or any(v < 1 for v in values):
        raise argparse.ArgumentTypeError("expected comma-separated positive integers, e.g. 1,16,64")
    return values


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--requests", type=int, default=2000, help="chat requests per concurrency level (0: no chat)")
    p.add_argument("--concurrency", type=_parse_ints, default=(1, 16, 64), help="chat concurrency levels")
    p.add_argument("--stream-requests", type=int, default=300, help="streamed requests per level (0: no streams)")
    p.add_argument("--stream-concurrency", type=_parse_ints, default=(1,), help="stream concurrency levels")
    p.add_argument("--chunk-delay-ms", type=float, default=3.0, help="stream upstream: delay between SSE frames")
    p.add_argument("--stream-max-tokens", type=int, default=10, help="content chunks per streamed answer")
    p.add_argument("--upstream-latency-ms", type=float, default=0.0, help="both upstreams: delay before first byte")
    p.add_argument(
        "--rounds", type=_positive, default=1, help="split each phase into N rounds interleaved across targets"
    )
    p.add_argument("--warmup", type=_positive, default=200, help="unmeasured chat requests per target first")
    p.add_argument("--time-cap", type=float, default=60.0, help="seconds after which any one phase stops")
    p.add_argument("--proxy-core", type=int, default=0, help="core for the gateway / LiteLLM")
    p.add_argument("--load-core", type=int, default=1, help="core for the load generator and upstreams")
    p.add_argument("--no-pin", action="store_true", help="do not pin processes to cores")
    p.add_argument(
        "--gateway-mode",
        choices=["core", "serve", "both"],
        default="core",
        help="core: the gateway without governance steps (benchmarks/gateway_core.py), the issue's targets; "
        "serve: the shipped `gateway serve` with whatever governance its config turns on; both: side by side",
    )
    p.add_argument(
        "--gateway-extra-config", type=Path, default=None, help="YAML merged (top level) into gateway-serve's config"
    )
    p.add_argument("--gateway-log-level", default="info", choices=["debug", "info", "warning", "error"])
    p.add_argument("--with-baseline", action="store_true", help="also measure a bare Litestar+aiohttp pass-through")
    p.add_argument("--with-litellm", action="store_true", help="also measure LiteLLM's proxy (installs it once)")
    p.add_argument("--litellm-install-timeout", type=float, default=900.0, help="seconds allowed for pip")
    p.add_argument("--work-dir", type=Path, default=ROOT / "benchmarks" / "work", help="logs, configs, venvs")
    p.add_argument("--json", type=Path, default=None, help="also write results as JSON to this file")
    return p


def _machine() -> dict[str, Any]:
    model = "unknown"
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=False, timeout=10).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                model = line.split(":", 1)[1].strip()
    return {
        "nproc": os.cpu_count(),
        "cpu_model": model,
        "python": platform.python_version(),
        "kernel": platform.release(),
    }


def _git_state() -> str:
    """The commit measured, and whether gateway/ had uncommitted changes."""

    def git(*argv: str) -> str:
        done = subprocess.run(["git", *argv], cwd=ROOT, capture_output=True, text=True, check=True, timeout=10)
        return done.stdout.strip()

    try:
        commit = git("rev-parse", "--short", "HEAD")
        dirty = git("status", "--porcelain", "--", "gateway")
    except (OSError, subprocess.SubprocessError):
        return "unknown (no git)"
    return f"{commit} with uncommitted changes in gateway/" if dirty else commit


def _load_avg() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def _gateway_config(
    path: Path, port: int, upstreams: dict[str, Server], log_level: str, overrides: Mapping[str, Any] | None = None
) -> Path:
    config: dict[str, Any] = {
        "server": {"host": "127.0.0.1", "port": port},
        "backends": [
            {"name": "bench-chat", "base_url": f"{upstreams['chat'].url}/v1", "models": [CHAT_MODEL]},
            {"name": "bench-stream", "base_url": f"{upstreams['stream'].url}/v1", "models": [STREAM_MODEL]},
        ],
        "keys": [{"key": GATEWAY_KEY, "id": "bench", "tenant": "bench", "roles": ["app"]}],
        "logging": {"level": log_level, "format": "json"},
    }
    config.update(overrides or {})
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def _bodies(args: argparse.Namespace) -> dict[str, bytes]:
    messages = [{"role": "user", "content": PROMPT}]
    return {
        "chat": msgspec.json.encode({"model": CHAT_MODEL, "messages": messages, "max_tokens": 16}),
        "stream": msgspec.json.encode(
            {"model": STREAM_MODEL, "messages": messages, "max_tokens": args.stream_max_tokens, "stream": True}
        ),
    }


@dataclass(frozen=True, slots=True)
class _Snapshot:
    """CPU seconds so far: each proxy, the upstreams, this process, and every core in total."""

    proxies: dict[str, float]
    upstreams: float
    loadgen: float
    busy: list[float]

    @classmethod
    def take(cls, targets: Sequence[Target], upstreams: dict[str, Server]) -> _Snapshot:
        return cls(
            proxies={t.name: t.process.cpu_seconds() for t in targets if t.process is not None},
            upstreams=sum(u.cpu_seconds() for u in upstreams.values()),
            loadgen=time.process_time(),
            busy=busy_seconds_per_core(),
        )

    def row_since(self, before: _Snapshot, target: Target, result: PhaseResult, cores: tuple[int, int] | None) -> Row:
        """The phase's row; `cores` (proxy core, load core) enables the foreign-load estimate."""
        proxies = {name: self.proxies[name] - before.proxies[name] for name in self.proxies}
        upstream_s, loadgen_s = self.upstreams - before.upstreams, self.loadgen - before.loadgen
        foreign = None
        if cores is not None and result.wall_s > 0:
            ours = (sum(proxies.values()), upstream_s + loadgen_s)
            proxy_core, load_core = (
                max(0.0, (self.busy[core] - before.busy[core] - mine) / result.wall_s)
                for core, mine in zip(cores, ours, strict=True)
            )
            foreign = (proxy_core, load_core)
        return Row(target.name, result, proxies.get(target.name), upstream_s, loadgen_s, foreign)


async def _measure(
    args: argparse.Namespace, targets: Sequence[Target], upstreams: dict[str, Server], cores: tuple[int, int] | None
) -> tuple[list[Row], list[str]]:
    bodies = _bodies(args)
    specs = [PhaseSpec("chat", c, args.requests, args.time_cap) for c in args.concurrency if args.requests > 0]
    specs += [
        PhaseSpec("stream", c, args.stream_requests, args.time_cap)
        for c in args.stream_concurrency
        if args.stream_requests > 0
    ]
    warmups = [PhaseSpec("chat", 8, args.warmup, args.time_cap), PhaseSpec("stream", 4, 20, args.time_cap)]
    warmups = [w for w in warmups if any(s.kind == w.kind for s in specs)]
    most = max((s.concurrency for s in specs), default=1)
    rows: list[Row] = []
    skipped: list[str] = []
    connector = aiohttp.TCPConnector(limit=most * len(targets) + 8, force_close=False)
    async with aiohttp.ClientSession(connector=connector, auto_decompress=False) as session:
        ready: dict[str, set[str]] = {}
        for target in targets:
            ready[target.name] = set()
            headers = {"authorization": f"Bearer {target.api_key}", "content-type": "application/json"}
            for spec in warmups:
                url = target.url_for(spec.kind, upstreams)
                result = await run_phase(session, url, bodies[spec.kind], headers, spec)
                if result.errors:
                    why = f"{target.name}: {spec.kind} not measured, warm-up had {result.errors} errors; first: "
                    skipped.append(why + str(result.first_error))
                    print(skipped[-1], file=sys.stderr)
                else:
                    ready[target.name].add(spec.kind)
        for spec in specs:
            live = [t for t in targets if spec.kind in ready[t.name]]
            parts: dict[str, list[Row]] = {t.name: [] for t in live}
            # Split the budget into rounds, interleaved across targets, so bursts of load from
            # other processes fall on every target alike.
            part = replace(spec, requests=max(1, spec.requests // args.rounds))
            for _ in range(args.rounds):
                for target in live:
                    headers = {"authorization": f"Bearer {target.api_key}", "content-type": "application/json"}
                    before = _Snapshot.take(targets, upstreams)
                    result = await run_phase(
                        session, target.url_for(spec.kind, upstreams), bodies[spec.kind], headers, part
                    )
                    parts[target.name].append(
                        _Snapshot.take(targets, upstreams).row_since(before, target, result, cores)
                    )
            for target in live:
                row = merge_rows(parts[target.name], spec)
                rows.append(row)
                print(
                    f"  {target.name:<8} {row.phase:<12} {row.result.ok:>5} ok {row.result.errors:>3} err "
                    f"{row.result.requests_per_s:>7.0f} req/s",
                    file=sys.stderr,
                )
    return rows, skipped


def _gateway_targets(mode: str) -> list[str]:
    return {"core": ["gateway"], "serve": ["gateway-serve"], "both": ["gateway", "gateway-serve"]}[mode]


def _start_gateway(args: argparse.Namespace, name: str, upstreams: dict[str, Server], core: int | None) -> Server:
    """`gateway` runs the core without governance steps; `gateway-serve` is the shipped `gateway serve`."""
    work: Path = args.work_dir
    port = free_port()
    overrides: dict[str, Any] = {}
    if name == "gateway-serve":
        # Keep the audit database in the scratch folder, and rate limits checked on every call
        # but far above what the benchmark sends, unless the extra config says otherwise.
        overrides["audit"] = {"database_url": f"sqlite+aiosqlite:///{(work / 'bench-audit.db').resolve()}"}
        overrides["ratelimits"] = {
            "default": {"requests_per_minute": 10**9, "tokens_per_minute": 10**12, "concurrent": 10_000}
        }
        if args.gateway_extra_config is not None:
            overrides.update(yaml.safe_load(args.gateway_extra_config.read_text()) or {})
    config = _gateway_config(work / f"{name}.yaml", port, upstreams, args.gateway_log_level, overrides)
    if name == "gateway":
        argv = [sys.executable, str(Path(__file__).with_name("gateway_core.py")), "--config", str(config)]
    else:
        argv = [sys.executable, "-m", "gateway", "serve", "--config", str(config), "--workers", "1"]
    return start_server(name, pinned(argv, core), port=port, health_path="/healthz", log_dir=work, cwd=ROOT)


def _start_baseline(work: Path, upstreams: dict[str, Server], core: int | None) -> Server:
    port = free_port()
    argv = [sys.executable, str(Path(__file__).with_name("baseline_app.py")), "--port", str(port)]
    argv += ["--upstream", f"{CHAT_MODEL}={upstreams['chat'].url}/v1"]
    argv += ["--upstream", f"{STREAM_MODEL}={upstreams['stream'].url}/v1"]
    return start_server("baseline", pinned(argv, core), port=port, health_path="/healthz", log_dir=work)


def _start_litellm(args: argparse.Namespace, upstreams: dict[str, Server], core: int | None) -> Server:
    work: Path = args.work_dir
    env = ensure_litellm(
        work / "litellm-venv", log_path=work / "litellm-install.log", timeout_s=args.litellm_install_timeout
    )
    config = write_litellm_config(
        work / "litellm.yaml",
        {CHAT_MODEL: f"{upstreams['chat'].url}/v1", STREAM_MODEL: f"{upstreams['stream'].url}/v1"},
    )
    port = free_port()
    quiet = {
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",  # no fetch of the price list from GitHub
        "LITELLM_LOG": "ERROR",
        "LITELLM_TELEMETRY": "False",
    }
    argv = [str(env.litellm), "--config", str(config), "--host", "127.0.0.1", "--port", str(port)]
    argv += ["--num_workers", "1"]
    server = start_server(
        "litellm",
        pinned(argv, core),
        port=port,
        health_path="/health/liveliness",
        log_dir=work,
        env={**os.environ, **quiet},
        startup_timeout_s=180.0,
    )
    print(f"LiteLLM {env.version()} on {server.url}", file=sys.stderr)
    return server


def _start_targets(
    args: argparse.Namespace, servers: list[Server], notes: list[str]
) -> tuple[dict[str, Server], list[Target]]:
    """Start upstreams and proxies (appending each to `servers` for the caller to stop)."""
    proxy_core = None if args.no_pin else args.proxy_core
    load_core = None if args.no_pin else args.load_core
    work: Path = args.work_dir
    upstreams: dict[str, Server] = {}
    for kind, extra in (("chat", []), ("stream", ["--chunk-delay-ms", str(args.chunk_delay_ms)])):
        port = free_port()
        cmd = [sys.executable, "-m", "gateway", "demo-upstream", "--port", str(port)]
        cmd += ["--latency-ms", str(args.upstream_latency_ms), *extra]
        upstreams[kind] = start_server(
            f"upstream-{kind}", pinned(cmd, load_core), port=port, health_path="/health", log_dir=work
        )
        servers.append(upstreams[kind])
    targets = [Target(DIRECT, "", "sk-unused", None)]
    for name in _gateway_targets(args.gateway_mode):
        gateway = _start_gateway(args, name, upstreams, proxy_core)
        servers.append(gateway)
        targets.append(Target(name, f"{gateway.url}/v1", GATEWAY_KEY, gateway))
    if args.with_baseline:
        baseline = _start_baseline(work, upstreams, proxy_core)
        servers.append(baseline)
        targets.append(Target("baseline", f"{baseline.url}/v1", "sk-unused", baseline))
    if args.with_litellm:
        try:
            litellm = _start_litellm(args, upstreams, proxy_core)
        except (LitellmSetupError, ServerError) as exc:
            notes.append(f"LiteLLM not measured: {exc}")
            print(notes[-1], file=sys.stderr)
        else:
            servers.append(litellm)
            targets.append(Target("litellm", f"{litellm.url}/v1", MASTER_KEY, litellm))
    return upstreams, targets


def _report(args: argparse.Namespace, rows: Sequence[Row], notes: Sequence[str], load_before: str) -> None:
    """Print the command, conditions and tables; write the JSON file when asked."""
    command = shlex.join(sys.orig_argv)
    load_after = _load_avg()
    items = summary(rows)
    machine = {**_machine(), "code": _git_state()}
    pinning = (
        "unpinned"
        if args.no_pin
        else f"proxy on core {args.proxy_core}; load generator + upstreams on core {args.load_core}"
    )
    print(f"Command: `{command}`\n")
    print(f"Code: {machine['code']}.")
    print(f"Machine: {machine['nproc']} cores, {machine['cpu_model']}, Python {machine['python']}; {pinning}.")
    print(f"Load average (1/5/15 min) before: {load_before}; after: {load_after}.\n")
    print(results_table(rows))
    print()
    print(summary_table(items))
    for note in notes:
        print(f"\nNote: {note}")
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "command": command,
            "machine": machine,
            "pinning": pinning,
            "load_average_before": load_before,
            "load_average_after": load_after,
            "parameters": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
            "rows": [row.to_json() for row in rows],
            "summary": items,
            "notes": list(notes),
        }
        args.json.write_text(json.dumps(payload, indent=2) + "\n")


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    args.work_dir.mkdir(parents=True, exist_ok=True)
    cores = None if args.no_pin else (args.proxy_core, args.load_core)
    if cores is not None:
        os.sched_setaffinity(0, {args.load_core})
    load_before = _load_avg()
    print(f"load average before: {load_before}", file=sys.stderr)
    servers: list[Server] = []
    notes: list[str] = []
    try:
        upstreams, targets = _start_targets(args, servers, notes)
        with asyncio.Runner(loop_factory=_loop_factory()) as runner:
            rows, skipped = runner.run(_measure(args, targets, upstreams, cores))
    finally:
        for server in reversed(servers):
            server.stop()
    _report(args, rows, [*notes, *skipped], load_before)
    return 0


def _loop_factory() -> Any:
    try:
        import uvloop  # noqa: PLC0415 - optional, comes with uvicorn[standard]
    except ImportError:
        return None
    return uvloop.new_event_loop


if __name__ == "__main__":
    raise SystemExit(main())

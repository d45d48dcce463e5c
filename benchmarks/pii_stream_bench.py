"""Time to first token through the gateway with PII stream redaction on versus off.

Starts the demo upstream in echo mode (it streams the prompt back one word per SSE frame, with
`--chunk-delay-ms` between frames, like a model generating) and two gateways that differ only in
`pii.enabled`. Both run the shipped policy and the SQLite audit log; rate limits are off so the
run is never throttled. Each streamed call carries a 50-word prompt with a name, an email and a
phone number, made unique per call so the findings cache never answers for it: with PII on,
every call pays a prompt scan, pseudonymization, the windowed answer scan and the restore.

Calls alternate between the two gateways (so slow drift in background load hits both alike),
one at a time, after a warm-up. TTFT is the time from sending the request to the first SSE event
with non-empty `delta.content`. Also reported: the gateway's own `pii.scan` step time, read from
its `request.completed` log lines. Bounded: `--count` calls per gateway or `--time-cap` seconds.

    .venv/bin/python benchmarks/pii_stream_bench.py [--count 100] [--chunk-delay-ms 20] [--json FILE]

Target (issue 3): stream redaction adds at most 20 ms to TTFT (p50). Check `uptime` first.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml

ROOT = Path(__file__).resolve().parents[1]
MODEL = "bench-echo"
KEY = "sk-bench-pii"
TARGET_ADDED_TTFT_MS = 20.0
PROMPT = (
    "Please draft a short reply to {name} ({email}, {phone}) about ticket {n}: apologise for the delay, "
    "confirm the refund of the duplicate charge will arrive within five business days, and thank them "
    "for their patience. Keep it friendly and under a hundred words."
)
PEOPLE = (
    ("Maria Garcia", "maria.garcia@example.com", "+1 415-555-0134"),
    ("David Chen", "david.chen@example.org", "+44 20 7946 0958"),
    ("Aisha Okafor", "aisha.okafor@example.net", "+1 212-555-0187"),
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(slots=True)
class _Process:
    name: str
    proc: subprocess.Popen[bytes]
    url: str
    log_path: Path

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def _start(name: str, args: list[str], *, port: int, health: str, work: Path, timeout_s: float) -> _Process:
    log_path = work / f"{name}.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gateway", *args], stdout=log, stderr=subprocess.STDOUT, cwd=ROOT
        )
    started = _Process(name, proc, f"http://127.0.0.1:{port}", log_path)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited with {proc.returncode}:\n{log_path.read_text()[-3000:]}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(started.url + health, timeout=1.0).status_code < 500:
                return started
        time.sleep(0.2)
    started.stop()
    raise RuntimeError(f"{name} did not answer within {timeout_s} s:\n{log_path.read_text()[-3000:]}")


def _policy_dir(work: Path) -> Path:
    """The shipped policies, with the benchmark model added to the license catalog."""
    target = work / "policies"
    shutil.copytree(ROOT / "policies", target, dirs_exist_ok=True)
    catalog_path = target / "data" / "models.json"
    catalog = json.loads(catalog_path.read_text())
    catalog["models"][MODEL] = {"license": "demo", "modalities": ["text"], "kind": "chat"}
    catalog_path.write_text(json.dumps(catalog, indent=2))
    return target


def _gateway_config(work: Path, name: str, upstream: str, policies: Path, *, pii: bool) -> tuple[Path, int]:
    port = _free_port()
    config = {
        "server": {"host": "127.0.0.1", "port": port},
        "backends": [{"name": "echo", "base_url": f"{upstream}/v1", "models": [MODEL], "timeout_s": 30}],
        "keys": [{"key": KEY, "id": "bench", "tenant": "acme", "roles": ["app"]}],
        "audit": {"database_url": f"sqlite+aiosqlite:///{work}/{name}-audit.db"},
        "policy": {"dir": str(policies)},
        "ratelimits": {"enabled": False},
        "pii": {"enabled": pii},
        "logging": {"level": "info", "format": "json"},
    }
    path = work / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config))
    return path, port


def _prompt(n: int) -> str:
    name, email, phone = PEOPLE[n % len(PEOPLE)]
    return PROMPT.format(name=name, email=email, phone=phone, n=10_000 + n)


def _ttft_ms(client: httpx.Client, url: str, prompt: str) -> tuple[float, float, str]:
    """One streamed call: (TTFT ms, total ms, the answer text)."""
    body = {"model": MODEL, "stream": True, "messages": [{"role": "user", "content": prompt}]}
    began = time.perf_counter()
    first: float | None = None
    pieces: list[str] = []
    with client.stream("POST", f"{url}/v1/chat/completions", json=body) as response:
        response.raise_for_status()
        for line in response.iter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            chunk = json.loads(line[6:])
            if "error" in chunk:
                raise RuntimeError(f"stream ended with an error: {chunk['error'].get('code')}")
            for choice in chunk.get("choices") or ():
                content = (choice.get("delta") or {}).get("content")
                if content:
                    pieces.append(content)
                    if first is None:
                        first = time.perf_counter()
    end = time.perf_counter()
    if first is None:
        raise RuntimeError("the stream carried no content")
    return (first - began) * 1000, (end - began) * 1000, "".join(pieces)


def _percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _summary(samples: list[float]) -> dict[str, float]:
    return {
        "n": len(samples),
        "p50_ms": round(statistics.median(samples), 2),
        "p99_ms": round(_percentile(samples, 0.99), 2),
        "mean_ms": round(statistics.fmean(samples), 2),
    }


def _step_ms(log_path: Path, step: str) -> list[float]:
    values = []
    for line in log_path.read_text(errors="replace").splitlines():
        if '"request.completed"' not in line:
            continue
        with contextlib.suppress(ValueError):
            steps = json.loads(line).get("steps_ms") or {}
            if step in steps:
                values.append(float(steps[step]))
    return values


@contextlib.contextmanager
def _servers(args: argparse.Namespace, work: Path) -> Iterator[dict[str, _Process]]:
    started: list[_Process] = []
    try:
        port = _free_port()
        up_args = ["demo-upstream", "--port", str(port), "--mode", "echo", "--chunk-delay-ms", str(args.chunk_delay_ms)]
        upstream = _start("upstream", up_args, port=port, health="/health", work=work, timeout_s=args.start_timeout_s)
        started.append(upstream)
        policies = _policy_dir(work)
        gateways = {}
        for name, pii in (("pii-off", False), ("pii-on", True)):
            path, gw_port = _gateway_config(work, name, upstream.url, policies, pii=pii)
            serve = ["serve", "--config", str(path), "--workers", "1"]
            gateways[name] = _start(
                name, serve, port=gw_port, health="/healthz", work=work, timeout_s=args.start_timeout_s
            )
            started.append(gateways[name])
        yield gateways
    finally:
        for process in reversed(started):
            process.stop()


def run(args: argparse.Namespace) -> dict[str, Any]:
    work = Path(args.work_dir) if args.work_dir else Path(tempfile.mkdtemp(prefix="pii-stream-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    ttft: dict[str, list[float]] = {"pii-off": [], "pii-on": []}
    total: dict[str, list[float]] = {"pii-off": [], "pii-on": []}
    differing = 0
    with (
        _servers(args, work) as gateways,
        httpx.Client(headers={"authorization": f"Bearer {KEY}"}, timeout=60) as client,
    ):
        for n in range(args.warmup):
            for gateway in gateways.values():
                _ttft_ms(client, gateway.url, _prompt(-1 - n))
        deadline = time.monotonic() + args.time_cap
        for n in range(args.count):
            if time.monotonic() > deadline:
                break
            prompt = _prompt(n)
            order = ("pii-off", "pii-on") if n % 2 == 0 else ("pii-on", "pii-off")
            for name in order:
                first_ms, total_ms, answer = _ttft_ms(client, gateways[name].url, prompt)
                if answer != prompt:
                    if name == "pii-off":
                        raise RuntimeError("the echo upstream did not echo the prompt")
                    differing += 1
                ttft[name].append(first_ms)
                total[name].append(total_ms)
        scan_ms = _step_ms(gateways["pii-on"].log_path, "pii.scan")[args.warmup :]
        apply_ms = _step_ms(gateways["pii-on"].log_path, "pii.apply")[args.warmup :]
    off, on = _summary(ttft["pii-off"]), _summary(ttft["pii-on"])
    return {
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "load_average": os.getloadavg(),
        "cpus": os.cpu_count(),
        "chunk_delay_ms": args.chunk_delay_ms,
        "ttft": {"pii-off": off, "pii-on": on},
        "total": {name: _summary(values) for name, values in total.items()},
        "added_ttft_ms": {
            "p50": round(on["p50_ms"] - off["p50_ms"], 2),
            "p99": round(on["p99_ms"] - off["p99_ms"], 2),
        },
        "answers_differing_from_prompt": differing,
        "gateway_steps_ms": {"pii.scan": _summary(scan_ms), "pii.apply": _summary(apply_ms)} if scan_ms else {},
        "work_dir": str(work),
    }


def _print(result: dict[str, Any]) -> None:
    print(f"command: {result['command']}")
    load = ", ".join(f"{value:.2f}" for value in result["load_average"])
    print(f"cpus {result['cpus']}, load average {load}, upstream chunk delay {result['chunk_delay_ms']} ms")
    print(f"{'':10} {'n':>4} {'TTFT p50':>9} {'TTFT p99':>9} {'total p50':>10} {'total p99':>10}")
    for name in ("pii-off", "pii-on"):
        t, w = result["ttft"][name], result["total"][name]
        print(
            f"{name:10} {t['n']:>4} {t['p50_ms']:>9.2f} {t['p99_ms']:>9.2f} {w['p50_ms']:>10.2f} {w['p99_ms']:>10.2f}"
        )
    added = result["added_ttft_ms"]
    verdict = "meets" if added["p50"] <= TARGET_ADDED_TTFT_MS else "MISSES"
    print(f"added TTFT: p50 {added['p50']:.2f} ms, p99 {added['p99']:.2f} ms ({verdict} the <= 20 ms target at p50)")
    if result["answers_differing_from_prompt"]:
        # A name the prompt scan missed but the answer scan found stays hidden in the answer.
        print(f"pii-on answers that differ from the echoed prompt: {result['answers_differing_from_prompt']}")
    for step, stats in result["gateway_steps_ms"].items():
        print(f"gateway step {step}: p50 {stats['p50_ms']:.2f} ms, p99 {stats['p99_ms']:.2f} ms ({stats['n']} calls)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--count", type=int, default=100, help="streamed calls per gateway")
    parser.add_argument("--warmup", type=int, default=5, help="unmeasured calls per gateway first")
    parser.add_argument("--chunk-delay-ms", type=float, default=20.0, help="upstream delay between SSE frames")
    parser.add_argument("--time-cap", type=float, default=300.0, help="stop measuring after this many seconds")
    parser.add_argument("--start-timeout-s", type=float, default=120.0, help="wait this long for each server")
    parser.add_argument("--work-dir", default=None, help="configs and logs (default: a new temporary directory)")
    parser.add_argument("--json", type=Path, default=None, help="also write the results as JSON")
    args = parser.parse_args()
    result = run(args)
    _print(result)
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()

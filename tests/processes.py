"""Real processes for tests: the demo upstream and the gateway, on free loopback ports.

Not mocks: each is the shipped command (`python -m gateway ...`) in its own process, so e2e
tests drive exactly what an operator runs.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(url: str, proc: subprocess.Popen[bytes], timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            out = proc.stdout.read().decode() if proc.stdout else ""
            raise RuntimeError(f"process exited with {proc.returncode} before {url} answered:\n{out[-4000:]}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=1.0).status_code < 500:
                return
        time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer within {timeout_s} s")


@dataclass
class Running:
    proc: subprocess.Popen[bytes]
    port: int
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def _start(args: list[str], port: int, health: str, log_path: Path, env: Mapping[str, str] | None) -> Running:
    with log_path.open("wb") as log_file:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gateway", *args],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
        )
    running = Running(proc, port, log_path)
    try:
        wait_http(f"{running.url}{health}", proc)
    except Exception:
        running.stop()
        raise RuntimeError(f"failed to start {' '.join(args)}:\n{running.log()[-4000:]}") from None
    return running


def start_upstream(tmp: Path, *extra: str, name: str = "upstream") -> Running:
    port = free_port()
    return _start(["demo-upstream", "--port", str(port), *extra], port, "/health", tmp / f"{name}.log", None)


def start_gateway(
    tmp: Path, config: dict[str, Any], *, name: str = "gateway", workers: int = 1, env: Mapping[str, str] | None = None
) -> Running:
    port = free_port()
    config = {**config, "server": {**config.get("server", {}), "host": "127.0.0.1", "port": port}}
    config.setdefault("logging", {"level": "info", "format": "json"})
    path = tmp / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config))
    return _start(
        ["serve", "--config", str(path), "--workers", str(workers)], port, "/healthz", tmp / f"{name}.log", env
    )


@contextlib.contextmanager
def running(r: Running) -> Iterator[Running]:
    try:
        yield r
    finally:
        r.stop()

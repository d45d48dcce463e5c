"""Processes under test: started pinned to a CPU core, waited for, measured, and stopped.

Each server (demo upstream, gateway, LiteLLM) runs as its own process, started with
`taskset -c CORE` so the proxy under test and the load side never share a core. CPU time is
read from the process and its descendants (psutil, i.e. /proc/PID/stat utime+stime), so a
server that forks workers is still fully counted.

Not a supervisor: no restarts; a process that dies fails the run with its log's tail.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil


class ServerError(Exception):
    """A server did not come up; the message holds the tail of its log."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pinned(argv: Sequence[str], core: int | None) -> list[str]:
    """`argv` prefixed with `taskset -c CORE` (unchanged when `core` is None)."""
    if core is None:
        return list(argv)
    taskset = shutil.which("taskset")
    if taskset is None:
        raise ServerError("`taskset` (util-linux) is needed to pin processes; pass --no-pin to run unpinned")
    return [taskset, "-c", str(core), *argv]


@dataclass(slots=True)
class Server:
    """A started server process and where it listens."""

    name: str
    proc: subprocess.Popen[bytes]
    port: int
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def cpu_seconds(self) -> float:
        """User + system CPU time of the process and all its live descendants."""
        try:
            root = psutil.Process(self.proc.pid)
            family = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return 0.0
        total = 0.0
        for member in family:
            with contextlib.suppress(psutil.NoSuchProcess):
                times = member.cpu_times()
                total += times.user + times.system
        return total

    def stop(self) -> None:
        if self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=15)


def busy_seconds_per_core() -> list[float]:
    """CPU seconds each core has spent not idle since boot (all processes, kernel included)."""
    return [t.user + t.nice + t.system + t.irq + t.softirq + t.steal for t in psutil.cpu_times(percpu=True)]


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - our own loopback URL
            return int(response.status) < 500
    except urllib.error.HTTPError as exc:
        return exc.code < 500
    except (urllib.error.URLError, OSError):
        return False


def start_server(
    name: str,
    argv: Sequence[str],
    *,
    port: int,
    health_path: str,
    log_dir: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    startup_timeout_s: float = 60.0,
) -> Server:
    """Start `argv`, wait until `GET health_path` answers below 500, and return the server."""
    log_path = log_dir / f"{name}.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=dict(env) if env else None, cwd=cwd)
    server = Server(name, proc, port, log_path)
    deadline = time.monotonic() + startup_timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ServerError(f"{name} exited with {proc.returncode} before answering:\n{server.log_tail()}")
        if _answers(server.url + health_path):
            return server
        time.sleep(0.2)
    server.stop()
    raise ServerError(f"{name} did not answer {health_path} within {startup_timeout_s:.0f} s:\n{server.log_tail()}")

"""LiteLLM's proxy as a comparison point: its own venv under benchmarks/work/, and its config.

Only for `proxy_bench.py --with-litellm`. LiteLLM never enters the project's own venv: it is
installed with `python3 -m venv` + `pip install 'litellm[proxy]'` into a separate folder that is
reused on later runs. This module builds that venv and the LiteLLM config pointing at the demo
upstream; starting and measuring the proxy is the harness's job, as for the gateway.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

LITELLM_SPEC = "litellm[proxy]"
MASTER_KEY = "sk-bench-litellm"
"""A throwaway key for the benchmark's local LiteLLM proxy (loopback only, never deployed)."""


class LitellmSetupError(Exception):
    """The LiteLLM venv could not be built; the message says which step failed and why."""


@dataclass(frozen=True, slots=True)
class LitellmEnv:
    """A venv holding LiteLLM's proxy."""

    root: Path

    @property
    def python(self) -> Path:
        return self.root / "bin" / "python"

    @property
    def litellm(self) -> Path:
        return self.root / "bin" / "litellm"

    def is_ready(self) -> bool:
        return self.litellm.exists()

    def version(self) -> str:
        out = subprocess.run(
            [str(self.python), "-c", "import importlib.metadata as m; print(m.version('litellm'))"],
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        return out.stdout.strip() or "unknown"


def ensure_litellm(root: Path, *, log_path: Path, timeout_s: float = 900.0) -> LitellmEnv:
    """Create the venv at `root` and install LiteLLM's proxy into it, unless already there.

    Raises `LitellmSetupError` with pip's last output lines when a step fails or times out.
    """
    env = LitellmEnv(root)
    if env.is_ready():
        return env
    python3 = shutil.which("python3")
    if python3 is None:
        raise LitellmSetupError("no `python3` on PATH to create the LiteLLM venv")
    root.parent.mkdir(parents=True, exist_ok=True)
    steps = [
        [python3, "-m", "venv", str(root)],
        [str(env.python), "-m", "pip", "install", "--upgrade", "pip"],
        [str(env.python), "-m", "pip", "install", LITELLM_SPEC],
    ]
    deadline = time.monotonic() + timeout_s
    with log_path.open("ab") as log:
        for step in steps:
            remaining = deadline - time.monotonic()
            log.write(f"$ {' '.join(step)}\n".encode())
            log.flush()
            try:
                done = subprocess.run(
                    step, stdout=log, stderr=subprocess.STDOUT, timeout=max(remaining, 1), check=False
                )
            except subprocess.TimeoutExpired as exc:
                raise LitellmSetupError(f"`{' '.join(step)}` did not finish within {timeout_s:.0f} s") from exc
            if done.returncode != 0:
                tail = log_path.read_text(errors="replace").splitlines()[-15:]
                raise LitellmSetupError(
                    f"`{' '.join(step)}` exited with {done.returncode}; last lines of {log_path}:\n" + "\n".join(tail)
                )
    if not env.is_ready():
        raise LitellmSetupError(f"pip finished but {env.litellm} does not exist")
    return env


def write_litellm_config(path: Path, routes: Mapping[str, str]) -> Path:
    """A LiteLLM proxy config forwarding each model to its upstream (`/v1` base URL) as OpenAI.

    Logging, callbacks and the database stay off, so the comparison is pass-through cost.
    """
    config = {
        "model_list": [
            {
                "model_name": model,
                "litellm_params": {
                    "model": f"openai/{model}",
                    "api_base": base_url,
                    "api_key": "sk-unused-by-demo-upstream",
                },
            }
            for model, base_url in routes.items()
        ],
        "litellm_settings": {"drop_params": True, "set_verbose": False},
        "general_settings": {"master_key": MASTER_KEY},
    }
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path

"""Policy settings: the `policy:` section of the gateway configuration.

A plain pydantic model (not `BaseSettings`): `gateway/config.py` nests it and is the only place
that reads files and the environment. Attribute docstrings are the operator's documentation.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field


class PolicySettings(BaseModel):
    """How policy is evaluated, reloaded and shadowed."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    """Turn policy off. Only for benchmarks and development: a governed deployment keeps it on."""
    engine: Literal["embedded", "opa"] = "embedded"
    """`embedded`: Rego evaluated in-process (regorus). `opa`: an OPA server at `opa_url`."""
    dir: Path = Path("policies")
    """The policy directory: `*.rego` modules and `*.json` data (OPA's loader layout)."""
    opa_url: AnyHttpUrl = AnyHttpUrl("http://127.0.0.1:8181")
    """OPA server base URL, used when `engine: opa`."""
    decision_path: str = Field(default="gateway/decision", pattern=r"^[A-Za-z0-9_]+(/[A-Za-z0-9_]+)*$")
    """Path of the decision document under OPA's `/v1/data/`."""
    failure: Literal["closed", "open"] = "closed"
    """`closed`: an engine failure or timeout refuses the call (503 policy_unavailable).
    `open`: the call proceeds with reason `policy.unavailable` (logged and audited)."""
    timeout_s: float = Field(default=0.5, gt=0)
    """Longest wait for a decision from OPA (or from an offloaded embedded evaluation)."""
    shadow_dir: Path | None = None
    """A candidate policy directory evaluated beside the active one and never enforced."""
    reload: bool = True
    """Watch `dir` (and `shadow_dir`) and swap in new versions without a restart."""
    reload_debounce_ms: int = Field(default=100, ge=10, le=5000)
    """How long file changes must settle before a reload is attempted."""
    run_tests_on_reload: bool = True
    """Run the set's `*_test.rego` tests before swapping a version in; failing sets are refused."""
    embedded_offload: bool = False
    """Evaluate embedded decisions in worker threads (enforces `timeout_s`, costs about 0.1 ms)."""
    embedded_threads: int = Field(default=2, ge=1, le=64)
    """Worker threads for offloaded embedded evaluation."""

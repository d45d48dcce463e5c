"""Set-up shared by e2e modules that run gateways of their own configuration.

Starting several gateway processes at once (each loads its policy set, some a spaCy model),
copying the shipped policies to a directory a test may edit, reading what the demo upstream
received, and reading the audit log through the officer API. Not a fixture module: the
modules that use these keep their own fixtures, so their gateways live as long as they need.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import httpx

from tests.processes import Running, free_port, start_gateway, start_upstream, wait_http

__all__ = ["Running", "free_port", "start_gateway", "start_upstream", "wait_http"]

SHIPPED_POLICIES = Path(__file__).parents[2] / "policies"

_T = TypeVar("_T")


def copy_policies(target: Path, *, models: Mapping[str, Mapping[str, Any]] | None = None) -> Path:
    """A copy of the shipped policies at `target`, with `models` added to the catalog."""
    shutil.copytree(SHIPPED_POLICIES, target)
    if models:
        path = target / "data" / "models.json"
        catalog = json.loads(path.read_text())
        catalog["models"].update({name: dict(entry) for name, entry in models.items()})
        path.write_text(json.dumps(catalog, indent=2))
    return target


def backend(name: str, upstream: Running, models: list[str], **extra: Any) -> dict[str, Any]:
    """A backend entry pointing at a demo upstream."""
    return {
        "name": name,
        "base_url": f"{upstream.url}/v1",
        "models": models,
        "timeout_s": 10,
        "connect_timeout_s": 2,
        **extra,
    }


@contextlib.contextmanager
def processes_running(
    tmp: Path,
    *,
    upstreams: Mapping[str, tuple[str, ...]] | None = None,
    gateways: Mapping[str, Callable[[Mapping[str, Running]], dict[str, Any]]] | None = None,
    env: Mapping[str, str] | None = None,
) -> Iterator[dict[str, Running]]:
    """Start demo upstreams (name -> extra CLI args), then gateways (name -> config builder), in parallel.

    Each gateway's config builder gets the running upstreams by name. Everything started is
    stopped on exit, also when a later start fails.
    """
    started: dict[str, Running] = {}
    try:
        # Two at a time: start-up is CPU-bound (imports, Rego tests, spaCy) and CI machines have two cores.
        with ThreadPoolExecutor(max_workers=2) as pool:
            ups = {name: pool.submit(start_upstream, tmp, *args, name=name) for name, args in (upstreams or {}).items()}
            for name, future in ups.items():
                started[name] = future.result()
            configs = {name: build(dict(started)) for name, build in (gateways or {}).items()}
            gws = {
                name: pool.submit(start_gateway, tmp, config, name=name, env=env) for name, config in configs.items()
            }
            errors = []
            for name, future in gws.items():
                try:
                    started[name] = future.result()
                except RuntimeError as exc:
                    errors.append(exc)
            if errors:
                raise errors[0]
        yield started
    finally:
        for running in started.values():
            running.stop()


def received(upstream: Running) -> list[dict[str, Any]]:
    """The `/v1` POSTs the demo upstream received (path, JSON body, headers)."""
    return list(httpx.get(f"{upstream.url}/_demo/requests", timeout=5).json()["requests"])


def forget_received(upstream: Running) -> None:
    httpx.delete(f"{upstream.url}/_demo/requests", timeout=5).raise_for_status()


def bodies_mentioning(upstream: Running, marker: str) -> list[dict[str, Any]]:
    """Bodies of received requests whose JSON contains `marker` anywhere."""
    return [r["body"] for r in received(upstream) if marker in json.dumps(r["body"])]


def wait_for(check: Callable[[], _T | None], *, timeout_s: float, interval_s: float = 0.05) -> _T:
    """Poll `check` until it returns something other than None (or False); its value."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if value is not None and value is not False:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"condition not met within {timeout_s} s")
        time.sleep(interval_s)


def audit_events(gateway: Running, auditor_key: str, **filters: str) -> list[dict[str, Any]]:
    """Audit events matching the filters, newest first, through the officer API."""
    response = httpx.get(
        f"{gateway.url}/audit/events",
        params={"limit": 100, **filters},
        headers={"Authorization": f"Bearer {auditor_key}"},
        timeout=10,
    )
    response.raise_for_status()
    return list(response.json()["data"])

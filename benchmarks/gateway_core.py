"""Serve the gateway with no governance steps: the core proxy that issue 2's targets are about.

`gateway serve` starts every governance part its configuration enables (rate limits, PII,
policy, audit). The benchmark's targets for the core ("governance steps off") need the same
app without them, so this launcher builds it with `create_app(settings, governance=...)` and an
empty `Governance`, and serves it exactly as `gateway serve --workers 1` does (uvicorn, uvloop,
httptools, no access log). Everything else is the shipped code path: authentication,
validation, routing, forwarding, normalisation, request log, metrics.

    python benchmarks/gateway_core.py --config benchmarks/work/gateway.yaml

Benchmark use only; not a way to run the gateway in production.
"""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path

import uvicorn

from gateway.app import create_app
from gateway.config import Settings, load_settings
from gateway.governance import Governance
from gateway.observability import configure_logging


@asynccontextmanager
async def no_governance(settings: Settings, backend_tags: Mapping[str, Mapping[str, str]]) -> AsyncIterator[Governance]:
    """A governance factory that starts nothing: no steps, no finishers, no stores."""
    del settings, backend_tags
    yield Governance()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--config", type=Path, required=True, help="gateway YAML config")
    args = parser.parse_args()
    settings = load_settings(args.config)
    configure_logging(settings.logging)
    uvicorn.run(
        create_app(settings, governance=no_governance),
        host=settings.server.host,
        port=settings.server.port,
        loop="uvloop",
        http="httptools",
        log_config=None,
        access_log=False,
        server_header=False,
        timeout_graceful_shutdown=10,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

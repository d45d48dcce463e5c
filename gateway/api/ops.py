"""Operational endpoints: liveness, readiness and Prometheus metrics. No authentication:
they reveal no content, only whether the gateway and its dependencies answer."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

import msgspec
from litestar import Response, Router, get

ReadinessCheck = Callable[[], Awaitable[bool]]

_encoder = msgspec.json.Encoder()


def ops_router(checks: Mapping[str, ReadinessCheck], metrics: Callable[[], tuple[bytes, str]]) -> Router:
    @get("/healthz")
    async def healthz() -> Response[bytes]:
        return Response(b'{"status":"ok"}', media_type="application/json")

    @get("/readyz")
    async def readyz() -> Response[bytes]:
        results = {name: await check() for name, check in checks.items()}
        ready = all(results.values())
        body = {"status": "ready" if ready else "not_ready", "checks": results}
        return Response(_encoder.encode(body), status_code=200 if ready else 503, media_type="application/json")

    @get("/metrics")
    async def metrics_endpoint() -> Response[bytes]:
        content, content_type = metrics()
        return Response(content, media_type=content_type)

    return Router(path="/", route_handlers=[healthz, readyz, metrics_endpoint], include_in_schema=False)

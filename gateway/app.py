"""The Litestar application factory: wiring only, no logic.

`create_app(settings)` builds the services (key store, model catalog, upstream pool), assembles
the pipeline's step list and finishers, and mounts the routers. The order of governance steps
is decided here and only here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import partial

from litestar import Litestar
from litestar.exceptions import HTTPException

from gateway.api.calls import CallHandler, CallServices
from gateway.api.errors import gateway_exception_handler, http_exception_handler, internal_error_handler
from gateway.api.openai import openai_router
from gateway.api.ops import ReadinessCheck, ops_router
from gateway.api.request_id import RequestIdMiddleware
from gateway.auth import KeyStore, Principal, StoredKey, hash_key, key_id_for
from gateway.config import KeySettings, Settings, load_settings, prometheus_multiproc_dir
from gateway.errors import GatewayError
from gateway.observability import configure_logging, render_metrics
from gateway.pipeline import Finisher, Step
from gateway.upstream.backends import Backend, ModelCatalog
from gateway.upstream.client import UpstreamPool
from gateway.upstream.routing import RoundRobin


def _stored_key(settings: KeySettings) -> StoredKey:
    digest = settings.key_sha256 or hash_key(settings.key.get_secret_value() if settings.key else "")
    principal = Principal(
        key_id=settings.id or key_id_for(digest),
        tenant=settings.tenant,
        roles=frozenset(settings.roles),
        attributes=dict(settings.attributes),
        models=frozenset(settings.models) if settings.models is not None else None,
    )
    return StoredKey(key_hash=digest, principal=principal)


@dataclass(slots=True)
class Governance:
    """The governance parts plugged into the pipeline, built by `build_governance`."""

    steps: list[Step] = field(default_factory=list)
    finishers: list[Finisher] = field(default_factory=list)
    checks: dict[str, ReadinessCheck] = field(default_factory=dict)


def create_app(settings: Settings, governance: Governance | None = None) -> Litestar:
    """The gateway as an ASGI app. `governance` replaces the steps built from settings (tests)."""
    governance = governance or Governance()
    backends = [Backend.from_settings(b) for b in settings.backends]
    catalog = ModelCatalog(backends, settings.model_aliases)
    pool = UpstreamPool(catalog.backends)
    keys = KeyStore(_stored_key(k) for k in settings.keys)
    handler = CallHandler(
        CallServices(
            keys=keys,
            catalog=catalog,
            pool=pool,
            route=RoundRobin().order,
            steps=tuple(governance.steps),
            finishers=tuple(governance.finishers),
        )
    )

    @asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncIterator[None]:
        await pool.start()
        try:
            yield
        finally:
            await pool.close()

    async def pool_ready() -> bool:
        return True

    checks: dict[str, ReadinessCheck] = {"upstream_pool": pool_ready, **governance.checks}
    return Litestar(
        route_handlers=[
            openai_router(handler),
            ops_router(checks, partial(render_metrics, prometheus_multiproc_dir())),
        ],
        middleware=[RequestIdMiddleware],
        exception_handlers={
            GatewayError: gateway_exception_handler,
            HTTPException: http_exception_handler,
            Exception: internal_error_handler,
        },
        lifespan=[lifespan],
        request_max_body_size=settings.server.max_body_bytes,
        openapi_config=None,
        logging_config=None,
        debug=False,
    )


def app_from_environment() -> Litestar:
    """Factory for ASGI servers and worker processes: settings from `GATEWAY_CONFIG` + env."""
    settings = load_settings()
    configure_logging(settings.logging)
    return create_app(settings)

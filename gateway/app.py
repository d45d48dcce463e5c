"""The Litestar application factory: wiring only, no logic.

`create_app(settings)` builds the services (key store, model catalog, upstream pool), assembles
the routers, and starts the governance parts (`governance.py`, where the order of the pipeline
is decided) in the lifespan.
"""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any

from litestar import Litestar, Request
from litestar.di import Provide
from litestar.exceptions import HTTPException

from gateway.api.admin import admin_router
from gateway.api.audit import AuditController
from gateway.api.callers import authenticate
from gateway.api.calls import CallHandler, CallServices
from gateway.api.errors import gateway_exception_handler, http_exception_handler, internal_error_handler
from gateway.api.openai import openai_router
from gateway.api.ops import ReadinessCheck, ops_router
from gateway.api.request_id import RequestIdMiddleware
from gateway.audit.query import AuditStore
from gateway.auth import KeyStore, Principal, StoredKey, hash_key, key_id_for
from gateway.config import KeySettings, Settings, load_settings, prometheus_multiproc_dir
from gateway.errors import AuditUnavailable, GatewayError
from gateway.governance import Governance, open_governance
from gateway.observability import configure_logging, render_metrics
from gateway.ui.routes import ui_router
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


GovernanceFactory = Callable[[Settings, Mapping[str, Mapping[str, str]]], AbstractAsyncContextManager[Governance]]


@dataclass(slots=True)
class _Live:
    """What exists only while the app runs (built in the lifespan)."""

    governance: Governance | None = None


def create_app(settings: Settings, governance: GovernanceFactory = open_governance) -> Litestar:
    """The gateway as an ASGI app. `governance` builds the steps; tests may pass a smaller one."""
    backends = [Backend.from_settings(b) for b in settings.backends]
    catalog = ModelCatalog(backends, settings.model_aliases)
    pool = UpstreamPool(catalog.backends)
    keys = KeyStore(_stored_key(k) for k in settings.keys)
    handler = CallHandler()
    live = _Live()
    checks: dict[str, ReadinessCheck] = {"backends": partial(pool.models_reachable, catalog.serving())}

    @asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncIterator[None]:
        await pool.start()
        try:
            async with governance(settings, catalog.tags()) as gov:
                live.governance = gov
                checks.update(gov.checks)
                # Long-lived objects (models, policy data, modules) leave the collector's view:
                # full collections over them stalled the event loop for ~80-200 ms under load.
                gc.collect()
                gc.freeze()
                handler.bind(
                    CallServices(
                        keys=keys,
                        catalog=catalog,
                        pool=pool,
                        route=RoundRobin().order,
                        steps=tuple(gov.steps),
                        finishers=tuple(gov.finishers),
                        answer_guard=gov.answer_guard,
                    )
                )
                yield
        finally:
            live.governance = None
            await pool.close()

    def provide_principal(request: Request[Any, Any, Any]) -> Principal:
        return authenticate(keys, request)

    def provide_audit_store() -> AuditStore:
        if live.governance is None or live.governance.audit_store is None:
            raise AuditUnavailable("the audit log is not open")
        return live.governance.audit_store

    def policy_status() -> Callable[[], dict[str, Any]] | None:
        return live.governance.policy_status if live.governance else None

    return Litestar(
        route_handlers=[
            openai_router(handler),
            ops_router(checks, partial(render_metrics, prometheus_multiproc_dir())),
            AuditController,
            admin_router(policy_status),
            ui_router(
                keys.authenticate,
                session_secret=(
                    settings.ui.session_secret.get_secret_value().encode() if settings.ui.session_secret else None
                ),
                session_ttl_s=settings.ui.session_ttl_s,
            ),
        ],
        dependencies={
            "principal": Provide(provide_principal, sync_to_thread=False),
            "audit_store": Provide(provide_audit_store, sync_to_thread=False),
        },
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

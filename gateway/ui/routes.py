"""The audit review web page for compliance officers, mounted by the app under `/ui/`.

`ui_router(keys.authenticate)` returns a Litestar router; the app mounts it beside the
officer API, whose `audit_store` dependency the pages use too. Pages are server-rendered,
autoescaped Jinja templates with one stylesheet served from the package: no JavaScript, no
build step, nothing fetched from elsewhere.

A guard on the router sends every request without a valid session to `/ui/login`; only the
sign-in form and the stylesheet are public (`signin.PUBLIC`). Every response forbids
framing, scripts, inline styles and caching. What the pages show is in `pages.py`, how
sessions work in `session.py` and `signin.py`.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from litestar import Request, Response, Router
from litestar.connection import ASGIConnection
from litestar.datastructures import CacheControlHeader, ResponseHeader
from litestar.di import Provide
from litestar.handlers.base import BaseRouteHandler
from litestar.response import Redirect
from litestar.static_files import create_static_files_router

from gateway.ui.context import UI_PATH, Authenticate, UiContext
from gateway.ui.filters import link
from gateway.ui.pages import ReviewController
from gateway.ui.session import SessionCodec, UiSession
from gateway.ui.signin import PUBLIC, SignInController

SECURITY_HEADERS = (
    ResponseHeader(
        name="content-security-policy",
        value=(
            "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
            "frame-ancestors 'none'; base-uri 'none'"
        ),
    ),
    ResponseHeader(name="x-content-type-options", value="nosniff"),
    ResponseHeader(name="x-frame-options", value="DENY"),
    ResponseHeader(name="referrer-policy", value="same-origin"),
)


class SignInRequired(Exception):
    """No valid session: answered with a redirect to the sign-in page."""

    def __init__(self, next_url: str) -> None:
        super().__init__("sign-in required")
        self.next_url = next_url


def _redirect_to_sign_in(_: Request[Any, Any, Any], exc: SignInRequired) -> Response[Any]:
    return Redirect(link(UI_PATH + "/login", {"next": exc.next_url}), status_code=303)


def ui_router(
    authenticate: Authenticate,
    *,
    session_secret: bytes | None = None,
    session_ttl_s: int = 8 * 3600,
    secure_cookies: bool | None = None,
    clock: Callable[[], float] = time.time,
) -> Router:
    """The `/ui` router.

    `authenticate` maps a presented API key to its principal (the app passes
    `KeyStore.authenticate`). `session_secret` (32 bytes or more) signs the session cookies;
    without one, a random secret is made here, so sessions end when the process restarts
    and are valid only in the process that issued them: give every worker process the same
    secret to share sessions between them. `secure_cookies=None` marks cookies `Secure`
    when the request came over HTTPS. `clock` is for tests.
    """
    codec = SessionCodec(session_secret or secrets.token_bytes(32), ttl_s=session_ttl_s)
    ui = UiContext(authenticate=authenticate, codec=codec, secure_cookies=secure_cookies, clock=clock)

    def require_session(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
        if not handler.opt.get(PUBLIC) and ui.session_of(connection) is None:
            query = connection.url.query
            raise SignInRequired(connection.url.path + (f"?{query}" if query else ""))

    def provide_viewer(request: Request[Any, Any, Any]) -> UiSession:
        session = ui.session_of(request)
        if session is None:  # the guard has let it through, so the cookie expired in between
            raise SignInRequired(request.url.path)
        return session

    def provide_ui() -> UiContext:
        return ui

    static = create_static_files_router(
        path="/static", directories=[Path(__file__).parent / "static"], opt={PUBLIC: True}, name="ui_static"
    )
    return Router(
        path=UI_PATH,
        route_handlers=[SignInController, ReviewController, static],
        guards=[require_session],
        dependencies={
            "ui": Provide(provide_ui, sync_to_thread=False),
            "viewer": Provide(provide_viewer, sync_to_thread=False),
        },
        exception_handlers={SignInRequired: _redirect_to_sign_in},
        response_headers=list(SECURITY_HEADERS),
        cache_control=CacheControlHeader(no_store=True),
        include_in_schema=False,
    )

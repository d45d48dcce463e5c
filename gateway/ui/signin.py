"""Signing in and out of the review page.

Sign-in takes an API key with the `auditor` role (or `admin`); application keys and unknown
keys are refused with the page shown again. The key is checked once and never kept: the
browser gets a signed session cookie naming the key id, tenant and roles. The sign-in form
carries a token tied to a short-lived cookie, and the sign-out form the session's CSRF
token, so another site cannot submit either. Refusals are logged with the reason and, for a
known key, its id; never the key.
"""

from __future__ import annotations

from typing import Any

import structlog
from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.response import Redirect

from gateway.ui.context import LOGIN_COOKIE, SESSION_COOKIE, UI_PATH, UiContext
from gateway.ui.session import UiSession, csrf_matches

log = structlog.get_logger("gateway.ui")

PUBLIC = "ui_public"
"""Route option marking the handlers the sign-in guard lets through."""


def safe_next(value: str | None) -> str:
    """Where to go after sign-in: a page of this UI, never another site."""
    if (
        value
        and (value == UI_PATH or value.startswith(UI_PATH + "/"))
        and "//" not in value
        and "\\" not in value
        and not value.startswith(UI_PATH + "/login")
    ):
        return value
    return UI_PATH + "/events"


def form_text(value: object) -> str | None:
    """A form field's text (None for a missing field or an uploaded file)."""
    return value if isinstance(value, str) else None


def _login_page(
    ui: NamedDependency[UiContext],
    request: Request[Any, Any, Any],
    *,
    next_url: str,
    error: str | None = None,
    status: int = 200,
) -> Response[str]:
    nonce, token = ui.codec.login_token(now=ui.now_s())
    response = ui.render("login.html", status=status, next_url=next_url, csrf_token=nonce, error=error)
    response.set_cookie(ui.cookie(request, LOGIN_COOKIE, token, ui.codec.login_ttl_s))
    return response


class SignInController(Controller):
    """`/ui/`, `/ui/login` (form and submit) and `/ui/logout`."""

    @get("/", opt={PUBLIC: True})
    async def home(self, request: Request[Any, Any, Any], ui: NamedDependency[UiContext]) -> Response[Any]:
        target = "/overview" if ui.session_of(request) is not None else "/login"
        return Redirect(UI_PATH + target, status_code=303)

    @get("/login", opt={PUBLIC: True})
    async def login_form(self, request: Request[Any, Any, Any], ui: NamedDependency[UiContext]) -> Response[Any]:
        next_url = safe_next(request.query_params.get("next"))
        if ui.session_of(request) is not None:
            return Redirect(next_url, status_code=303)
        return _login_page(ui, request, next_url=next_url)

    @post("/login", opt={PUBLIC: True})
    async def sign_in(self, request: Request[Any, Any, Any], ui: NamedDependency[UiContext]) -> Response[Any]:
        form = await request.form()
        next_url = safe_next(form_text(form.get("next")))
        token_ok = ui.codec.login_token_matches(
            request.cookies.get(LOGIN_COOKIE), form_text(form.get("csrf_token")), now=ui.now_s()
        )
        if not token_ok:
            log.info("ui.sign_in_refused", reason="csrf")
            error = "The sign-in form expired or did not come from this page. Please try again."
            return _login_page(ui, request, next_url=next_url, error=error, status=403)
        principal = ui.authenticate((form_text(form.get("api_key")) or "").strip())
        if principal is None:
            log.info("ui.sign_in_refused", reason="unknown_key")
            return _login_page(ui, request, next_url=next_url, error="This API key is not recognised.", status=401)
        if not principal.has_role("auditor"):
            log.info("ui.sign_in_refused", reason="not_auditor", key_id=principal.key_id, tenant=principal.tenant)
            error = "This key does not have the auditor role. Application keys cannot open the audit log."
            return _login_page(ui, request, next_url=next_url, error=error, status=403)
        _, cookie = ui.codec.issue(
            key_id=principal.key_id, tenant=principal.tenant, roles=tuple(principal.roles), now=ui.now_s()
        )
        log.info("ui.signed_in", key_id=principal.key_id, tenant=principal.tenant)
        response = Redirect(next_url, status_code=303)
        response.set_cookie(ui.cookie(request, SESSION_COOKIE, cookie, ui.codec.ttl_s))
        response.delete_cookie(LOGIN_COOKIE, path=UI_PATH)
        return response

    @post("/logout")
    async def sign_out(
        self, request: Request[Any, Any, Any], ui: NamedDependency[UiContext], viewer: NamedDependency[UiSession]
    ) -> Response[Any]:
        form = await request.form()
        if not csrf_matches(viewer, form_text(form.get("csrf_token"))):
            log.info("ui.sign_out_refused", reason="csrf", key_id=viewer.key_id)
            message = "This request did not come from the review page (its CSRF token is missing or wrong)."
            return ui.render("message.html", status=403, viewer=viewer, title="Not signed out", message=message)
        log.info("ui.signed_out", key_id=viewer.key_id)
        response = Redirect(UI_PATH + "/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path=UI_PATH)
        return response

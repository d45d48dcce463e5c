"""What every review page handler shares: templates, the session codec, the clock, cookies.

One `UiContext` is built by `ui_router` and handed to the controllers as the `ui`
dependency. Templates are autoescaped Jinja loaded from the package (`gateway/ui/templates`),
so every value a page prints, stored prompts included, is text and never markup.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from litestar import Request, Response
from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie
from litestar.enums import MediaType

from gateway.auth import Principal
from gateway.ui.event_view import (
    applied_actions,
    content_view,
    decision_label,
    latency_steps,
    pii_label,
    short_hash,
    tokens_label,
)
from gateway.ui.filters import BUCKET_CHOICES, DECISION_CHOICES, EVENT_TYPE_CHOICES, PAGE_SIZES, link
from gateway.ui.session import SessionCodec, UiSession

UI_PATH = "/ui"
SESSION_COOKIE = "gateway_ui_session"
LOGIN_COOKIE = "gateway_ui_login"

Authenticate = Callable[[str], Principal | None]


def _when(value: str | None) -> str:
    """`2025-03-01T12:00:00.123456Z` as `2025-03-01 12:00:00`."""
    return "" if not value else value[:19].replace("T", " ")


def template_environment() -> Environment:
    """The Jinja environment of the review pages (autoescaping on, unknown names are errors)."""
    env = Environment(
        loader=PackageLoader("gateway.ui", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = _when
    env.filters["short_hash"] = short_hash
    env.globals.update(
        base=UI_PATH,
        link=link,
        pii_label=pii_label,
        tokens_label=tokens_label,
        decision_label=decision_label,
        content_view=content_view,
        latency_steps=latency_steps,
        applied_actions=applied_actions,
        decision_choices=DECISION_CHOICES,
        event_type_choices=EVENT_TYPE_CHOICES,
        bucket_choices=BUCKET_CHOICES,
        page_sizes=PAGE_SIZES,
    )
    return env


class UiContext:
    """Templates, sessions and time for the review pages of one app."""

    def __init__(
        self,
        *,
        authenticate: Authenticate,
        codec: SessionCodec,
        secure_cookies: bool | None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.authenticate = authenticate
        self.codec = codec
        self._secure_cookies = secure_cookies
        self._clock = clock
        self._env = template_environment()

    def now_s(self) -> int:
        return int(self._clock())

    def now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)

    def render(
        self, template: str, *, status: int = 200, viewer: UiSession | None = None, **context: Any
    ) -> Response[str]:
        """An HTML page from `template`; `viewer` fills the header (sign-out form, identity)."""
        html = self._env.get_template(template).render(viewer=viewer, nav=context.pop("nav", ""), **context)
        return Response(html, status_code=status, media_type=MediaType.HTML)

    def cookie(self, request: Request[Any, Any, Any], key: str, value: str, max_age: int) -> Cookie:
        """A cookie for the review pages: HttpOnly, SameSite=Strict, limited to `/ui`."""
        secure = self._secure_cookies if self._secure_cookies is not None else request.url.scheme == "https"
        return Cookie(
            key=key, value=value, path=UI_PATH, httponly=True, samesite="strict", secure=secure, max_age=max_age
        )

    def session_of(self, connection: ASGIConnection[Any, Any, Any, Any]) -> UiSession | None:
        """The signed-in officer, or None (no cookie, forged, expired, or roles that may not review)."""
        session = self.codec.read(connection.cookies.get(SESSION_COOKIE), now=self.now_s())
        return session if session is not None and session.may_review() else None

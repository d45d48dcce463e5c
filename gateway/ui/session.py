"""Signed, expiring tokens for the review page: the sign-in session and the sign-in form's token.

The session lives in the browser as an HMAC-SHA256-signed cookie, so no session table is
needed and any gateway process holding the same secret accepts it. It carries who signed in
(key id, tenant, roles: never the key), when it expires, and the CSRF token that every
state-changing form must send back. A second, short-lived token protects the sign-in form
itself (so another site cannot sign a browser in with the attacker's key). Tokens of one
purpose are never accepted for another.

Pure: no web framework, no clock of its own (callers pass `now`), no I/O. The cookie
attributes (HttpOnly, SameSite=Strict, Path) are set by the routes (`gateway/ui/routes.py`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from typing import Literal

Purpose = Literal["session", "login"]

MIN_SECRET_BYTES = 32


class InvalidSecret(ValueError):
    """A session secret too short to sign with."""


@dataclass(frozen=True, slots=True)
class UiSession:
    """A signed-in officer, as recorded in the session cookie."""

    key_id: str
    tenant: str
    roles: tuple[str, ...]
    csrf_token: str
    """Random per sign-in; forms that change something must echo it."""
    expires_at: int
    """Unix time (seconds) after which the cookie is refused."""

    def may_review(self) -> bool:
        """Whether these roles open the audit log (auditor, or admin)."""
        return "auditor" in self.roles or "admin" in self.roles


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _json_object(payload: bytes) -> dict[str, object] | None:
    try:
        data = json.loads(payload)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


class TokenSigner:
    """Seals small JSON payloads with a purpose and an expiry, and opens them again.

    A token is `base64url(json).base64url(hmac)`; the MAC covers the purpose, so a sign-in
    form token can never pass as a session. Opening returns None for anything forged,
    truncated, expired or of another purpose: callers never learn why.
    """

    def __init__(self, secret: bytes) -> None:
        if len(secret) < MIN_SECRET_BYTES:
            raise InvalidSecret(f"the session secret must have at least {MIN_SECRET_BYTES} bytes")
        self._secret = secret

    def _mac(self, purpose: Purpose, payload: bytes) -> bytes:
        return hmac.new(self._secret, purpose.encode() + b"\x00" + payload, hashlib.sha256).digest()

    def seal(self, purpose: Purpose, data: dict[str, object], *, expires_at: int) -> str:
        payload = json.dumps({**data, "exp": expires_at}, separators=(",", ":"), sort_keys=True).encode()
        return f"{_b64encode(payload)}.{_b64encode(self._mac(purpose, payload))}"

    def open(self, purpose: Purpose, token: str | None, *, now: int) -> dict[str, object] | None:
        body, dot, mac = (token or "").partition(".")
        if not dot or "." in mac:
            return None
        try:
            payload, presented = _b64decode(body), _b64decode(mac)
        except (binascii.Error, ValueError):
            return None
        if not hmac.compare_digest(presented, self._mac(purpose, payload)):
            return None
        data = _json_object(payload)
        expires_at = data.get("exp") if data is not None else None
        if not isinstance(expires_at, int) or isinstance(expires_at, bool) or expires_at <= now:
            return None
        return data


class SessionCodec:
    """Issues and reads session cookies and sign-in form tokens with one secret."""

    def __init__(self, secret: bytes, *, ttl_s: int, login_ttl_s: int = 3600) -> None:
        if ttl_s <= 0 or login_ttl_s <= 0:
            raise ValueError("token lifetimes must be positive")
        self._signer = TokenSigner(secret)
        self.ttl_s = ttl_s
        self.login_ttl_s = login_ttl_s

    def issue(self, *, key_id: str, tenant: str, roles: tuple[str, ...], now: int) -> tuple[UiSession, str]:
        """A new session (with a fresh CSRF token) and its cookie value."""
        session = UiSession(
            key_id=key_id,
            tenant=tenant,
            roles=tuple(sorted(roles)),
            csrf_token=secrets.token_urlsafe(32),
            expires_at=now + self.ttl_s,
        )
        data: dict[str, object] = {
            "key_id": session.key_id,
            "tenant": session.tenant,
            "roles": list(session.roles),
            "csrf": session.csrf_token,
        }
        return session, self._signer.seal("session", data, expires_at=session.expires_at)

    def read(self, cookie: str | None, *, now: int) -> UiSession | None:
        """The session a cookie proves, or None (missing, forged, expired or malformed)."""
        data = self._signer.open("session", cookie, now=now)
        if data is None:
            return None
        key_id, tenant, roles, csrf = data.get("key_id"), data.get("tenant"), data.get("roles"), data.get("csrf")
        expires_at = data.get("exp")
        if not (isinstance(key_id, str) and isinstance(tenant, str) and isinstance(csrf, str) and csrf):
            return None
        if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
            return None
        if not isinstance(expires_at, int):
            return None
        return UiSession(key_id, tenant, tuple(roles), csrf, expires_at)

    def login_token(self, *, now: int) -> tuple[str, str]:
        """A sign-in form token: (value for the hidden form field, value for the cookie)."""
        nonce = secrets.token_urlsafe(32)
        return nonce, self._signer.seal("login", {"nonce": nonce}, expires_at=now + self.login_ttl_s)

    def login_token_matches(self, cookie: str | None, form_value: str | None, *, now: int) -> bool:
        """Whether a sign-in form came from a page this gateway served to this browser."""
        data = self._signer.open("login", cookie, now=now)
        nonce = data.get("nonce") if data is not None else None
        return isinstance(nonce, str) and bool(form_value) and hmac.compare_digest(nonce, form_value or "")


def csrf_matches(session: UiSession, form_value: str | None) -> bool:
    """Whether a form echoes the session's CSRF token (constant-time)."""
    return bool(form_value) and hmac.compare_digest(session.csrf_token, form_value or "")

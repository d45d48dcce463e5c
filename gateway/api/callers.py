"""Who is calling and what they asked: the principal behind the bearer key, the `CallRequest`.

The two things every front-API call establishes before its body is governed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from litestar import Request

from gateway.api.errors import request_id_of
from gateway.auth import KeyStore, Principal, bearer_token
from gateway.errors import Unauthenticated
from gateway.pipeline import CallRequest, Endpoint


def authenticate(keys: KeyStore, request: Request[Any, Any, Any]) -> Principal:
    """The caller's principal, or `Unauthenticated` (401) for a missing or unknown key."""
    token = bearer_token(request.headers.get("authorization"))
    if token is None:
        raise Unauthenticated(
            "You didn't provide an API key. Provide it in the Authorization header (Authorization: Bearer YOUR_KEY)."
        )
    principal = keys.authenticate(token)
    if principal is None:
        raise Unauthenticated("Incorrect API key provided.")
    return principal


def call_request_of(
    request: Request[Any, Any, Any], endpoint: Endpoint, body: Mapping[str, Any], *, model: str
) -> CallRequest:
    """The call as the client sent it; `model` is the resolved id, or empty if none was resolved."""
    requested = body.get("model")
    client = request.client
    return CallRequest(
        request_id=request_id_of(request) or "",
        endpoint=endpoint,
        requested_model=requested if isinstance(requested, str) else "",
        model=model,
        body=body,
        stream=body.get("stream") is True,
        client_addr=client.host if client else None,
        user_agent=request.headers.get("user-agent"),
    )

"""The one place where errors become OpenAI error bodies and HTTP responses.

Every failure the front API reports has OpenAI's shape,
`{"error": {"message", "type", "param", "code"}}`, the matching status code and, where
retrying cannot help, `x-should-retry: false` (honoured by both official SDKs). Unexpected
exceptions are logged with their traceback and answered with a generic 500: no stack trace
or internal detail reaches the client.
"""

from __future__ import annotations

from typing import Any

import msgspec
import structlog
from litestar import Request, Response
from litestar.exceptions import HTTPException

from gateway.api.request_id import new_request_id
from gateway.errors import GatewayError, RateLimited

log = structlog.get_logger(__name__)

_encoder = msgspec.json.Encoder()

_TYPE_BY_STATUS = {
    400: "invalid_request_error",
    401: "invalid_request_error",
    403: "permission_error",
    404: "invalid_request_error",
    405: "invalid_request_error",
    413: "invalid_request_error",
    415: "invalid_request_error",
    429: "rate_limit_error",
}
_CODE_BY_STATUS = {
    401: "invalid_api_key",
    404: "not_found",
    405: "method_not_allowed",
    413: "request_too_large",
    415: "unsupported_media_type",
}


def error_body(message: str, *, type_: str, code: str | None, param: str | None = None) -> bytes:
    return _encoder.encode({"error": {"message": message, "type": type_, "param": param, "code": code}})


def json_response(
    content: bytes, status_code: int, request_id: str | None, headers: dict[str, str] | None = None
) -> Response[bytes]:
    all_headers = dict(headers or {})
    if request_id:
        all_headers["x-request-id"] = request_id
    return Response(content, status_code=status_code, media_type="application/json", headers=all_headers)


def gateway_error_response(
    exc: GatewayError, request_id: str | None, headers: dict[str, str] | None = None
) -> Response[bytes]:
    openai_code = getattr(exc, "wire_code", exc.openai_code)
    type_ = exc.openai_type
    if isinstance(exc, RateLimited):
        # OpenAI writes `requests`/`tokens` as the type of a 429, `insufficient_quota` for budgets.
        type_ = "insufficient_quota" if openai_code == "insufficient_quota" else exc.limit_type
    body = error_body(exc.message, type_=type_, code=openai_code, param=exc.param)
    return json_response(body, exc.status_code, request_id, {**(headers or {}), **exc.headers()})


def request_id_of(request: Request[Any, Any, Any]) -> str | None:
    value = request.scope.get("state", {}).get("request_id")
    return value if isinstance(value, str) else None


def http_exception_handler(request: Request[Any, Any, Any], exc: HTTPException) -> Response[bytes]:
    """Litestar's own 404/405/413/... answered in OpenAI's shape."""
    status = exc.status_code
    message = exc.detail if status != 404 else f"Unknown request URL: {request.method} {request.url.path}."
    body = error_body(
        message,
        type_=_TYPE_BY_STATUS.get(status, "server_error" if status >= 500 else "invalid_request_error"),
        code=_CODE_BY_STATUS.get(status),
    )
    headers = {"x-should-retry": "false"} if 400 <= status < 500 and status != 429 else {}
    # Unmatched routes never pass through the request-id middleware; give them an id here.
    return json_response(body, status, request_id_of(request) or new_request_id(), headers)


def gateway_exception_handler(request: Request[Any, Any, Any], exc: GatewayError) -> Response[bytes]:
    return gateway_error_response(exc, request_id_of(request))


def internal_error_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    """Last resort: log with traceback, answer a generic 500."""
    log.error("request.internal_error", error=type(exc).__name__, exc_info=exc)
    body = error_body("The gateway failed to handle the request.", type_="server_error", code="internal_error")
    return json_response(body, 500, request_id_of(request))

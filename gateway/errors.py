"""Gateway errors and their stable reason codes.

GatewayError
├── ClientError (4xx)
│   ├── InvalidRequest (400)        request.invalid
│   ├── Unauthenticated (401)       auth.invalid_key
│   ├── Forbidden (403)             auth.forbidden
│   ├── PolicyDenied (403)          policy.denied
│   ├── PiiBlocked (403)            pii.blocked
│   ├── ModelNotFound (404)         model.not_found
│   ├── PayloadTooLarge (413)       request.too_large
│   └── RateLimited (429)           ratelimit.exceeded
└── DependencyError (5xx)
    ├── UpstreamError (502)         upstream.error
    │   ├── UpstreamUnavailable (503)   upstream.unavailable
    │   └── UpstreamTimeout (504)       upstream.timeout
    ├── PolicyEngineUnavailable (503) policy.unavailable
    ├── PiiDetectorUnavailable (503)  pii.unavailable
    └── AuditUnavailable (503)      audit.unavailable

Every error maps to OpenAI's error body in one place, `gateway/api/errors.py`. The
`code` is the dotted reason code used in logs and the audit log; `openai_code` and
`openai_type` are what OpenAI clients see on the wire.
"""

from __future__ import annotations

from typing import ClassVar


class GatewayError(Exception):
    """Base of every error the gateway raises on purpose."""

    code: ClassVar[str] = "gateway.internal"
    status_code: ClassVar[int] = 500
    openai_type: ClassVar[str] = "server_error"
    openai_code: ClassVar[str | None] = "internal_error"
    should_retry: ClassVar[bool | None] = None

    def __init__(self, message: str, *, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param

    def headers(self) -> dict[str, str]:
        """Extra response headers this error carries (Retry-After, x-should-retry)."""
        if self.should_retry is None:
            return {}
        return {"x-should-retry": "true" if self.should_retry else "false"}


class ClientError(GatewayError):
    """The caller sent something the gateway will not serve; retrying the same call cannot help."""

    status_code = 400
    openai_type = "invalid_request_error"
    should_retry = False


class InvalidRequest(ClientError):
    code = "request.invalid"
    openai_code = None


class Unauthenticated(ClientError):
    code = "auth.invalid_key"
    status_code = 401
    openai_code = "invalid_api_key"


class Forbidden(ClientError):
    code = "auth.forbidden"
    status_code = 403
    openai_type = "permission_error"
    openai_code = "forbidden"


class PolicyDenied(ClientError):
    code = "policy.denied"
    status_code = 403
    openai_type = "permission_error"
    openai_code = "policy_denied"

    def __init__(self, reasons: tuple[str, ...], *, message: str | None = None) -> None:
        self.reasons = reasons
        super().__init__(message or "Request denied by policy: " + "; ".join(reasons))


class PiiBlocked(ClientError):
    code = "pii.blocked"
    status_code = 403
    openai_type = "permission_error"
    openai_code = "pii_blocked"

    def __init__(self, entity_types: tuple[str, ...]) -> None:
        self.entity_types = entity_types
        super().__init__("Request blocked: it contains " + ", ".join(entity_types))


class ModelNotFound(ClientError):
    code = "model.not_found"
    status_code = 404
    openai_code = "model_not_found"

    def __init__(self, model: str) -> None:
        super().__init__(f"The model `{model}` does not exist or you do not have access to it.", param="model")


class PayloadTooLarge(ClientError):
    code = "request.too_large"
    status_code = 413
    openai_code = "request_too_large"


class RateLimited(ClientError):
    """A limit was hit; `retry_after_s` is exact for per-minute windows, None for exhausted budgets."""

    code = "ratelimit.exceeded"
    status_code = 429
    openai_type = "requests"
    openai_code = "rate_limit_exceeded"

    def __init__(
        self,
        message: str,
        *,
        limit_type: str = "requests",
        retry_after_s: int | None = None,
        openai_code: str = "rate_limit_exceeded",
        extra_headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.limit_type = limit_type
        self.retry_after_s = retry_after_s
        self.wire_code = openai_code
        self.extra_headers = extra_headers or {}

    def headers(self) -> dict[str, str]:
        headers = dict(self.extra_headers)
        if self.retry_after_s is None:
            headers["x-should-retry"] = "false"
        else:
            headers["retry-after"] = str(self.retry_after_s)
            headers["x-should-retry"] = "true"
        return headers


class DependencyError(GatewayError):
    """Something the gateway depends on failed; the call may succeed later."""

    status_code = 503
    openai_type = "server_error"


class UpstreamError(DependencyError):
    """A backend failed. `backend` names the last one tried, for logs and the audit log."""

    backend: str | None = None
    code = "upstream.error"
    status_code = 502
    openai_code = "upstream_error"


class UpstreamUnavailable(UpstreamError):
    code = "upstream.unavailable"
    status_code = 503
    openai_code = "backend_unavailable"


class UpstreamTimeout(UpstreamError):
    code = "upstream.timeout"
    status_code = 504
    openai_code = "upstream_timeout"


class PolicyEngineUnavailable(DependencyError):
    code = "policy.unavailable"
    openai_code = "policy_unavailable"


class PiiDetectorUnavailable(DependencyError):
    code = "pii.unavailable"
    openai_code = "pii_unavailable"


class AuditUnavailable(DependencyError):
    code = "audit.unavailable"
    openai_code = "audit_unavailable"

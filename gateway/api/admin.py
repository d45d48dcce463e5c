"""Admin API (role `admin`): what the gateway is running right now. Read-only.

GET /admin/policy     active policy version, last reload error (file, line, message), shadow stats
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec
from litestar import Response, Router, get

from gateway.auth import Principal
from gateway.errors import Forbidden

_encoder = msgspec.json.Encoder()


def admin_router(policy_status: Callable[[], Callable[[], dict[str, Any]] | None]) -> Router:
    """Admin routes; `policy_status` returns the live status callable once the app has started."""

    @get("/policy")
    async def policy(principal: Principal) -> Response[bytes]:
        if not principal.has_role("admin"):
            raise Forbidden("This endpoint needs an API key with the `admin` role.")
        status = policy_status()
        body = status() if status is not None else {"state": "not_loaded"}
        return Response(_encoder.encode(body), media_type="application/json")

    return Router(path="/admin", route_handlers=[policy], include_in_schema=False)

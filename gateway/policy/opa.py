"""`PolicyEngine` backed by an OPA server's REST data API.

One `POST /v1/data/<decision_path>` per call with `{"input": ...}`, a total timeout from settings
and no retries: OPA answers 500 when evaluation fails (e.g. conflicting rule values), and a
retry cannot fix a policy. That is why this is a thin aiohttp call and not opa-python-client's
async client, which retries POSTs that got a 500 (about 0.9 s before failing) and whose policy
upload rewrites old-syntax Rego by default. The aiohttp session belongs to the application
lifespan and is injected. OPA loads the same `policies/` directory (it watches it itself), so
the reported policy version is the content hash of that directory as this process last read it.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import aiohttp
import structlog

from gateway.errors import PolicyEngineUnavailable
from gateway.policy.decision import DECISION_PATH, UNDEFINED, JsonValue, Undefined, parse_decision
from gateway.policy.engine import PolicyResult

log = structlog.get_logger(__name__)


class OpaPolicyEngine:
    """Asks an OPA server for `data.gateway.decision`."""

    name = "opa"

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        base_url: str,
        decision_path: str = DECISION_PATH,
        timeout_s: float = 0.5,
        version: Callable[[], str | None] | None = None,
    ) -> None:
        self._session = session
        self._url = f"{base_url.rstrip('/')}/v1/data/{decision_path.strip('/')}"
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._version = version

    @property
    def version(self) -> str | None:
        return self._version() if self._version is not None else None

    async def decide(self, policy_input: dict[str, JsonValue], /) -> PolicyResult:
        started = time.perf_counter()
        try:
            async with self._session.post(self._url, json={"input": policy_input}, timeout=self._timeout) as resp:
                if resp.status != 200:
                    code = await _error_code(resp)
                    log.error("policy.opa_error", status=resp.status, opa_code=code)
                    raise PolicyEngineUnavailable("The policy engine failed to evaluate the request.")
                body = await resp.json(content_type=None)
        except TimeoutError as exc:
            log.error(  # noqa: TRY400 - a timeout has no useful traceback
                "policy.engine_timeout", engine=self.name, timeout_s=self._timeout.total
            )
            raise PolicyEngineUnavailable("The policy engine did not answer in time.") from exc
        except (aiohttp.ClientError, ValueError) as exc:
            log.error("policy.opa_unreachable", error=type(exc).__name__)  # noqa: TRY400 - kind is enough
            raise PolicyEngineUnavailable("The policy engine is unreachable.") from exc
        value: JsonValue | Undefined = UNDEFINED
        if isinstance(body, dict) and "result" in body:
            value = body["result"]
        elapsed_ms = (time.perf_counter() - started) * 1000.0
        return PolicyResult(parse_decision(value), self.version, self.name, elapsed_ms)


async def _error_code(resp: aiohttp.ClientResponse) -> str | None:
    # OPA's error body is {"code": ..., "message": ...}; only the code is logged, as the
    # message may quote policy values.
    try:
        body = await resp.json(content_type=None)
    except (aiohttp.ClientError, ValueError):
        return None
    code = body.get("code") if isinstance(body, dict) else None
    return code if isinstance(code, str) else None

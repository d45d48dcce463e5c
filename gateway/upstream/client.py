"""The HTTP side of forwarding: one pooled aiohttp session per backend, and failover.

`UpstreamPool` owns the sessions for the app's lifetime. `open_response` sends one call to the
first backend that answers, moving on to the next candidate on connection errors, timeouts
before the response headers, or 5xx answers; once a response is returned nothing is retried
(bytes may already be on their way to the client). aiohttp errors are translated into the
gateway's `UpstreamUnavailable`, `UpstreamTimeout` and `UpstreamError` here and nowhere else.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import aiohttp
import structlog

from gateway.errors import UpstreamError, UpstreamTimeout, UpstreamUnavailable
from gateway.observability import BACKEND_ERRORS, UPSTREAM_LATENCY
from gateway.upstream.backends import Backend

log = structlog.get_logger(__name__)


@dataclass(slots=True)
class UpstreamResponse:
    """An open backend response. The caller must `close()` it (or read it fully)."""

    backend: Backend
    response: aiohttp.ClientResponse
    headers_ms: float

    @property
    def status(self) -> int:
        return self.response.status

    async def read(self) -> bytes:
        try:
            return await self.response.read()
        except TimeoutError as exc:
            BACKEND_ERRORS.labels(self.backend.name, "timeout").inc()
            raise UpstreamTimeout(f"backend `{self.backend.name}` timed out") from exc
        except aiohttp.ClientError as exc:
            BACKEND_ERRORS.labels(self.backend.name, "protocol").inc()
            raise UpstreamError(f"backend `{self.backend.name}` broke off the response") from exc
        finally:
            self.response.release()

    def close(self) -> None:
        """Drop the connection: the backend sees the client go away and stops generating."""
        self.response.close()


class UpstreamPool:
    """One aiohttp session (connection pool) per backend, for the app's lifetime."""

    def __init__(self, backends: Mapping[str, Backend]) -> None:
        self._backends = dict(backends)
        self._sessions: dict[str, aiohttp.ClientSession] = {}

    async def start(self) -> None:
        for name, backend in self._backends.items():
            connector = aiohttp.TCPConnector(
                limit=backend.max_connections, ttl_dns_cache=300, enable_cleanup_closed=False
            )
            headers = {"content-type": "application/json"}
            if backend.api_key:
                headers["authorization"] = f"Bearer {backend.api_key}"
            self._sessions[name] = aiohttp.ClientSession(
                connector=connector,
                headers=headers,
                timeout=aiohttp.ClientTimeout(
                    total=None, sock_connect=backend.connect_timeout_s, sock_read=backend.timeout_s
                ),
                auto_decompress=True,
            )

    async def close(self) -> None:
        sessions, self._sessions = self._sessions, {}
        await asyncio.gather(*(s.close() for s in sessions.values()))

    def backend(self, name: str) -> Backend:
        return self._backends[name]

    async def probe(self, name: str, *, timeout_s: float = 2.0) -> bool:
        """True when the backend answers HTTP at all (`GET /models`); any status below 500 counts."""
        backend = self._backends[name]
        session = self._sessions.get(name)
        if session is None:
            return False
        try:
            async with session.get(
                backend.base_url + "/models", timeout=aiohttp.ClientTimeout(total=timeout_s)
            ) as response:
                return response.status < 500
        except (TimeoutError, aiohttp.ClientError):
            return False

    async def models_reachable(self, serving: Mapping[str, Sequence[str]]) -> bool:
        """True when every model has at least one backend that answers (checked concurrently)."""
        names = sorted({name for backends in serving.values() for name in backends})
        results = dict(zip(names, await asyncio.gather(*(self.probe(n) for n in names)), strict=True))
        return all(any(results[name] for name in backends) for backends in serving.values())

    async def open_response(
        self, candidates: Sequence[str], path: str, payload_for: Callable[[Backend], bytes], *, request_id: str
    ) -> UpstreamResponse:
        """POST to the first candidate that answers without a 5xx; fail over on the rest.

        Raises `UpstreamUnavailable` when every backend refused or was unreachable,
        `UpstreamTimeout` when the last failure was a timeout. A 5xx from the last candidate is
        returned as is, for the caller to translate.
        """
        last_error: UpstreamError | None = None
        for index, name in enumerate(candidates):
            backend = self._backends[name]
            session = self._sessions[name]
            payload = payload_for(backend)
            started = time.perf_counter()
            try:
                response = await session.post(
                    backend.base_url + path, data=payload, headers={"x-request-id": request_id}
                )
            except TimeoutError as exc:
                BACKEND_ERRORS.labels(name, "timeout").inc()
                log.warning("upstream.timeout", backend=name, request_id=request_id)
                last_error = UpstreamTimeout(f"backend `{name}` did not answer in time")
                last_error.backend = name
                last_error.__cause__ = exc
                continue
            except aiohttp.ClientError as exc:
                BACKEND_ERRORS.labels(name, "connect").inc()
                log.warning("upstream.unreachable", backend=name, request_id=request_id, error=type(exc).__name__)
                last_error = UpstreamUnavailable(f"backend `{name}` is unreachable")
                last_error.backend = name
                last_error.__cause__ = exc
                continue
            elapsed_ms = (time.perf_counter() - started) * 1000.0
            UPSTREAM_LATENCY.labels(name).observe(elapsed_ms / 1000.0)
            answer = UpstreamResponse(backend, response, elapsed_ms)
            if response.status >= 500 and index < len(candidates) - 1:
                BACKEND_ERRORS.labels(name, "status_5xx").inc()
                log.warning("upstream.failover", backend=name, status=response.status, request_id=request_id)
                answer.close()
                continue
            if response.status >= 500:
                BACKEND_ERRORS.labels(name, "status_5xx").inc()
            return answer
        if last_error is None:
            raise UpstreamUnavailable("no backend is configured for this model")
        raise last_error

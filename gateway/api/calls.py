"""One front-API call from request to response: authenticate, validate, govern, forward.

This module is the seam between HTTP and the pipeline. It turns a Litestar request into a
`Context`, runs the governance steps assembled in `app.py`, forwards the call through the
upstream pool and turns the backend's answer into an OpenAI-shaped response. Finishers
(audit, token settlement) run exactly once per call, whatever the outcome, shielded from
cancellation so a client that goes away cannot erase its record.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import anyio
import msgspec
import structlog
from litestar import Request, Response
from litestar.response import Stream

from gateway.api.callers import authenticate, call_request_of
from gateway.api.errors import gateway_error_response, json_response, request_id_of
from gateway.api.relay import AnswerGuard, StreamRelay, error_frame
from gateway.api.requests import decode_body, validate
from gateway.auth import KeyStore
from gateway.errors import (
    AuditUnavailable,
    GatewayError,
    ModelNotFound,
    Unauthenticated,
    UpstreamError,
)
from gateway.observability import DENIALS, REQUEST_LATENCY, REQUESTS, STEP_LATENCY
from gateway.pii.locations import answer_texts
from gateway.pipeline import Context, Endpoint, Finisher, Outcome, Step, Usage, run
from gateway.tokens import estimate_prompt_tokens
from gateway.upstream.backends import Backend, ModelCatalog
from gateway.upstream.client import UpstreamPool, UpstreamResponse
from gateway.upstream.embeddings import EmbeddingFormatError, normalize_embeddings
from gateway.upstream.normalize import complete_nonstream_chat, translate_request
from gateway.upstream.normalize_stream import StreamNormalizer
from gateway.upstream.usage import parse_usage
from gateway.upstream.wire_errors import openai_error_body, sane_retry_after

log = structlog.get_logger("gateway.request")

_decoder = msgspec.json.Decoder()
_encoder = msgspec.json.Encoder()

_PATHS: dict[Endpoint, str] = {"chat": "/chat/completions", "completion": "/completions", "embedding": "/embeddings"}
_STREAM_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}


@dataclass(frozen=True, slots=True)
class CallServices:
    """What a call needs, built once per app in `app.py`."""

    keys: KeyStore
    catalog: ModelCatalog
    pool: UpstreamPool
    route: Callable[[Sequence[str]], tuple[str, ...]]
    steps: Sequence[Step] = ()
    finishers: Sequence[Finisher] = ()
    answer_guard: Callable[[Context], AnswerGuard | None] | None = None


def _upstream_error_response(up: UpstreamResponse, raw: bytes, request_id: str) -> tuple[Response[bytes], int]:
    """A backend's error answer, in OpenAI's shape, with only sane retry hints."""
    status = up.status
    body = openai_error_body(status, raw, up.response.headers.get("content-type"))
    headers: dict[str, str] = {}
    if status >= 500:
        status = status if status in (502, 503, 504) else 502
    retry_after = sane_retry_after(up.response.headers.get("retry-after"))
    if retry_after is not None and status in (429, 503):
        headers["retry-after"] = str(retry_after)
    if 400 <= status < 500 and status not in (408, 409, 429):
        headers["x-should-retry"] = "false"
    if status == 429 and retry_after is None and up.response.headers.get("retry-after"):
        headers["x-should-retry"] = "false"
    return json_response(_encoder.encode(body), status, request_id, headers), status


def _to_usage(value: object) -> Usage | None:
    parsed = parse_usage(value)
    if parsed is None:
        return None
    return Usage(parsed.prompt_tokens, parsed.completion_tokens, estimated=parsed.estimated)


class CallHandler:
    """Runs front-API calls against a set of services."""

    def __init__(self, services: CallServices | None = None) -> None:
        self._services = services

    def bind(self, services: CallServices) -> None:
        """Attach the services built in the app's lifespan."""
        self._services = services

    @property
    def _s(self) -> CallServices:
        if self._services is None:
            raise RuntimeError("the call handler is used before the app started")
        return self._services

    async def models(self, request: Request[Any, Any, Any]) -> Response[bytes]:
        principal = authenticate(self._s.keys, request)
        data = [_model_card(m) for m in self._s.catalog.visible_models(principal)]
        return json_response(_encoder.encode({"object": "list", "data": data}), 200, request_id_of(request))

    async def model(self, request: Request[Any, Any, Any], model_id: str) -> Response[bytes]:
        principal = authenticate(self._s.keys, request)
        if model_id not in self._s.catalog.visible_models(principal):
            raise ModelNotFound(model_id)
        return json_response(_encoder.encode(_model_card(model_id)), 200, request_id_of(request))

    async def call(self, request: Request[Any, Any, Any], endpoint: Endpoint) -> Response[Any]:
        started = time.perf_counter()
        request_id = request_id_of(request) or ""
        try:
            principal = authenticate(self._s.keys, request)
        except Unauthenticated:
            # Not audited (anyone can send these); counted and logged, never with the key.
            REQUESTS.labels(endpoint, "401").inc()
            client = request.client
            log.info(
                "request.unauthenticated", request_id=request_id, endpoint=endpoint, client_addr=client and client.host
            )
            raise
        decoded: dict[str, Any] = {}
        model: str | None = None
        reasons: tuple[str, ...] = ()
        try:
            decoded = decode_body(await request.body())
            body = validate(endpoint, decoded)
            requested = body["model"]
            model = self._s.catalog.resolve(requested)
            if model is None or not self._s.catalog.may_use(principal, requested):
                reasons = ("model.unknown",) if model is None else ("model.not_permitted",)
                raise ModelNotFound(requested)
        except GatewayError as exc:
            # An authenticated call refused before the pipeline (a malformed body, a model the
            # key may not use) still leaves its record and its log line; its body is not kept.
            refused = Context(
                request=call_request_of(request, endpoint, decoded, model=model or ""),
                principal=principal,
                body={},
                backends=(),
                reasons=reasons,
            )
            await self._finish(refused, Outcome(status_code=exc.status_code, error=exc), started)
            raise
        call = call_request_of(request, endpoint, body, model=model)
        ctx = Context(request=call, principal=principal, body=body, backends=self._s.catalog.backends_for(model))
        try:
            ctx = await run(self._s.steps, ctx)
        except GatewayError as exc:
            await self._finish(ctx, Outcome(status_code=exc.status_code, error=exc), started)
            raise
        if ctx.denial is not None:
            DENIALS.labels(ctx.denial.code).inc()
            await self._finish(ctx, Outcome(status_code=ctx.denial.status_code, error=ctx.denial), started)
            return gateway_error_response(ctx.denial, request_id, self._extra_headers(ctx))
        if call.stream:
            return await self._stream(ctx, started)
        return await self._unary(ctx, started)

    def _extra_headers(self, ctx: Context) -> dict[str, str]:
        headers = ctx.extras.get("ratelimit.headers")
        return dict(headers) if isinstance(headers, Mapping) else {}

    def _payload_for(self, ctx: Context) -> Callable[[Backend], bytes]:
        body: Mapping[str, Any] = ctx.body
        if body.get("model") != ctx.request.model:
            body = {**body, "model": ctx.request.model}
        if ctx.max_tokens_cap is not None and ctx.request.endpoint != "embedding":
            asked = ctx.request.max_tokens
            if asked is None or asked > ctx.max_tokens_cap:
                capped = {k: v for k, v in body.items() if k != "max_completion_tokens"}
                capped["max_tokens"] = ctx.max_tokens_cap
                body = capped
        cache: dict[tuple[bool, bool], bytes] = {}

        def payload(backend: Backend) -> bytes:
            key = (backend.accepts_max_completion_tokens, backend.stream_usage)
            if key not in cache:
                cache[key] = _encoder.encode(
                    translate_request(
                        dict(body),
                        kind=ctx.request.endpoint,
                        accepts_max_completion_tokens=backend.accepts_max_completion_tokens,
                        ask_stream_usage=backend.stream_usage,
                    )
                )
            return cache[key]

        return payload

    async def _open(self, ctx: Context) -> UpstreamResponse:
        return await self._s.pool.open_response(
            self._s.route(ctx.backends),
            _PATHS[ctx.request.endpoint],
            self._payload_for(ctx),
            request_id=ctx.request.request_id,
        )

    async def _unary(self, ctx: Context, started: float) -> Response[bytes]:
        outcome = Outcome(status_code=500)
        response: Response[bytes] | None = None
        try:
            outcome, response = await self._forward_unary(ctx, started)
        finally:
            with anyio.CancelScope(shield=True):
                failure = await self._finish(ctx, outcome, started)
        if response is None:  # pragma: no cover - the try block either returns a response or raises
            raise RuntimeError("no response")
        if failure is not None and (response.status_code or 200) < 400:
            # Strict audit: an answer whose record cannot be committed is not delivered.
            return gateway_error_response(failure, ctx.request.request_id, self._extra_headers(ctx))
        return response

    async def _forward_unary(self, ctx: Context, started: float) -> tuple[Outcome, Response[bytes]]:
        outcome = Outcome(status_code=500)
        headers = self._extra_headers(ctx)
        try:
            up = await self._open(ctx)
            raw = await up.read()
            outcome = replace(outcome, backend=up.backend.name, upstream_ms=(time.perf_counter() - started) * 1000)
            if up.status >= 400:
                response, status = _upstream_error_response(up, raw, ctx.request.request_id)
                response.headers.update(headers)
                error = UpstreamError(f"backend answered {up.status}")
                return replace(outcome, status_code=status, error=error), response
            content, outcome = await self._answer(ctx, raw, outcome)
            return replace(outcome, status_code=200), json_response(content, 200, ctx.request.request_id, headers)
        except GatewayError as exc:
            failed = replace(outcome, status_code=exc.status_code, error=exc, backend=outcome.backend or _tried(exc))
            return failed, gateway_error_response(exc, ctx.request.request_id, headers)

    async def _answer(self, ctx: Context, raw: bytes, outcome: Outcome) -> tuple[bytes, Outcome]:
        try:
            body = _decoder.decode(raw)
        except msgspec.DecodeError as exc:
            raise UpstreamError(f"backend `{outcome.backend}` sent a body that is not JSON") from exc
        if not isinstance(body, dict):
            raise UpstreamError(f"backend `{outcome.backend}` sent a JSON body that is not an object")
        original = body
        endpoint = ctx.request.endpoint
        if endpoint == "embedding":
            try:
                body = normalize_embeddings(body, ctx.request.body.get("encoding_format"))
            except EmbeddingFormatError as exc:
                raise UpstreamError(f"backend `{outcome.backend}` sent malformed embeddings") from exc
        elif endpoint == "chat":
            body = complete_nonstream_chat(body)
        guard = self._s.answer_guard(ctx) if self._s.answer_guard else None
        if guard is not None:
            body, counts = await guard.guard_body(body, endpoint)
            outcome = replace(outcome, response_pii_counts=counts, answer_text=guard.stored_text)
        elif endpoint != "embedding":
            # Nothing to redact for this call: the answer is stored as the backend sent it.
            outcome = replace(outcome, answer_text="".join(loc.text for loc in answer_texts(body, endpoint)))
        outcome = replace(outcome, usage=_to_usage(body.get("usage")))
        return (raw if body is original else _encoder.encode(body)), outcome

    async def _stream(self, ctx: Context, started: float) -> Response[Any]:
        headers = self._extra_headers(ctx)
        try:
            up = await self._open(ctx)
        except GatewayError as exc:
            await self._finish(ctx, Outcome(status_code=exc.status_code, error=exc, backend=_tried(exc)), started)
            raise
        if up.status >= 400:
            try:
                raw = await up.read()
            except GatewayError as exc:
                await self._finish(
                    ctx, Outcome(status_code=exc.status_code, error=exc, backend=up.backend.name), started
                )
                raise
            response, status = _upstream_error_response(up, raw, ctx.request.request_id)
            response.headers.update(headers)
            error = UpstreamError(f"backend answered {up.status}")
            await self._finish(ctx, Outcome(status_code=status, error=error, backend=up.backend.name), started)
            return response
        return Stream(
            self._relay(ctx, up, started),
            status_code=200,
            media_type="text/event-stream",
            headers={**_STREAM_HEADERS, **headers},
        )

    async def _relay(self, ctx: Context, up: UpstreamResponse, started: float) -> AsyncIterator[bytes]:
        """Relay the backend's SSE stream chunk by chunk, normalised; never buffer the answer."""
        options = ctx.request.body.get("stream_options")
        relay = StreamRelay(
            endpoint=ctx.request.endpoint,
            normalizer=StreamNormalizer(
                kind="chat" if ctx.request.endpoint == "chat" else "completion",
                client_wants_usage=isinstance(options, dict) and options.get("include_usage") is True,
                prompt_tokens_estimate=estimate_prompt_tokens(ctx.body),
                model=ctx.request.requested_model,
            ),
            guard=self._s.answer_guard(ctx) if self._s.answer_guard else None,
        )
        outcome = Outcome(status_code=200, backend=up.backend.name, upstream_ms=up.headers_ms)
        finished = False
        try:
            async for frame in relay.frames(up.response.content.iter_any()):
                yield frame
            # Record the outcome before the client sees the stream end: a stream the client saw
            # complete always has its response event (strict audit).
            up.response.release()
            with anyio.CancelScope(shield=True):
                failure = await self._finish(ctx, self._stream_outcome(outcome, relay), started)
                finished = True
            if failure is None or relay.error is not None:
                for frame in relay.tail:
                    yield frame
            else:
                yield error_frame(failure)
        finally:
            if not finished:
                up.close()
                with anyio.CancelScope(shield=True):
                    await self._finish(ctx, self._stream_outcome(outcome, relay), started)

    @staticmethod
    def _stream_outcome(outcome: Outcome, relay: StreamRelay) -> Outcome:
        return replace(
            outcome,
            status_code=relay.status_code,
            error=relay.error,
            usage=relay.usage,
            response_pii_counts=relay.response_counts,
            answer_text=relay.stored_text,
        )

    async def _finish(self, ctx: Context, outcome: Outcome, started: float) -> GatewayError | None:
        """Run every finisher once; return the audit failure that must withhold the answer, if any."""
        total_ms = (time.perf_counter() - started) * 1000.0
        outcome = replace(outcome, total_ms=total_ms)
        failure: GatewayError | None = None
        for finisher in self._s.finishers:
            try:
                await finisher.finish(ctx, outcome)
            except AuditUnavailable as exc:
                log.exception("finisher.failed", finisher=type(finisher).__name__, code=exc.code)
                failure = exc
            except GatewayError as exc:
                log.exception("finisher.failed", finisher=type(finisher).__name__, code=exc.code)
        endpoint = ctx.request.endpoint
        REQUESTS.labels(endpoint, str(outcome.status_code)).inc()
        REQUEST_LATENCY.labels(endpoint).observe(total_ms / 1000.0)
        for step, ms in ctx.timings_ms.items():
            STEP_LATENCY.labels(step).observe(ms / 1000.0)
        usage = outcome.usage
        log.info(
            "request.completed",
            request_id=ctx.request.request_id,
            tenant=ctx.principal.tenant,
            key_id=ctx.principal.key_id,
            endpoint=endpoint,
            model=ctx.request.model,
            backend=outcome.backend,
            stream=ctx.request.stream,
            status=outcome.status_code,
            code=outcome.error.code if outcome.error else None,
            reasons=list(ctx.reasons),
            duration_ms=round(total_ms, 2),
            upstream_ms=round(outcome.upstream_ms, 2) if outcome.upstream_ms is not None else None,
            steps_ms={k: round(v, 3) for k, v in ctx.timings_ms.items()},
            prompt_tokens=usage.prompt_tokens if usage else None,
            completion_tokens=usage.completion_tokens if usage else None,
        )
        return failure


def _tried(exc: GatewayError) -> str | None:
    """The backend a failed call last tried, when the error knows it."""
    return exc.backend if isinstance(exc, UpstreamError) else None


def _model_card(model_id: str) -> dict[str, Any]:
    return {"id": model_id, "object": "model", "created": 0, "owned_by": "gateway"}

"""The demo upstream: a small OpenAI-compatible HTTP server for demos, tests and benchmarks.

It is not a model. It answers chat, legacy completion and embedding calls in OpenAI's
wire format with canned or echoed text (see `answers.py`), optionally imitating
llama.cpp's server where that departs from OpenAI (`quirks="llamacpp"`, see `wire.py`),
and it can be slow (`latency_ms`, `chunk_delay_ms`) or fail (`fail_status`) on purpose.

Demo-only test controls, never part of any real backend's API:

- `GET /_demo/requests`: the last 1000 `/v1` POSTs received (path, JSON body, non-secret
  headers, and whether an `Authorization` header was present, never its value);
  `DELETE /_demo/requests` forgets them.
- `GET /_demo/stats`: counters `requests`, `streams_started`, `streams_completed` and
  `streams_cancelled` (the client went away before `[DONE]`); `DELETE /_demo/stats` zeroes them.

This module is the aiohttp adapter only: decoding is in `parsing.py`, answers in
`answers.py`, bodies and SSE frames in `wire.py`.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

import msgspec
import structlog
from aiohttp import web

from gateway.demo import wire
from gateway.demo.answers import answer_chat, answer_prompt, count_tokens, prompt_tokens
from gateway.demo.options import DemoOptions
from gateway.demo.parsing import DemoRequestError, parse_chat, parse_completion, parse_embedding, texts_of_input

__all__ = [
    "DemoOptions",
    "DemoStats",
    "create_demo_app",
    "run_demo_upstream",
    "running_demo_upstream",
    "serve_demo_upstream",
]

REQUEST_LOG_SIZE = 1000
MAX_BODY_BYTES = 64 * 1024 * 1024
SHUTDOWN_TIMEOUT_S = 1.0
_SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "x-api-key", "api-key"})
_JSON = "application/json"

log = structlog.get_logger(__name__)


@dataclass(slots=True)
class DemoStats:
    """Counters served by `GET /_demo/stats`."""

    requests: int = 0
    streams_started: int = 0
    streams_completed: int = 0
    streams_cancelled: int = 0


@dataclass(frozen=True, slots=True)
class _Received:
    method: str
    path: str
    query: str
    body: bytes
    headers: dict[str, str]
    has_authorization: bool
    received_at: float

    def to_json(self) -> dict[str, Any]:
        try:
            body = msgspec.json.decode(self.body) if self.body else None
        except msgspec.DecodeError:
            body = None
        return {
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "body": body,
            "body_bytes": len(self.body),
            "headers": self.headers,
            "has_authorization": self.has_authorization,
            "received_at": self.received_at,
        }


class _DemoUpstream:
    """Route handlers sharing one set of options, counters and the request log."""

    def __init__(self, options: DemoOptions) -> None:
        self._options = options
        self._stats = DemoStats()
        self._received: deque[_Received] = deque(maxlen=REQUEST_LOG_SIZE)
        self._encode: Callable[[Any], bytes] = msgspec.json.Encoder().encode

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/health", self.health),
            web.get("/v1/models", self.models),
            web.get("/v1/models/{model}", self.model),
            web.post("/v1/chat/completions", self.chat_completions),
            web.post("/v1/completions", self.completions),
            web.post("/v1/embeddings", self.embeddings),
            web.get("/_demo/requests", self.received_requests),
            web.delete("/_demo/requests", self.forget_requests),
            web.get("/_demo/stats", self.stats),
            web.delete("/_demo/stats", self.reset_stats),
        ]

    def _json(self, payload: Any, *, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
        return web.Response(body=self._encode(payload), status=status, content_type=_JSON, headers=headers)

    async def _receive(self, request: web.Request) -> bytes:
        body = await request.read()
        self._stats.requests += 1
        headers = {name.lower(): value for name, value in request.headers.items()}
        self._received.append(
            _Received(
                method=request.method,
                path=request.path,
                query=request.query_string,
                body=body,
                headers={name: value for name, value in headers.items() if name not in _SECRET_HEADERS},
                has_authorization="authorization" in headers,
                received_at=time.time(),
            )
        )
        return body

    async def _delay_first_byte(self) -> None:
        if self._options.latency_ms > 0:
            await asyncio.sleep(self._options.latency_ms / 1000)

    async def _failure(self) -> web.Response | None:
        status = self._options.fail_status
        if status is None:
            return None
        await self._delay_first_byte()
        llamacpp = self._options.quirks == "llamacpp"
        headers = {}
        if status == HTTPStatus.TOO_MANY_REQUESTS:
            headers["Retry-After"] = "86400" if llamacpp else "1"
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = "Error"
        message = f"{phrase} (the demo upstream is set to fail every request with status {status})."
        return self._json(wire.error_body(status, message, quirks=self._options.quirks), status=status, headers=headers)

    async def _bad_request(self, exc: DemoRequestError) -> web.Response:
        await self._delay_first_byte()
        body = wire.error_body(400, exc.message, quirks=self._options.quirks, param=exc.param, code=exc.code)
        return self._json(body, status=400)

    async def _stream(self, request: web.Request, frames: list[bytes]) -> web.StreamResponse:
        """Write SSE frames with `chunk_delay_ms` between them, counting how the stream ends.

        A client that goes away shows up as `ConnectionResetError` on the next write, or
        as cancellation of this handler when the server cancels handlers on disconnect.
        """
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        self._stats.streams_started += 1
        delay_s = self._options.chunk_delay_ms / 1000
        try:
            await self._delay_first_byte()
            await response.prepare(request)
            for position, frame in enumerate(frames):
                if position and delay_s > 0:
                    await asyncio.sleep(delay_s)
                await response.write(frame)
            await response.write_eof()
        except ConnectionResetError:
            self._stats.streams_cancelled += 1
            log.info("demo_upstream.stream_cancelled", path=request.path, cause="connection_reset")
            return response
        except asyncio.CancelledError:
            self._stats.streams_cancelled += 1
            log.info("demo_upstream.stream_cancelled", path=request.path, cause="handler_cancelled")
            raise
        self._stats.streams_completed += 1
        return response

    async def health(self, _request: web.Request) -> web.Response:
        return self._json({"status": "ok"})

    async def models(self, _request: web.Request) -> web.Response:
        return self._json(wire.models_list(self._options, created=0))

    async def model(self, request: web.Request) -> web.Response:
        return self._json(wire.model_card(request.match_info["model"], created=0))

    async def chat_completions(self, request: web.Request) -> web.StreamResponse:
        body = await self._receive(request)
        if (failure := await self._failure()) is not None:
            return failure
        try:
            chat = parse_chat(body)
            answer = answer_chat(chat, self._options)
        except DemoRequestError as exc:
            return await self._bad_request(exc)
        tokens = prompt_tokens(chat.messages)
        completion_id, created = wire.new_id("chatcmpl-"), int(time.time())
        if chat.stream:
            frames = wire.chat_stream(
                chat,
                answer,
                quirks=self._options.quirks,
                prompt_tokens=tokens,
                completion_id=completion_id,
                created=created,
            )
            return await self._stream(request, frames)
        await self._delay_first_byte()
        return self._json(
            wire.chat_completion(chat, answer, prompt_tokens=tokens, completion_id=completion_id, created=created)
        )

    async def completions(self, request: web.Request) -> web.StreamResponse:
        body = await self._receive(request)
        if (failure := await self._failure()) is not None:
            return failure
        try:
            completion = parse_completion(body)
        except DemoRequestError as exc:
            return await self._bad_request(exc)
        prompts = texts_of_input(completion.prompt, param="prompt")
        answers = [
            answer_prompt(
                prompt,
                options=self._options,
                max_tokens=completion.max_tokens,
                stop=completion.stop,
                echo_prompt=bool(completion.echo),
            )
            for prompt in prompts
            for _ in range(completion.choices)
        ]
        tokens = sum(count_tokens(prompt) for prompt in prompts)
        completion_id, created = wire.new_id("cmpl-"), int(time.time())
        if completion.stream:
            frames = wire.text_stream(
                completion,
                answers,
                quirks=self._options.quirks,
                prompt_tokens=tokens,
                completion_id=completion_id,
                created=created,
            )
            return await self._stream(request, frames)
        await self._delay_first_byte()
        return self._json(
            wire.text_completion(
                completion, answers, prompt_tokens=tokens, completion_id=completion_id, created=created
            )
        )

    async def embeddings(self, request: web.Request) -> web.Response:
        body = await self._receive(request)
        if (failure := await self._failure()) is not None:
            return failure
        try:
            embedding = parse_embedding(body)
        except DemoRequestError as exc:
            return await self._bad_request(exc)
        texts = texts_of_input(embedding.input, param="input")
        tokens = sum(count_tokens(text) for text in texts)
        await self._delay_first_byte()
        return self._json(wire.embeddings(embedding, texts, options=self._options, prompt_tokens=tokens))

    async def received_requests(self, _request: web.Request) -> web.Response:
        return self._json({"requests": [received.to_json() for received in self._received]})

    async def forget_requests(self, _request: web.Request) -> web.Response:
        cleared = len(self._received)
        self._received.clear()
        return self._json({"cleared": cleared})

    async def stats(self, _request: web.Request) -> web.Response:
        return self._json(dataclasses.asdict(self._stats))

    async def reset_stats(self, _request: web.Request) -> web.Response:
        self._stats = DemoStats()
        return self._json(dataclasses.asdict(self._stats))


def create_demo_app(options: DemoOptions) -> web.Application:
    """The demo upstream as an aiohttp application, with fresh counters and request log."""
    app = web.Application(client_max_size=MAX_BODY_BYTES)
    app.add_routes(_DemoUpstream(options).routes())
    return app


@contextlib.asynccontextmanager
async def running_demo_upstream(options: DemoOptions, *, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[str]:
    """Serve the demo upstream while the block runs; yields its base URL (`http://host:port`).

    `port=0` picks a free port, which is what tests want. Handlers are cancelled when
    their client disconnects, as the gateway's cancellation tests expect.
    """
    runner = web.AppRunner(
        create_demo_app(options),
        handler_cancellation=True,
        access_log=None,
        shutdown_timeout=SHUTDOWN_TIMEOUT_S,
    )
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        bound_port = runner.addresses[0][1]
        url_host = f"[{host}]" if ":" in host else host
        yield f"http://{url_host}:{bound_port}"
    finally:
        await runner.cleanup()


async def serve_demo_upstream(host: str, port: int, options: DemoOptions) -> None:
    """Serve the demo upstream until cancelled."""
    async with running_demo_upstream(options, host=host, port=port) as base_url:
        log.info(
            "demo_upstream.started",
            base_url=base_url,
            mode=options.mode,
            quirks=options.quirks,
            latency_ms=options.latency_ms,
            chunk_delay_ms=options.chunk_delay_ms,
            fail_status=options.fail_status,
        )
        await asyncio.Event().wait()


def run_demo_upstream(host: str, port: int, options: DemoOptions) -> None:
    """Serve the demo upstream until interrupted (Ctrl-C); for `gateway demo-upstream`.

    Uses uvloop when it is installed (it comes with `uvicorn[standard]`), for benchmarks.
    """
    loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = None
    with contextlib.suppress(ImportError):
        import uvloop  # noqa: PLC0415 - optional speed-up, absent on some platforms

        loop_factory = uvloop.new_event_loop
    with contextlib.suppress(KeyboardInterrupt), asyncio.Runner(loop_factory=loop_factory) as runner:
        runner.run(serve_demo_upstream(host, port, options))

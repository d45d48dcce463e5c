"""The streaming relay: backend SSE bytes in, normalised (and guarded) OpenAI SSE frames out.

Frames are yielded as soon as they are ready: nothing waits for the whole answer. The answer
guard (PII scan and pseudonym restore) sees each decoded chunk and may hold back text it cannot
judge yet; what it holds is flushed before the stream's end. A backend that breaks off, or a
guard that fails, ends the stream with an OpenAI error event rather than silence or unscanned text.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import replace
from typing import Any, Protocol

import aiohttp
import msgspec

from gateway.errors import GatewayError, UpstreamError, UpstreamTimeout
from gateway.pipeline import Endpoint, Usage
from gateway.upstream.normalize_stream import StreamNormalizer
from gateway.upstream.sse import SseEvent, SseParser, encode_data

_decoder = msgspec.json.Decoder()
_encoder = msgspec.json.Encoder()


class AnswerGuard(Protocol):
    """Answer-side processing for one call (PII scan, pseudonym restore)."""

    async def guard_body(
        self, body: Mapping[str, Any], endpoint: Endpoint
    ) -> tuple[dict[str, Any], dict[str, int]]: ...

    async def guard_chunk(self, chunk: Mapping[str, Any], endpoint: Endpoint) -> dict[str, Any]: ...

    async def flush_chunk(
        self, endpoint: Endpoint, template: Mapping[str, Any] | None = None
    ) -> dict[str, Any] | None: ...

    @property
    def response_counts(self) -> dict[str, int]: ...

    @property
    def stored_text(self) -> str: ...


def error_frame(error: GatewayError) -> bytes:
    """An SSE event carrying an OpenAI error object; both SDKs raise on it."""
    body = {"error": {"message": error.message, "type": error.openai_type, "param": None, "code": error.openai_code}}
    return encode_data(_encoder.encode(body))


class StreamRelay:
    """Turns one backend stream into client frames and remembers how it ended."""

    def __init__(self, *, endpoint: Endpoint, normalizer: StreamNormalizer, guard: AnswerGuard | None) -> None:
        self._endpoint = endpoint
        self._normalizer = normalizer
        self._guard = guard
        self.complete = False
        self.error: GatewayError | None = None
        self._last_chunk: dict[str, Any] | None = None
        self.tail: list[bytes] = []
        """The closing frames (finish chunk, usage, [DONE]), sent once the call is recorded."""

    @property
    def status_code(self) -> int:
        if self.error is not None:
            return self.error.status_code
        return 200 if self.complete else 499  # 499: the client went away first

    @property
    def usage(self) -> Usage | None:
        usage = self._normalizer.usage
        if usage is None:
            return None
        return Usage(usage.prompt_tokens, usage.completion_tokens, estimated=usage.estimated)

    @property
    def response_counts(self) -> dict[str, int]:
        return dict(self._guard.response_counts) if self._guard else {}

    @property
    def stored_text(self) -> str | None:
        """The answer for the audit log (redacted); None without a guard, which parses no chunks."""
        return self._guard.stored_text if self._guard else None

    async def frames(self, chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        try:
            async for event in _events(chunks):
                if event.data == "[DONE]":
                    for frame in await self._flush_guard():
                        yield frame
                for frame in self._normalizer.feed(await self._guarded(event)):
                    yield frame
            for frame in await self._flush_guard():
                yield frame
            self.tail = self._normalizer.finish()
            self.complete = True
        except TimeoutError:
            self.error = UpstreamTimeout("the backend stopped sending")
            yield error_frame(self.error)
        except aiohttp.ClientError:
            self.error = UpstreamError("the backend broke off the stream")
            yield error_frame(self.error)
        except GatewayError as exc:
            self.error = exc
            yield error_frame(exc)

    async def _flush_guard(self) -> list[bytes]:
        """Frames for text the guard still holds; each call drains it."""
        if self._guard is None:
            return []
        tail = await self._guard.flush_chunk(self._endpoint, self._last_chunk)
        if tail is None:
            return []
        return self._normalizer.feed(SseEvent(data=_encoder.encode(tail).decode()))

    async def _guarded(self, event: SseEvent) -> SseEvent:
        guard = self._guard
        if guard is None or event.data is None or event.data == "[DONE]":
            return event
        try:
            chunk = _decoder.decode(event.data)
        except msgspec.DecodeError:
            return event
        if not isinstance(chunk, dict) or "error" in chunk:
            return event
        self._last_chunk = chunk
        guarded = await guard.guard_chunk(chunk, self._endpoint)
        return event if guarded is chunk else replace(event, data=_encoder.encode(guarded).decode())


async def _events(chunks: AsyncIterator[bytes]) -> AsyncIterator[SseEvent]:
    parser = SseParser()
    async for data in chunks:
        for event in parser.feed(data):
            yield event
    for event in parser.close():
        yield event

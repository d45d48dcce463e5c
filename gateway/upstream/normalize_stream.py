"""Streaming chat and legacy completions, relayed so every OpenAI client can read them.

Sans-I/O: `StreamNormalizer` takes parsed `SseEvent`s from one upstream stream and returns
the SSE frames to send to the client, then the closing frames. What it fixes, and why:

- Events without a `data` line are dropped (both OpenAI SDKs crash on them); comment-only
  events are relayed as comments (keep-alives); `event:` and `id:` lines are not relayed
  (old Python SDKs wrap data of named events).
- `[DONE]` is held back and sent once by `finish()`, after whatever the gateway adds.
- Non-JSON data is dropped and counted. Error objects in any backend's shape (including
  llama.cpp's `error:` field) become OpenAI's error chunk, on which the SDKs raise; after
  that nothing more is sent.
- A choice that streamed but never got a `finish_reason` gets one at `finish()`; TGI's
  "eos_token" and similar become OpenAI's names (`normalize.openai_finish_reason`).
- `usage` the client did not ask for (the gateway asks for it to settle token budgets) is
  removed; a client that asked for it and got none receives an estimate.
- Tool calls: `id`, `type` and `function.name` go out once per (choice, tool call)
  (see `tool_deltas.py`).

Chunks that need none of this are relayed with their original data text, not re-encoded.
This module does not scan or redact content (that is `pii/stream.py`) and does no I/O.
"""

from __future__ import annotations

import time
from typing import Any, Literal

import msgspec

from gateway.upstream.normalize import openai_finish_reason
from gateway.upstream.sse import DONE_FRAME, SseEvent, encode_comments, encode_data
from gateway.upstream.tool_deltas import ToolCallDeltas
from gateway.upstream.usage import Usage, parse_usage
from gateway.upstream.wire_errors import error_body, error_body_from_json, stream_error_status

_CHUNK_OBJECT = {"chat": "chat.completion.chunk", "completion": "text_completion"}
_ID_FALLBACK = {"chat": "chatcmpl-gateway", "completion": "cmpl-gateway"}
_encode = msgspec.json.encode
_decode = msgspec.json.decode


class _Choice:
    """What one choice index has streamed so far."""

    __slots__ = ("finish_reason", "tools")

    def __init__(self) -> None:
        self.finish_reason: str | None = None
        self.tools = ToolCallDeltas()


def _frame(obj: dict[str, Any]) -> bytes:
    return b"data: " + _encode(obj) + b"\n\n"


def _is_error(obj: dict[str, Any]) -> bool:
    return bool(obj.get("error")) or obj.get("object") == "error" or ("detail" in obj and "choices" not in obj)


class StreamNormalizer:
    """Turns one upstream chat/completion stream into frames any OpenAI client can read.

    Call `feed()` for every parsed event and send what it returns; when the upstream stream
    ends, send what `finish()` returns. If the upstream fails mid-stream, send `abort()`
    instead of `finish()`.

    Estimated completion tokens (when the backend reports no usage) are the number of
    non-empty content, reasoning, text and tool/function-argument fragments streamed:
    servers send about one token per fragment, so this is close for vLLM, llama.cpp and
    OpenAI and an undercount for backends that batch tokens.
    """

    __slots__ = (
        "_choices",
        "_created",
        "_dropped",
        "_errored",
        "_finished",
        "_fragments",
        "_kind",
        "_last_id",
        "_last_model",
        "_last_object",
        "_model",
        "_prompt_estimate",
        "_reported",
        "_saw_chunk",
        "_saw_done",
        "_wants_usage",
    )

    def __init__(
        self,
        *,
        kind: Literal["chat", "completion"],
        client_wants_usage: bool,
        prompt_tokens_estimate: int,
        model: str,
    ) -> None:
        self._kind = kind
        self._wants_usage = client_wants_usage
        self._prompt_estimate = prompt_tokens_estimate
        self._model = model
        self._choices: dict[int, _Choice] = {}
        self._fragments = 0
        self._dropped = 0
        self._reported: Usage | None = None
        self._saw_chunk = False
        self._saw_done = False
        self._errored = False
        self._finished = False
        self._last_id: object = None
        self._last_model: object = None
        self._last_object: object = None
        self._created: object = None

    @property
    def usage(self) -> Usage | None:
        """Usage the backend reported; else the gateway's estimate once anything streamed."""
        if self._reported is not None:
            return self._reported
        if not (self._saw_chunk or self._finished):
            return None
        prompt, completion = self._prompt_estimate, self._fragments
        return Usage(prompt, completion, prompt + completion, estimated=True)

    @property
    def saw_done(self) -> bool:
        """Whether the backend sent `data: [DONE]` (False means it just closed the stream)."""
        return self._saw_done

    @property
    def dropped_events(self) -> int:
        """How many events had data that was not a JSON object."""
        return self._dropped

    @property
    def errored(self) -> bool:
        """Whether an error chunk was sent (from the backend or `abort()`)."""
        return self._errored

    @property
    def finish_reasons(self) -> dict[int, str | None]:
        """The finish_reason of every choice index seen so far (None while unfinished)."""
        return {index: choice.finish_reason for index, choice in self._choices.items()}

    def feed(self, event: SseEvent) -> list[bytes]:
        """The frames to send the client for one upstream event (often one, possibly none)."""
        if self._errored or self._finished or self._saw_done:
            return []
        data = event.data
        if data is None:
            return self._without_data(event)
        if data.startswith("[DONE]"):
            self._saw_done = True
            return []
        try:
            obj = _decode(data)
        except msgspec.DecodeError:
            obj = None
        if not isinstance(obj, dict):
            self._dropped += 1
            return []
        if _is_error(obj):
            return self._fail(obj)
        return self._relay(obj, data)

    def finish(self) -> list[bytes]:
        """Closing frames: missing finish_reasons, usage if owed, then `[DONE]`. Idempotent.

        Returns nothing after an error chunk: the client has already raised on it.
        """
        if self._finished:
            return []
        self._finished = True
        if self._errored:
            return []
        frames: list[bytes] = []
        for index in sorted(self._choices):
            choice = self._choices[index]
            if choice.finish_reason is None:
                if choice.tools.used_tools:
                    choice.finish_reason = "tool_calls"
                elif choice.tools.used_function_call:
                    choice.finish_reason = "function_call"
                else:
                    choice.finish_reason = "stop"
                frames.append(_frame(self._chunk([self._finish_choice(index, choice.finish_reason)])))
        if self._wants_usage and self._reported is None:
            usage = self.usage
            if usage is not None:
                chunk = self._chunk([])
                chunk["usage"] = usage.to_wire()
                frames.append(_frame(chunk))
        frames.append(DONE_FRAME)
        return frames

    def abort(self, message: str, *, code: str | None = None) -> list[bytes]:
        """An OpenAI error chunk ending the stream when the upstream failed mid-way.

        Returns nothing if the stream already ended (finish, error). No `[DONE]` follows.
        """
        if self._finished or self._errored:
            return []
        self._errored = True
        self._finished = True
        return [_frame(error_body(502, message, code=code))]

    def _without_data(self, event: SseEvent) -> list[bytes]:
        for name, value in event.extra:
            if name == "error":  # llama.cpp: `error: {...}` instead of a data line
                return self._fail(value)
        return [encode_comments(event.comments)] if event.comments else []

    def _fail(self, error: object) -> list[bytes]:
        if isinstance(error, str):
            try:
                error = _decode(error)
            except msgspec.DecodeError:
                error = {"error": error}
        status = stream_error_status(error)
        body = error_body_from_json(error, status) or error_body(status, f"Upstream stream failed (HTTP {status})")
        self._errored = True
        return [_frame(body)]

    def _relay(self, obj: dict[str, Any], data: str) -> list[bytes]:
        self._saw_chunk = True
        self._remember_meta(obj)
        modified = False
        choices = obj.get("choices")
        if isinstance(choices, list):
            for position, choice in enumerate(choices):
                if isinstance(choice, dict):
                    modified |= self._track_choice(choice, position)
        usage = obj.get("usage")
        if usage is not None:
            self._reported = parse_usage(usage) or self._reported
            if not self._wants_usage:
                del obj["usage"]
                if not choices:
                    return []
                modified = True
        return [_frame(obj) if modified else encode_data(data)]

    def _remember_meta(self, obj: dict[str, Any]) -> None:
        if "id" in obj:
            self._last_id = obj["id"]
        if "model" in obj:
            self._last_model = obj["model"]
        if "object" in obj:
            self._last_object = obj["object"]
        if "created" in obj:
            self._created = obj["created"]

    def _track_choice(self, choice: dict[str, Any], position: int) -> bool:
        index = choice.get("index")
        if not isinstance(index, int):
            index = position
        state = self._choices.get(index)
        if state is None:
            state = self._choices[index] = _Choice()
        modified = False
        if self._kind == "chat":
            delta = choice.get("delta")
            if isinstance(delta, dict) and delta:
                modified = self._track_delta(delta, state)
        elif choice.get("text"):
            self._fragments += 1
        reason = choice.get("finish_reason")
        if isinstance(reason, str) and reason:
            canonical = openai_finish_reason(reason)
            if canonical != reason:
                choice["finish_reason"] = canonical
                modified = True
            state.finish_reason = canonical
        return modified

    def _track_delta(self, delta: dict[str, Any], state: _Choice) -> bool:
        if delta.get("content"):
            self._fragments += 1
        if delta.get("reasoning_content") or delta.get("reasoning"):
            self._fragments += 1
        if "tool_calls" not in delta and "function_call" not in delta:
            return False
        modified, fragments = state.tools.fix(delta)
        self._fragments += fragments
        return modified

    def _chunk(self, choices: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "id": self._last_id or _ID_FALLBACK[self._kind],
            "object": self._last_object or _CHUNK_OBJECT[self._kind],
            "created": self._created if isinstance(self._created, int) else int(time.time()),
            "model": self._last_model or self._model,
            "choices": choices,
        }

    def _finish_choice(self, index: int, reason: str) -> dict[str, Any]:
        if self._kind == "chat":
            return {"index": index, "delta": {}, "logprobs": None, "finish_reason": reason}
        return {"index": index, "text": "", "logprobs": None, "finish_reason": reason}

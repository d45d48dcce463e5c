"""Response bodies and SSE frames of the demo upstream, in OpenAI's or llama.cpp's dialect.

Pure: builds dicts and byte frames from answers; the aiohttp adapter only writes them.
Streams are lists of complete SSE frames (`data: {json}\\n\\n` ... `data: [DONE]\\n\\n`),
so their framing is tested without a socket. The `llamacpp` quirks live here and only
here: no finish-reason or usage chunk, keep-alive comments and data-less events,
repeated tool-call headers with a legacy `function_call`, and `{"detail": ...}` errors.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator, Sequence
from typing import Any

import msgspec

from gateway.demo.answers import Answer, embed, encode_base64
from gateway.demo.options import DemoOptions, Quirks
from gateway.demo.parsing import ChatRequest, CompletionRequest, EmbeddingRequest

SYSTEM_FINGERPRINT = "fp_demo_upstream"
DONE_FRAME = b"data: [DONE]\n\n"
KEEP_ALIVE_FRAME = b": keep-alive\n\n"
PING_FRAME = b"event: ping\n\n"
OWNER = "gateway-demo"

_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "invalid_request_error",
    409: "conflict_error",
    413: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
}
_ERROR_CODES = {401: "invalid_api_key", 404: "model_not_found", 429: "rate_limit_exceeded"}


def new_id(prefix: str) -> str:
    """An OpenAI-looking identifier: `chatcmpl-...`, `cmpl-...`, `call_...`."""
    return prefix + secrets.token_hex(12)


def data_frame(payload: Any) -> bytes:
    """One SSE event carrying a JSON payload."""
    return b"data: " + msgspec.json.encode(payload) + b"\n\n"


def error_body(
    status: int, message: str, *, quirks: Quirks, param: str | None = None, code: str | None = None
) -> dict[str, Any]:
    """The error body for `status`: OpenAI's `{"error": {...}}`, or llama.cpp mode's `{"detail": ...}`."""
    if quirks == "llamacpp":
        return {"detail": message}
    error_type = _ERROR_TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
    return {
        "error": {
            "message": message,
            "type": error_type,
            "param": param,
            "code": code if code is not None else _ERROR_CODES.get(status),
        }
    }


def _usage(prompt: int, completion: int) -> dict[str, int]:
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def models_list(options: DemoOptions, *, created: int) -> dict[str, Any]:
    """`GET /v1/models`."""
    return {"object": "list", "data": [model_card(model, created=created) for model in options.models]}


def model_card(model: str, *, created: int) -> dict[str, Any]:
    """One entry of `GET /v1/models` (also `GET /v1/models/{id}`)."""
    return {"id": model, "object": "model", "created": created, "owned_by": OWNER}


def _message(answer: Answer) -> dict[str, Any]:
    if answer.tool_call is None:
        return {"role": "assistant", "content": answer.text, "refusal": None}
    call = {
        "id": new_id("call_"),
        "type": "function",
        "function": {"name": answer.tool_call.name, "arguments": answer.tool_call.arguments},
    }
    return {"role": "assistant", "content": None, "refusal": None, "tool_calls": [call]}


def chat_completion(
    request: ChatRequest, answer: Answer, *, prompt_tokens: int, completion_id: str, created: int
) -> dict[str, Any]:
    """A non-streaming `chat.completion` with `n` identical choices."""
    choices = [
        {"index": index, "message": _message(answer), "logprobs": None, "finish_reason": answer.finish_reason}
        for index in range(request.choices)
    ]
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": created,
        "model": request.model,
        "system_fingerprint": SYSTEM_FINGERPRINT,
        "choices": choices,
        "usage": _usage(prompt_tokens, answer.tokens * request.choices),
    }


def _with_quirk_frames(frames: list[bytes], quirks: Quirks) -> list[bytes]:
    """llama.cpp mode: a keep-alive comment after the first frame and a data-less event mid-stream."""
    if quirks != "llamacpp" or not frames:
        return frames
    middle = max(2, (len(frames) + 1) // 2)
    return [frames[0], KEEP_ALIVE_FRAME, *frames[1:middle], PING_FRAME, *frames[middle:]]


def _tool_deltas(name: str, pieces: Sequence[str], call_id: str, quirks: Quirks) -> Iterator[dict[str, Any]]:
    if quirks == "llamacpp":
        for piece in pieces:
            call = {"index": 0, "id": call_id, "type": "function", "function": {"name": name, "arguments": piece}}
            yield {"tool_calls": [call], "function_call": {"name": name, "arguments": piece}}
        return
    header = {"index": 0, "id": call_id, "type": "function", "function": {"name": name, "arguments": ""}}
    yield {"tool_calls": [header]}
    for piece in pieces:
        yield {"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}


def chat_stream(
    request: ChatRequest,
    answer: Answer,
    *,
    quirks: Quirks,
    prompt_tokens: int,
    completion_id: str,
    created: int,
) -> list[bytes]:
    """Every SSE frame of a streamed chat completion, `[DONE]` included.

    OpenAI order per choice: a role chunk, one chunk per word (or tool-argument fragment),
    a chunk with the finish reason; then a usage chunk with no choices when asked.
    Choices are interleaved word by word.
    """
    llamacpp = quirks == "llamacpp"
    with_usage = request.include_usage and not llamacpp
    base: dict[str, Any] = {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": request.model,
        "system_fingerprint": SYSTEM_FINGERPRINT,
    }

    def frame(index: int, delta: dict[str, Any], finish_reason: str | None = None) -> bytes:
        choice = {"index": index, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
        chunk = {**base, "choices": [choice]}
        if with_usage:
            chunk["usage"] = None
        return data_frame(chunk)

    role_delta: dict[str, Any] = {"role": "assistant", "content": None if llamacpp else ""}
    if answer.tool_call is not None and not llamacpp:
        role_delta["content"] = None
    frames = [frame(index, role_delta) for index in range(request.choices)]
    if answer.tool_call is None:
        per_choice: list[list[dict[str, Any]]] = [
            [{"content": piece} for piece in answer.pieces] for _ in range(request.choices)
        ]
    else:
        name = answer.tool_call.name
        per_choice = [list(_tool_deltas(name, answer.pieces, new_id("call_"), quirks)) for _ in range(request.choices)]
    for deltas in zip(*per_choice, strict=True):
        frames.extend(frame(index, delta) for index, delta in enumerate(deltas))
    if not llamacpp:
        frames.extend(frame(index, {}, answer.finish_reason) for index in range(request.choices))
    if with_usage:
        frames.append(
            data_frame({**base, "choices": [], "usage": _usage(prompt_tokens, answer.tokens * request.choices)})
        )
    return [*_with_quirk_frames(frames, quirks), DONE_FRAME]


def text_completion(
    request: CompletionRequest,
    answers: Sequence[Answer],
    *,
    prompt_tokens: int,
    completion_id: str,
    created: int,
) -> dict[str, Any]:
    """A non-streaming legacy `text_completion`; `answers` holds one answer per choice."""
    choices = [
        {"text": answer.text, "index": index, "logprobs": None, "finish_reason": answer.finish_reason}
        for index, answer in enumerate(answers)
    ]
    return {
        "id": completion_id,
        "object": "text_completion",
        "created": created,
        "model": request.model,
        "system_fingerprint": SYSTEM_FINGERPRINT,
        "choices": choices,
        "usage": _usage(prompt_tokens, sum(answer.tokens for answer in answers)),
    }


def text_stream(
    request: CompletionRequest,
    answers: Sequence[Answer],
    *,
    quirks: Quirks,
    prompt_tokens: int,
    completion_id: str,
    created: int,
) -> list[bytes]:
    """Every SSE frame of a streamed legacy completion, `[DONE]` included."""
    llamacpp = quirks == "llamacpp"
    with_usage = request.include_usage and not llamacpp
    base: dict[str, Any] = {
        "id": completion_id,
        "object": "text_completion",
        "created": created,
        "model": request.model,
        "system_fingerprint": SYSTEM_FINGERPRINT,
    }

    def frame(index: int, text: str, finish_reason: str | None = None) -> bytes:
        choice = {"text": text, "index": index, "logprobs": None, "finish_reason": finish_reason}
        return data_frame({**base, "choices": [choice]})

    frames: list[bytes] = []
    longest = max(len(answer.pieces) for answer in answers)
    for position in range(longest):
        frames.extend(
            frame(index, answer.pieces[position])
            for index, answer in enumerate(answers)
            if position < len(answer.pieces)
        )
    if not llamacpp:
        frames.extend(frame(index, "", answer.finish_reason) for index, answer in enumerate(answers))
    if with_usage:
        usage = _usage(prompt_tokens, sum(answer.tokens for answer in answers))
        frames.append(data_frame({**base, "choices": [], "usage": usage}))
    return [*_with_quirk_frames(frames, quirks), DONE_FRAME]


def embeddings(
    request: EmbeddingRequest, texts: Sequence[str], *, options: DemoOptions, prompt_tokens: int
) -> dict[str, Any]:
    """`POST /v1/embeddings`: one vector per input text; base64 unless llama.cpp mode ignores it."""
    dimensions = request.dimensions or options.embedding_dim
    as_base64 = request.encoding_format == "base64" and options.quirks != "llamacpp"
    data = []
    for index, text in enumerate(texts):
        vector = embed(text, dimensions)
        data.append(
            {"object": "embedding", "index": index, "embedding": encode_base64(vector) if as_base64 else vector}
        )
    return {
        "object": "list",
        "data": data,
        "model": request.model,
        "usage": {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens},
    }

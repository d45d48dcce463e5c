"""Decoding and validation of the requests the demo upstream accepts.

Turns request bodies into typed values in one msgspec pass and reports what is wrong as a
`DemoRequestError` (message and OpenAI `param`). Only the fields the demo acts on are
declared; anything else is ignored, as a lenient inference server would. This is not the
gateway's front-end validation, which lives in `gateway/api/`.
"""

from __future__ import annotations

import re
from typing import Any, Literal

import msgspec

MAX_CHOICES = 128


class DemoRequestError(Exception):
    """A request body the demo upstream refuses with 400."""

    def __init__(self, message: str, *, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code


class ContentPart(msgspec.Struct):
    type: str
    text: str | None = None


class Message(msgspec.Struct):
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[ContentPart] | None = None


class FunctionSpec(msgspec.Struct):
    name: str
    parameters: dict[str, Any] | None = None


class Tool(msgspec.Struct):
    type: str = "function"
    function: FunctionSpec | None = None


class NamedFunction(msgspec.Struct):
    name: str


class NamedToolChoice(msgspec.Struct):
    type: str = "function"
    function: NamedFunction | None = None


class JsonSchemaSpec(msgspec.Struct):
    name: str | None = None
    schema: dict[str, Any] | None = None


class ResponseFormat(msgspec.Struct):
    type: Literal["text", "json_object", "json_schema"]
    json_schema: JsonSchemaSpec | None = None


class StreamOptions(msgspec.Struct):
    include_usage: bool | None = None


class ChatRequest(msgspec.Struct):
    """The parts of `POST /v1/chat/completions` the demo acts on."""

    model: str
    messages: list[Message]
    stream: bool | None = None
    stream_options: StreamOptions | None = None
    n: int | None = None
    max_tokens: int | None = None
    max_completion_tokens: int | None = None
    stop: str | list[str] | None = None
    response_format: ResponseFormat | None = None
    tools: list[Tool] | None = None
    tool_choice: str | NamedToolChoice | None = None

    @property
    def choices(self) -> int:
        return 1 if self.n is None else self.n

    @property
    def include_usage(self) -> bool:
        return self.stream_options is not None and bool(self.stream_options.include_usage)


class CompletionRequest(msgspec.Struct):
    """The parts of the legacy `POST /v1/completions` the demo acts on."""

    model: str
    prompt: Any
    stream: bool | None = None
    stream_options: StreamOptions | None = None
    n: int | None = None
    max_tokens: int | None = None
    stop: str | list[str] | None = None
    echo: bool | None = None

    @property
    def choices(self) -> int:
        return 1 if self.n is None else self.n

    @property
    def include_usage(self) -> bool:
        return self.stream_options is not None and bool(self.stream_options.include_usage)


class EmbeddingRequest(msgspec.Struct):
    """The parts of `POST /v1/embeddings` the demo acts on."""

    model: str
    input: Any
    encoding_format: Literal["float", "base64"] | None = None
    dimensions: int | None = None


_MISSING = re.compile(r"missing required field `([^`]+)`")
_AT = re.compile(r" - at `\$\.?([^`]*)`")


def _request_error(exc: msgspec.DecodeError) -> DemoRequestError:
    text = str(exc)
    if not isinstance(exc, msgspec.ValidationError):
        return DemoRequestError(f"We could not parse the JSON body of your request ({text}).", code="invalid_json")
    at = _AT.search(text)
    path = at.group(1) if at else ""
    missing = _MISSING.search(text)
    if missing:
        param = f"{path}.{missing.group(1)}" if path else missing.group(1)
        return DemoRequestError(
            f"Missing required parameter: '{param}'.", param=param, code="missing_required_parameter"
        )
    return DemoRequestError(f"Invalid request: {text}", param=path or None, code="invalid_value")


def _check_positive(value: int | None, param: str) -> None:
    if value is not None and value < 1:
        raise DemoRequestError(
            f"Invalid '{param}': {value} is less than the minimum of 1.", param=param, code="invalid_value"
        )


def _check_choices(n: int | None) -> None:
    _check_positive(n, "n")
    if n is not None and n > MAX_CHOICES:
        raise DemoRequestError(f"Invalid 'n': at most {MAX_CHOICES}.", param="n", code="invalid_value")


def parse_chat(body: bytes) -> ChatRequest:
    """Decode a chat completion request. Raises `DemoRequestError` when it is not one."""
    try:
        request = msgspec.json.decode(body, type=ChatRequest)
    except msgspec.DecodeError as exc:
        raise _request_error(exc) from exc
    if not request.messages:
        raise DemoRequestError(
            "Invalid 'messages': empty array. Expected at least one message.",
            param="messages",
            code="empty_array",
        )
    _check_choices(request.n)
    _check_positive(request.max_tokens, "max_tokens")
    _check_positive(request.max_completion_tokens, "max_completion_tokens")
    return request


def parse_completion(body: bytes) -> CompletionRequest:
    """Decode a legacy completion request. Raises `DemoRequestError` when it is not one."""
    try:
        request = msgspec.json.decode(body, type=CompletionRequest)
    except msgspec.DecodeError as exc:
        raise _request_error(exc) from exc
    _check_choices(request.n)
    _check_positive(request.max_tokens, "max_tokens")
    texts_of_input(request.prompt, param="prompt")
    return request


def parse_embedding(body: bytes) -> EmbeddingRequest:
    """Decode an embedding request. Raises `DemoRequestError` when it is not one."""
    try:
        request = msgspec.json.decode(body, type=EmbeddingRequest)
    except msgspec.DecodeError as exc:
        raise _request_error(exc) from exc
    _check_positive(request.dimensions, "dimensions")
    texts_of_input(request.input, param="input")
    return request


def _is_token(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _tokens_text(tokens: list[Any]) -> str:
    return " ".join(str(token) for token in tokens)


def texts_of_input(value: Any, *, param: str) -> list[str]:
    """The texts of a `prompt` or embedding `input`: a string, strings, token ids or lists of them.

    Token arrays become their ids joined by spaces, so each id counts as one token.
    Raises `DemoRequestError` for anything else or an empty list.
    """
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and value:
        if all(isinstance(item, str) for item in value):
            return list(value)
        if all(_is_token(item) for item in value):
            return [_tokens_text(value)]
        if all(isinstance(item, list) and item and all(_is_token(t) for t in item) for item in value):
            return [_tokens_text(item) for item in value]
    raise DemoRequestError(
        f"Invalid '{param}': expected a string, an array of strings, an array of token ids "
        "or an array of token arrays, none empty.",
        param=param,
        code="invalid_value",
    )

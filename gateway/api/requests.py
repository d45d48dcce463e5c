"""Decoding and validating front-API request bodies.

Pure: bytes in, a checked JSON object out, or `InvalidRequest` naming the offending `param`
in OpenAI's words. Only what the gateway itself relies on is checked; every other field
passes through to the backend untouched, so new OpenAI parameters work without a release.
"""

from __future__ import annotations

from typing import Any

import msgspec

from gateway.errors import InvalidRequest
from gateway.pipeline import Endpoint

_decoder = msgspec.json.Decoder()

_ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})


def decode_body(raw: bytes) -> dict[str, Any]:
    """The JSON object in a request body."""
    if not raw.strip():
        raise InvalidRequest("The request body is empty; expected a JSON object.")
    try:
        body = _decoder.decode(raw)
    except msgspec.DecodeError as exc:
        raise InvalidRequest("We could not parse the JSON body of your request. The body must be valid JSON.") from exc
    if not isinstance(body, dict):
        raise InvalidRequest("The request body must be a JSON object.")
    return body


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_common(body: dict[str, Any]) -> None:
    model = body.get("model")
    if model is None:
        raise InvalidRequest("you must provide a model parameter", param="model")
    if not isinstance(model, str) or not model:
        raise InvalidRequest("'model' must be a non-empty string.", param="model")
    stream = body.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise InvalidRequest("'stream' must be a boolean.", param="stream")
    options = body.get("stream_options")
    if options is not None:
        if not isinstance(options, dict):
            raise InvalidRequest("'stream_options' must be an object.", param="stream_options")
        if not stream:
            raise InvalidRequest(
                "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
                param="stream_options",
            )
        include = options.get("include_usage")
        if include is not None and not isinstance(include, bool):
            raise InvalidRequest("'include_usage' must be a boolean.", param="stream_options.include_usage")
    for name in ("max_tokens", "max_completion_tokens", "n"):
        value = body.get(name)
        if value is not None and (not _is_int(value) or value < 1):
            raise InvalidRequest(f"'{name}' must be a positive integer.", param=name)


def _check_messages(body: dict[str, Any]) -> None:
    messages = body.get("messages")
    if messages is None:
        raise InvalidRequest("Missing required parameter: 'messages'.", param="messages")
    if not isinstance(messages, list) or not messages:
        raise InvalidRequest("'messages' must be a non-empty array.", param="messages")
    for index, message in enumerate(messages):
        param = f"messages[{index}]"
        if not isinstance(message, dict):
            raise InvalidRequest(f"'{param}' must be an object.", param=param)
        role = message.get("role")
        if role not in _ROLES:
            raise InvalidRequest(
                f"Invalid value for '{param}.role': expected one of {', '.join(sorted(_ROLES))}.",
                param=f"{param}.role",
            )
        content = message.get("content")
        if content is not None and not isinstance(content, str | list):
            raise InvalidRequest(f"'{param}.content' must be a string or an array.", param=f"{param}.content")


def _check_prompt(body: dict[str, Any]) -> None:
    prompt = body.get("prompt")
    if prompt is None:
        raise InvalidRequest("Missing required parameter: 'prompt'.", param="prompt")
    if not isinstance(prompt, str | list):
        raise InvalidRequest("'prompt' must be a string or an array.", param="prompt")


def _check_input(body: dict[str, Any]) -> None:
    value = body.get("input")
    if value is None:
        raise InvalidRequest("Missing required parameter: 'input'.", param="input")
    if isinstance(value, str):
        return
    if not isinstance(value, list) or not value:
        raise InvalidRequest("'input' must be a string or a non-empty array.", param="input")
    if any(isinstance(item, str) and not item for item in value):
        raise InvalidRequest("'input' cannot contain empty strings.", param="input")


def validate(endpoint: Endpoint, body: dict[str, Any]) -> dict[str, Any]:
    """Check the fields the gateway relies on for this endpoint; return the body unchanged."""
    _check_common(body)
    if endpoint == "chat":
        _check_messages(body)
    elif endpoint == "completion":
        _check_prompt(body)
    else:
        if body.get("stream"):
            raise InvalidRequest("Embeddings cannot be streamed.", param="stream")
        _check_input(body)
    return body

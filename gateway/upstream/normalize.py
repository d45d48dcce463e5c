"""Request and non-streaming response fixes that make any backend look like OpenAI.

Pure dict-to-dict functions on the JSON wire bodies. They change only what a backend gets
wrong or cannot read, never mutate their input, and hand back the very same object when
nothing needed changing so the caller can skip re-encoding. Streams are handled by
`normalize_stream.py`, error bodies by `wire_errors.py`, embeddings by `embeddings.py`.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

_FINISH_REASONS = {
    # TGI before 2.2.1, Together, DeepSeek-style servers: typed clients (openai-dotnet,
    # async-openai) reject any value outside OpenAI's enum.
    "eos_token": "stop",
    "eos": "stop",
    "end": "stop",
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "tool_use": "tool_calls",
}


def openai_finish_reason(reason: str) -> str:
    """OpenAI's name for a backend's finish_reason; values it does not know pass unchanged."""
    return _FINISH_REASONS.get(reason, reason)


def translate_request(
    body: dict[str, Any],
    *,
    kind: Literal["chat", "completion", "embedding"],
    accepts_max_completion_tokens: bool,
    ask_stream_usage: bool,
) -> dict[str, Any]:
    """The request body to send upstream: always a new dict, `body` is left untouched.

    - Backends that do not accept `max_completion_tokens` get its value as `max_tokens`
      (unless the client also sent `max_tokens`, which then wins); `max_completion_tokens`
      is dropped for them either way.
    - When the request streams and `ask_stream_usage` is set, `stream_options.include_usage`
      is forced on (other `stream_options` keys kept) so the gateway can settle real usage;
      the stream normaliser strips the usage again if the client did not ask for it.
    - Every other field passes through untouched.
    """
    out = dict(body)
    if kind == "embedding":
        return out
    if not accepts_max_completion_tokens and "max_completion_tokens" in out:
        value = out.pop("max_completion_tokens")
        if out.get("max_tokens") is None and value is not None:
            out["max_tokens"] = value
    if ask_stream_usage and out.get("stream") is True:
        options = out.get("stream_options")
        if not (isinstance(options, dict) and options.get("include_usage") is True):
            out["stream_options"] = {**(options if isinstance(options, dict) else {}), "include_usage": True}
    return out


def complete_nonstream_chat(body: dict[str, Any]) -> dict[str, Any]:
    """A non-streaming chat completion with the gaps quirky backends leave filled in.

    Fills `object` ("chat.completion"), a choice's missing `index` (its position),
    `message.role` ("assistant"), a null `finish_reason` ("tool_calls" when the message
    has tool calls, else "stop"), a tool call's missing `type` ("function"); renames
    non-OpenAI finish reasons (`openai_finish_reason`); and turns
    `function.arguments` sent as a JSON object (Ollama-style) into the JSON string OpenAI
    sends. Returns `body` itself when it needed none of that; otherwise a new dict.
    """
    changed = False
    out = body
    if "object" not in body:
        out = {**body, "object": "chat.completion"}
        changed = True
    choices = body.get("choices")
    if isinstance(choices, list):
        new_choices = [_complete_choice(choice, pos) for pos, choice in enumerate(choices)]
        if any(new is not old for new, old in zip(new_choices, choices, strict=True)):
            out = {**out, "choices": new_choices}
            changed = True
    return out if changed else body


def _complete_choice(choice: object, position: int) -> object:
    if not isinstance(choice, dict):
        return choice
    fixes: dict[str, Any] = {}
    if not isinstance(choice.get("index"), int):
        fixes["index"] = position
    message = choice.get("message")
    has_tool_calls = False
    if isinstance(message, dict):
        new_message = _complete_message(message)
        if new_message is not message:
            fixes["message"] = new_message
        has_tool_calls = bool(new_message.get("tool_calls"))
    reason = choice.get("finish_reason")
    if reason is None:
        fixes["finish_reason"] = "tool_calls" if has_tool_calls else "stop"
    elif isinstance(reason, str) and reason in _FINISH_REASONS:
        fixes["finish_reason"] = _FINISH_REASONS[reason]
    return {**choice, **fixes} if fixes else choice


def _complete_message(message: dict[str, Any]) -> dict[str, Any]:
    fixes: dict[str, Any] = {}
    if not message.get("role"):
        fixes["role"] = "assistant"
    tool_calls = message.get("tool_calls")
    if isinstance(tool_calls, list):
        new_calls = [_complete_tool_call(call) for call in tool_calls]
        if any(new is not old for new, old in zip(new_calls, tool_calls, strict=True)):
            fixes["tool_calls"] = new_calls
    return {**message, **fixes} if fixes else message


def _complete_tool_call(call: object) -> object:
    if not isinstance(call, dict):
        return call
    fixes: dict[str, Any] = {}
    if not call.get("type"):
        fixes["type"] = "function"
    function = call.get("function")
    if isinstance(function, dict) and isinstance(function.get("arguments"), dict | list):
        fixes["function"] = {**function, "arguments": msgspec.json.encode(function["arguments"]).decode()}
    return {**call, **fixes} if fixes else call

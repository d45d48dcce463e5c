"""Rough token estimates for prompts, before the backend reports real usage.

Pure. Used for up-front rate-limit reservations and for usage the gateway must synthesise when
a backend reports none. Not a tokenizer: about four characters per token for Latin text and
one token per CJK character, which over-estimates a little for English on purpose.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def _text_tokens(text: str) -> int:
    if text.isascii():
        return (len(text) + 3) // 4
    cjk = sum(1 for ch in text if "\u3000" <= ch <= "\u9fff" or "\uac00" <= ch <= "\ud7af")
    return cjk + (len(text) - cjk + 3) // 4


def _collect(value: Any, out: list[str]) -> None:
    if isinstance(value, str):
        out.append(value)
    elif isinstance(value, list):
        for item in value:
            _collect(item, out)
    elif isinstance(value, dict):
        for key in ("content", "text", "arguments", "function", "tool_calls"):
            if key in value:
                _collect(value[key], out)


def estimate_prompt_tokens(body: Mapping[str, Any]) -> int:
    """Estimated prompt tokens of a chat, completion or embeddings request body."""
    texts: list[str] = []
    for key in ("messages", "prompt", "input"):
        if key in body:
            _collect(body[key], texts)
    per_message = 4 * len(body["messages"]) if isinstance(body.get("messages"), list) else 0
    return sum(_text_tokens(t) for t in texts) + per_message

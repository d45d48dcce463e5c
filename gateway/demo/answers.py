"""What the demo upstream answers: canned or echoed text, tool calls, JSON, embeddings.

Pure and deterministic: the same request gives the same answer, token counts and
vectors, so tests and benchmarks can rely on them. Tokens are whitespace-separated
words, which is no tokenizer but is stable and cheap. Nothing here is a model, and
nothing here knows about HTTP or the wire format (see `wire.py`).
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import math
import re
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from gateway.demo.options import DemoOptions
from gateway.demo.parsing import ChatRequest, ContentPart, DemoRequestError, Message

FIXED_ANSWER = (
    "This is the demo upstream, not a real model. It gives this fixed answer "
    "so that demos, tests and benchmarks are deterministic."
)
LONG_ANSWER_WORDS = 400
"""Length of the answer in llama.cpp mode when no `max_tokens` caps it."""

FinishReason = Literal["stop", "length", "tool_calls"]

_WORD = re.compile(r"\s*\S+")
_MAX_SCHEMA_DEPTH = 8
_STRING_FORMATS = {
    "date-time": "1970-01-01T00:00:00Z",
    "date": "1970-01-01",
    "time": "00:00:00",
    "uri": "https://example.com/",
    "uuid": "00000000-0000-4000-8000-000000000000",
}


def count_tokens(text: str) -> int:
    """Demo token count: whitespace-separated words."""
    return len(text.split())


def split_words(text: str) -> list[str]:
    """Cut text into pieces of one word each (with its leading whitespace); they join back to `text`."""
    pieces: list[str] = _WORD.findall(text)
    consumed = sum(map(len, pieces))
    if consumed < len(text):
        if pieces:
            pieces[-1] += text[consumed:]
        else:
            pieces = [text]
    return pieces


def content_text(content: str | Sequence[ContentPart] | None) -> str:
    """The text of a message content: the string, or its text parts joined by newlines."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    return "\n".join(part.text for part in content if part.type == "text" and part.text is not None)


def prompt_tokens(messages: Iterable[Message]) -> int:
    """Tokens of every message content, tool results included."""
    return sum(count_tokens(content_text(message.content)) for message in messages)


def last_user_text(messages: Sequence[Message]) -> str:
    """The text of the last user message, or "" if there is none."""
    for message in reversed(messages):
        if message.role == "user":
            return content_text(message.content)
    return ""


@dataclass(frozen=True, slots=True)
class ToolCallAnswer:
    """The one function call the demo makes when tools are offered."""

    name: str
    arguments: str


@dataclass(frozen=True, slots=True)
class Answer:
    """One choice: content (or tool call arguments) cut into one-word pieces."""

    pieces: tuple[str, ...]
    finish_reason: FinishReason
    tokens: int
    tool_call: ToolCallAnswer | None = None

    @property
    def text(self) -> str:
        return "".join(self.pieces)


def capped_answer(
    text: str,
    *,
    max_tokens: int | None,
    stop: str | Sequence[str] | None = None,
    tool_name: str | None = None,
) -> Answer:
    """Cut `text` at the first stop sequence and at `max_tokens` words, with the finish reason that says so."""
    if stop and tool_name is None:
        for sequence in [stop] if isinstance(stop, str) else stop:
            if sequence and sequence in text:
                text = text[: text.index(sequence)]
    pieces = split_words(text)
    finish: FinishReason = "tool_calls" if tool_name is not None else "stop"
    if max_tokens is not None and count_tokens(text) > max_tokens:
        pieces = pieces[:max_tokens]
        finish = "length"
    kept = "".join(pieces)
    tool_call = None if tool_name is None else ToolCallAnswer(tool_name, kept)
    return Answer(tuple(pieces), finish, count_tokens(kept), tool_call)


def long_text(words: int = LONG_ANSWER_WORDS) -> str:
    """The fixed answer repeated until it is `words` words long (llama.cpp without `max_tokens`)."""
    return " ".join(itertools.islice(itertools.cycle(FIXED_ANSWER.split()), words))


_SCALARS: dict[str, Any] = {"integer": 0, "number": 0, "boolean": False, "null": None}


def _resolved(schema: Any, root: Any, depth: int) -> tuple[Any, int]:
    """Follow local `$ref`s and take the first branch of anyOf/oneOf/allOf."""
    while isinstance(schema, dict) and depth <= _MAX_SCHEMA_DEPTH:
        ref = schema.get("$ref")
        branches = next((schema[key] for key in ("anyOf", "oneOf", "allOf") if isinstance(schema.get(key), list)), None)
        if isinstance(ref, str) and ref.startswith("#/"):
            target: Any = root
            for part in ref[2:].split("/"):
                target = target.get(part) if isinstance(target, dict) else None
            schema = target
        elif branches:
            schema = branches[0]
        else:
            break
        depth += 1
    return schema, depth


def sample_for_schema(schema: Any, text: str, *, root: Any = None, depth: int = 0) -> Any:
    """A value that satisfies a (simple) JSON schema; every free string in it is `text`.

    Handles what structured outputs and tool schemas use in practice: types, enum,
    const, anyOf/oneOf/allOf (first branch), local `$ref`s, nested objects and arrays.
    """
    root = schema if root is None else root
    schema, depth = _resolved(schema, root, depth)
    if not isinstance(schema, dict) or depth > _MAX_SCHEMA_DEPTH:
        return text
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object" or (kind is None and "properties" in schema):
        properties = schema.get("properties") or {}
        return {name: sample_for_schema(sub, text, root=root, depth=depth + 1) for name, sub in properties.items()}
    if kind == "array":
        items = schema.get("items")
        return [sample_for_schema(items, text, root=root, depth=depth + 1)] if items else []
    return _SCALARS[kind] if kind in _SCALARS else _STRING_FORMATS.get(schema.get("format", ""), text)


def _json_text(value: Any) -> str:
    # Default separators keep spaces, so a JSON answer streams as several words.
    return json.dumps(value, ensure_ascii=False)


def _chosen_tool(request: ChatRequest) -> tuple[str, dict[str, Any] | None] | None:
    functions = [tool.function for tool in request.tools or () if tool.function is not None]
    choice = request.tool_choice
    if not functions or choice == "none":
        return None
    if choice is None or isinstance(choice, str) or choice.function is None:
        return functions[0].name, functions[0].parameters
    for function in functions:
        if function.name == choice.function.name:
            return function.name, function.parameters
    raise DemoRequestError(
        f"Invalid 'tool_choice': no tool named '{choice.function.name}' in 'tools'.",
        param="tool_choice",
        code="invalid_value",
    )


def tool_arguments(parameters: dict[str, Any] | None, query: str) -> str:
    """Arguments for the demo's tool call: filled from the tool's schema, else `{"query": ...}`."""
    if parameters and parameters.get("properties"):
        return _json_text(sample_for_schema(parameters, query))
    return _json_text({"query": query})


def answer_chat(request: ChatRequest, options: DemoOptions) -> Answer:
    """The answer every choice of a chat completion gets.

    Raises `DemoRequestError` when `tool_choice` names a tool that was not offered.
    """
    if options.quirks == "llamacpp":
        max_tokens = request.max_tokens  # llama.cpp ignores max_completion_tokens
    else:
        max_tokens = request.max_completion_tokens or request.max_tokens
    user_text = last_user_text(request.messages)
    tool = _chosen_tool(request)
    if tool is not None:
        name, parameters = tool
        return capped_answer(tool_arguments(parameters, user_text), max_tokens=max_tokens, tool_name=name)
    if options.mode == "echo":
        text = user_text
    elif options.quirks == "llamacpp" and max_tokens is None:
        text = long_text()
    else:
        text = FIXED_ANSWER
    response_format = request.response_format
    if response_format is not None and response_format.type == "json_schema":
        schema = response_format.json_schema.schema if response_format.json_schema else None
        text = _json_text(sample_for_schema(schema or {"type": "object"}, text))
        if not text.startswith("{"):
            text = _json_text({"answer": json.loads(text)})
    elif response_format is not None and response_format.type == "json_object":
        text = _json_text({"answer": text})
    return capped_answer(text, max_tokens=max_tokens, stop=request.stop)


def answer_prompt(
    prompt: str,
    *,
    options: DemoOptions,
    max_tokens: int | None,
    stop: str | Sequence[str] | None,
    echo_prompt: bool,
) -> Answer:
    """The answer to one legacy completion prompt (prefixed with the prompt when `echo` is asked)."""
    if options.mode == "echo":
        text = prompt
    elif options.quirks == "llamacpp" and max_tokens is None:
        text = long_text()
    else:
        text = FIXED_ANSWER
    answer = capped_answer(text, max_tokens=max_tokens, stop=stop)
    if not echo_prompt:
        return answer
    return Answer((prompt, *answer.pieces), answer.finish_reason, answer.tokens)


def embed(text: str, dimensions: int) -> list[float]:
    """A deterministic unit-length vector derived from a hash of `text`."""
    digest = hashlib.shake_256(text.encode()).digest(4 * dimensions)
    values = struct.unpack(f"<{dimensions}i", digest)
    norm = math.hypot(*values)
    if norm == 0:
        return [1.0] + [0.0] * (dimensions - 1)
    return [value / norm for value in values]


def encode_base64(vector: Sequence[float]) -> str:
    """OpenAI's `encoding_format: base64`: little-endian float32, base64."""
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")

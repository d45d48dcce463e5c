"""Where the scannable text sits in OpenAI request, answer and stream-chunk bodies.

Pure: walks decoded JSON and returns each text with the path that leads to it, so the text
can be analysed and written back. It knows the OpenAI wire shapes (chat messages and content
parts, tool-call arguments, legacy completions and function calls, embeddings input) and
nothing about PII: it neither detects nor redacts. Bodies are never mutated; rebuilding
copies only the containers on the way to a replaced text.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from gateway.pipeline import Endpoint

TextKind = Literal["text", "json"]
"""`json` marks texts that are JSON documents (tool-call arguments): values restored into them
are JSON-escaped, and values taken from them are JSON-unescaped first."""

Path = tuple[str | int, ...]
ChannelKey = tuple[str | int, ...]
"""One streamed text of an answer: `(choice, "content")`, `(choice, "reasoning_content")`,
`(choice, "tool_calls", tool_index)`, `(choice, "function_call")` or `(choice, "text")`."""

_REASONING_FIELDS = ("reasoning_content", "reasoning")
_MESSAGE_TEXT_FIELDS = ("content", *_REASONING_FIELDS)


@dataclass(frozen=True, slots=True)
class TextLocation:
    """One text inside a body and the path (keys and list indices) that leads to it."""

    path: Path
    text: str = field(repr=False)
    kind: TextKind = "text"


@dataclass(frozen=True, slots=True)
class DeltaText:
    """One text fragment of a streamed chunk, with the answer channel it continues."""

    channel: ChannelKey
    location: TextLocation


def request_texts(body: Mapping[str, Any], endpoint: Endpoint) -> tuple[TextLocation, ...]:
    """Every text of a request that is forwarded to the model, in body order.

    Chat: message `content` (a string, or the `text` of content parts of type `text`, for
    every role including `tool` results), assistant reasoning, `tool_calls[].function.arguments`
    and legacy `function_call.arguments`. Completions: `prompt` (string or list of strings; token
    ids are left alone) and `suffix`. Embeddings: `input` (string or list of strings).
    """
    if endpoint == "chat":
        return tuple(_chat_request_texts(body))
    if endpoint == "completion":
        found = list(_strings(body, "prompt"))
        suffix = body.get("suffix")
        if isinstance(suffix, str):
            found.append(TextLocation(("suffix",), suffix))
        return tuple(found)
    return tuple(_strings(body, "input"))


def answer_texts(body: Mapping[str, Any], endpoint: Endpoint) -> tuple[TextLocation, ...]:
    """Every text of a non-streamed answer: chat message content, reasoning and tool-call
    arguments, or completion `text`. Embedding answers hold no text."""
    found: list[TextLocation] = []
    for position, choice in _dicts(body.get("choices")):
        base: Path = ("choices", position)
        if endpoint == "chat":
            message = choice.get("message")
            if isinstance(message, dict):
                found.extend(_message_texts(message, (*base, "message"), parts=False))
        elif endpoint == "completion" and isinstance(choice.get("text"), str):
            found.append(TextLocation((*base, "text"), choice["text"]))
    return tuple(found)


def delta_texts(chunk: Mapping[str, Any], endpoint: Endpoint) -> tuple[DeltaText, ...]:
    """The text fragments of one streamed chunk, each with its answer channel.

    Channels are keyed by the `index` fields the chunk carries (choice index, tool-call index),
    falling back to list positions, so fragments of one text across chunks share a key.
    """
    found: list[DeltaText] = []
    for position, choice in _dicts(chunk.get("choices")):
        index = _index(choice, position)
        base: Path = ("choices", position)
        if endpoint == "completion":
            if isinstance(choice.get("text"), str):
                found.append(DeltaText((index, "text"), TextLocation((*base, "text"), choice["text"])))
            continue
        delta = choice.get("delta")
        if isinstance(delta, dict):
            found.extend(_chat_delta_texts(delta, (*base, "delta"), index))
    return tuple(found)


def finished_choices(chunk: Mapping[str, Any]) -> tuple[int, ...]:
    """Indices of the choices this chunk ends (those with a `finish_reason`)."""
    return tuple(
        _index(choice, position)
        for position, choice in _dicts(chunk.get("choices"))
        if isinstance(choice.get("finish_reason"), str) and choice["finish_reason"]
    )


def channel_kind(channel: ChannelKey) -> TextKind:
    """`json` for tool-call and function-call argument channels, else `text`."""
    return "json" if len(channel) > 1 and channel[1] in {"tool_calls", "function_call"} else "text"


def replace_texts(body: Mapping[str, Any], replacements: Mapping[Path, str]) -> dict[str, Any]:
    """A copy of `body` with the text at each path replaced. The input is not changed.

    Only the containers on the way to a replaced text are copied; everything else is shared
    with the input. Raises `KeyError`/`IndexError` if a path does not exist in `body`.
    """
    tree: dict[str | int, Any] = {}
    for path, text in replacements.items():
        node = tree
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = _Leaf(text)
    rebuilt = _rebuild(body, tree)
    return rebuilt if isinstance(rebuilt, dict) else dict(body)


def with_channel_texts(chunk: Mapping[str, Any], endpoint: Endpoint, texts: Mapping[ChannelKey, str]) -> dict[str, Any]:
    """A copy of a streamed chunk whose channel fragments are the given texts.

    Channels the chunk carries are replaced in place; others are added to the chunk (a choice
    with that index, a `delta` field, a tool-call entry with that index), except empty texts.
    """
    present = {item.channel: item.location.path for item in delta_texts(chunk, endpoint)}
    rebuilt = replace_texts(chunk, {present[key]: text for key, text in texts.items() if key in present})
    missing = {key: text for key, text in texts.items() if key not in present and text}
    if not missing:
        return rebuilt
    choices = copy.deepcopy(rebuilt.get("choices"))
    rebuilt["choices"] = choices if isinstance(choices, list) else []
    for key, text in missing.items():
        _add_fragment(rebuilt["choices"], endpoint, key, text)
    return rebuilt


@dataclass(frozen=True, slots=True)
class _Leaf:
    text: str


def _rebuild(node: Any, tree: Mapping[str | int, Any]) -> Any:
    if isinstance(node, Mapping):
        copied: dict[str, Any] = dict(node)
        for key, sub in tree.items():
            copied[str(key)] = sub.text if isinstance(sub, _Leaf) else _rebuild(node[key], sub)
        return copied
    if isinstance(node, Sequence) and not isinstance(node, str):
        items = list(node)
        for key, sub in tree.items():
            if not isinstance(key, int):
                raise KeyError(key)
            items[key] = sub.text if isinstance(sub, _Leaf) else _rebuild(node[key], sub)
        return items
    raise KeyError(next(iter(tree)))


def _chat_request_texts(body: Mapping[str, Any]) -> Iterator[TextLocation]:
    for position, message in _dicts(body.get("messages")):
        yield from _message_texts(message, ("messages", position), parts=True)


def _message_texts(message: Mapping[str, Any], base: Path, *, parts: bool) -> Iterator[TextLocation]:
    for name in _MESSAGE_TEXT_FIELDS:
        value = message.get(name)
        if isinstance(value, str):
            yield TextLocation((*base, name), value)
        elif parts and name == "content":
            for part_position, part in _dicts(value):
                if part.get("type") == "text" and isinstance(part.get("text"), str):
                    yield TextLocation((*base, name, part_position, "text"), part["text"])
    for tool_position, call in _dicts(message.get("tool_calls")):
        arguments = _arguments(call.get("function"))
        if arguments is not None:
            yield TextLocation((*base, "tool_calls", tool_position, "function", "arguments"), arguments, "json")
    arguments = _arguments(message.get("function_call"))
    if arguments is not None:
        yield TextLocation((*base, "function_call", "arguments"), arguments, "json")


def _chat_delta_texts(delta: Mapping[str, Any], base: Path, index: int) -> Iterator[DeltaText]:
    for name in _MESSAGE_TEXT_FIELDS:
        if isinstance(delta.get(name), str):
            yield DeltaText((index, name), TextLocation((*base, name), delta[name]))
    for tool_position, call in _dicts(delta.get("tool_calls")):
        arguments = _arguments(call.get("function"))
        if arguments is not None:
            path: Path = (*base, "tool_calls", tool_position, "function", "arguments")
            yield DeltaText((index, "tool_calls", _index(call, tool_position)), TextLocation(path, arguments, "json"))
    arguments = _arguments(delta.get("function_call"))
    if arguments is not None:
        path = (*base, "function_call", "arguments")
        yield DeltaText((index, "function_call"), TextLocation(path, arguments, "json"))


def _strings(body: Mapping[str, Any], name: str) -> Iterator[TextLocation]:
    value = body.get(name)
    if isinstance(value, str):
        yield TextLocation((name,), value)
    elif isinstance(value, list):
        for position, item in enumerate(value):
            if isinstance(item, str):
                yield TextLocation((name, position), item)


def _arguments(function: object) -> str | None:
    """The `arguments` text of a `function` / `function_call` object, if there is one."""
    if isinstance(function, dict) and isinstance(function.get("arguments"), str):
        return str(function["arguments"])
    return None


def _dicts(value: object) -> Iterator[tuple[int, dict[str, Any]]]:
    if isinstance(value, list):
        for position, item in enumerate(value):
            if isinstance(item, dict):
                yield position, item


def _index(item: Mapping[str, Any], position: int) -> int:
    index = item.get("index")
    return index if isinstance(index, int) and not isinstance(index, bool) else position


def _add_fragment(choices: list[Any], endpoint: Endpoint, key: ChannelKey, text: str) -> None:
    index = key[0]
    found = next((c for p, c in _dicts(choices) if _index(c, p) == index), None)
    choice: dict[str, Any] = {"index": index, "finish_reason": None} if found is None else found
    if found is None:
        choices.append(choice)
    if endpoint == "completion":
        choice["text"] = text
        return
    delta = choice.get("delta")
    if not isinstance(delta, dict):
        delta = choice["delta"] = {}
    if key[1] == "tool_calls":
        calls = delta.get("tool_calls")
        if not isinstance(calls, list):
            calls = delta["tool_calls"] = []
        call = next((c for p, c in _dicts(calls) if _index(c, p) == key[2]), None)
        if call is None:
            call = {"index": key[2]}
            calls.append(call)
        function = call.get("function")
        if not isinstance(function, dict):
            function = call["function"] = {}
        function["arguments"] = text
    elif key[1] == "function_call":
        function = delta.get("function_call")
        if not isinstance(function, dict):
            function = delta["function_call"] = {}
        function["arguments"] = text
    else:
        delta[str(key[1])] = text

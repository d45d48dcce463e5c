"""Streamed tool-call fragments of one choice, cleaned so clients concatenate them correctly.

Pure and per choice. OpenAI sends a tool call's `id`, `type` and `function.name` in its
first fragment only and then argument text; clients (the SDKs' stream accumulators,
langchain's chunk merging) concatenate every string they see. llama.cpp and others repeat
the id and name in every fragment, which langchain turns into "get_weatherget_weather".
This module strips the repeats, infers a missing `index`, adds a missing `type`, turns
arguments sent as a JSON object into text, and drops a legacy `function_call` sent beside
`tool_calls`. It does not look at content or finish reasons (`normalize_stream.py` does).
"""

from __future__ import annotations

from typing import Any

import msgspec

_SENT_ID = 1
_SENT_TYPE = 2
_SENT_NAME = 4


class ToolCallDeltas:
    """Tool-call state of one streamed choice. `fix()` edits a delta in place."""

    __slots__ = ("_function_name_sent", "_last_id", "_last_index", "_sent", "used_function_call", "used_tools")

    def __init__(self) -> None:
        self.used_tools = False
        """Whether the choice streamed any `tool_calls`."""
        self.used_function_call = False
        """Whether the choice streamed a legacy `function_call` (without tool calls)."""
        self._sent: dict[int, int] = {}
        self._last_index: int | None = None
        self._last_id: object = None
        self._function_name_sent = False

    def fix(self, delta: dict[str, Any]) -> tuple[bool, int]:
        """Clean the delta's `tool_calls` / `function_call` in place.

        Returns:
            Whether the delta changed, and how many non-empty argument fragments it carried.
        """
        tool_calls = delta.get("tool_calls")
        if isinstance(tool_calls, list) and tool_calls:
            self.used_tools = True
            modified = False
            if "function_call" in delta:  # both shapes at once: clients would see the call twice
                del delta["function_call"]
                modified = True
            fragments = 0
            for call in tool_calls:
                if isinstance(call, dict):
                    changed, has_arguments = self._fix_call(call)
                    modified |= changed
                    fragments += has_arguments
            return modified, fragments
        function_call = delta.get("function_call")
        if isinstance(function_call, dict):
            return self._fix_function_call(function_call)
        return False, 0

    def _fix_function_call(self, function_call: dict[str, Any]) -> tuple[bool, int]:
        self.used_function_call = True
        arguments = function_call.get("arguments")
        fragments = 1 if isinstance(arguments, str) and arguments else 0
        if function_call.get("name"):
            if self._function_name_sent:
                del function_call["name"]
                return True, fragments
            self._function_name_sent = True
        return False, fragments

    def _fix_call(self, call: dict[str, Any]) -> tuple[bool, bool]:
        modified = False
        call_id = call.get("id")
        index = call.get("index")
        if not isinstance(index, int) or isinstance(index, bool):
            index = call["index"] = self._infer_index(call_id)
            modified = True
        self._last_index = index
        sent = self._sent.get(index, 0)
        if call_id:
            self._last_id = call_id
            if sent & _SENT_ID:
                del call["id"]
                modified = True
            sent |= _SENT_ID
        if call.get("type"):
            if sent & _SENT_TYPE:
                del call["type"]
                modified = True
            sent |= _SENT_TYPE
        has_arguments = False
        function = call.get("function")
        if isinstance(function, dict):
            sent, changed, has_arguments = self._fix_function(function, sent)
            modified |= changed
        if sent & (_SENT_ID | _SENT_NAME) and not sent & _SENT_TYPE:
            call["type"] = "function"
            sent |= _SENT_TYPE
            modified = True
        self._sent[index] = sent
        return modified, has_arguments

    @staticmethod
    def _fix_function(function: dict[str, Any], sent: int) -> tuple[int, bool, bool]:
        modified = False
        if function.get("name"):
            if sent & _SENT_NAME:
                del function["name"]
                modified = True
            sent |= _SENT_NAME
        arguments = function.get("arguments")
        if isinstance(arguments, dict | list):  # a JSON object instead of its text
            arguments = function["arguments"] = msgspec.json.encode(arguments).decode()
            modified = True
        return sent, modified, isinstance(arguments, str) and bool(arguments)

    def _infer_index(self, call_id: object) -> int:
        """A fragment without `index` continues the last call unless it brings a new id."""
        if self._last_index is None:
            return 0
        if call_id and call_id != self._last_id:
            return max(self._sent) + 1
        return self._last_index

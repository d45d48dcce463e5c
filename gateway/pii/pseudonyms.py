"""Per-request pseudonyms: stable placeholders such as `<PERSON_1>` and the way back.

Pure. One `Pseudonymizer` lives for one call: the pipeline creates it when it redacts the
prompt, the answer guard uses it to restore placeholders for the caller, and then it is
dropped. It is never logged (its repr shows only a count), never stored, never shared, so one
request cannot see another's values. Placeholder tokens, mask tokens and the value
normalisation shared with hashing live here too, because they must agree with each other.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable

from gateway.pii.locations import TextKind

PLACEHOLDER_PATTERN = re.compile(r"<[A-Z][A-Z0-9_]*_[1-9][0-9]*>")
"""The shape of every placeholder (`<PERSON_1>`, `<EMAIL_ADDRESS_12>`)."""

_NOT_LABEL = re.compile(r"[^A-Z0-9_]")


def entity_label(entity_type: str) -> str:
    """The entity type as it appears inside tokens: upper case, `[A-Z0-9_]`, starts with a letter."""
    label = _NOT_LABEL.sub("_", entity_type.upper()) or "PII"
    return label if label[0].isalpha() else "PII_" + label


def mask_token(entity_type: str) -> str:
    """`<EMAIL_ADDRESS>`: what a masked value becomes."""
    return f"<{entity_label(entity_type)}>"


def plain_value(value: str, kind: TextKind) -> str:
    """A matched value as plain text: JSON-unescaped when it was cut from a JSON document.

    Equal values then get equal placeholders and hashes wherever they were found.
    """
    if kind == "json" and "\\" in value:
        try:
            decoded = json.loads(f'"{value}"')
        except ValueError:
            return value
        return decoded if isinstance(decoded, str) else value
    return value


class Pseudonymizer:
    """Maps values to stable per-request placeholders and restores them.

    The same (entity type, value) always gets the same placeholder within the request, across
    all messages and tool calls. `restore()` replaces only placeholders this object created as
    restorable; anything else shaped like a placeholder is left as it is.
    """

    __slots__ = ("_counters", "_placeholders", "_reserved", "_values")

    def __init__(self) -> None:
        self._placeholders: dict[tuple[str, str], str] = {}
        self._values: dict[str, tuple[str, bool]] = {}
        self._counters: dict[str, int] = {}
        self._reserved: set[str] = set()

    def __repr__(self) -> str:
        return f"<Pseudonymizer placeholders={len(self._values)}>"

    @property
    def count(self) -> int:
        """How many placeholders were created."""
        return len(self._values)

    def reserve(self, texts: Iterable[str]) -> None:
        """Never hand out a placeholder that already appears, literally, in these texts.

        Call it with the request's texts before pseudonymizing, so a placeholder-shaped string
        the caller typed is not later "restored" into a value.
        """
        for text in texts:
            if "<" in text:
                self._reserved.update(PLACEHOLDER_PATTERN.findall(text))

    def placeholder_for(self, entity_type: str, value: str, *, restorable: bool = True) -> str:
        """The placeholder for a value, creating it on first sight.

        `restorable=False` is for values first seen in the answer: they stay hidden from the
        caller, because the caller never sent them.
        """
        key = (entity_type, value)
        existing = self._placeholders.get(key)
        if existing is not None:
            return existing
        label = entity_label(entity_type)
        number = self._counters.get(label, 0)
        while True:
            number += 1
            placeholder = f"<{label}_{number}>"
            if placeholder not in self._reserved and placeholder not in self._values:
                break
        self._counters[label] = number
        self._placeholders[key] = placeholder
        self._values[placeholder] = (value, restorable)
        return placeholder

    def is_restorable(self, placeholder: str) -> bool:
        """Whether `placeholder` is one of this request's placeholders for a caller's value."""
        entry = self._values.get(placeholder)
        return entry is not None and entry[1]

    def placeholder_spans(self, text: str) -> list[tuple[int, int]]:
        """Where this object's placeholders occur in `text` (start, end exclusive)."""
        if not self._values or "<" not in text:
            return []
        return [m.span() for m in PLACEHOLDER_PATTERN.finditer(text) if m.group() in self._values]

    def restore(self, text: str, *, kind: TextKind = "text") -> str:
        """`text` with each restorable placeholder replaced by its original value.

        For `json` texts (tool-call arguments) the value is JSON-escaped, so it stays a valid
        string literal wherever the model put the placeholder inside one.
        """
        if not self._values or "<" not in text:
            return text

        def original(match: re.Match[str]) -> str:
            entry = self._values.get(match.group())
            if entry is None or not entry[1]:
                return match.group()
            return json.dumps(entry[0], ensure_ascii=False)[1:-1] if kind == "json" else entry[0]

        return PLACEHOLDER_PATTERN.sub(original, text)

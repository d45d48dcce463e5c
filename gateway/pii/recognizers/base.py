"""The shape of our own recognizers and the small text tools they share.

Our recognizers are pure scanners: they take a text and return `Finding`s, using regular
expressions, check digits, word lists and context windows, with no NLP model and no
presidio import. `gateway/pii/analyzer.py` wraps each one as a presidio recognizer, so the
same code runs in the analyzer and in fast unit tests. Context is looked up in raw
characters (not tokens) because the Chinese text we scan is not split into words.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Protocol

from gateway.pii.findings import Finding


class Scanner(Protocol):
    """A pure recognizer: which entity types it can report, and where they are in a text."""

    @property
    def entities(self) -> tuple[str, ...]:
        """The entity types this scanner reports."""
        ...

    def scan(self, text: str, /) -> list[Finding]:
        """Findings in `text`, in any order; they may overlap (the analyzer resolves that)."""
        ...


def window_before(text: str, start: int, size: int) -> str:
    """Up to `size` characters before `start`, lower-cased, for context look-ups."""
    return text[max(0, start - size) : start].lower()


def window_after(text: str, end: int, size: int) -> str:
    """Up to `size` characters after `end`, lower-cased, for context look-ups."""
    return text[end : end + size].lower()


def context_pattern(words: Iterable[str]) -> re.Pattern[str]:
    """One regex that finds any of `words` (case-insensitive).

    ASCII words must stand alone (`card` does not match `discard`); CJK words match anywhere,
    since Chinese is written without spaces.
    """
    parts = []
    for word in sorted(set(words), key=len, reverse=True):
        escaped = re.escape(word.lower())
        parts.append(rf"(?<![a-z0-9]){escaped}(?![a-z0-9])" if word.isascii() else escaped)
    return re.compile("|".join(parts), re.IGNORECASE)


def has_context(pattern: re.Pattern[str], text: str, start: int, end: int, *, before: int, after: int = 0) -> bool:
    """Whether a context word occurs within `before` chars before the span or `after` chars after it."""
    if pattern.search(window_before(text, start, before)):
        return True
    return bool(after) and bool(pattern.search(window_after(text, end, after)))


def is_cjk(char: str) -> bool:
    """Whether `char` is a CJK unified ideograph (the Han characters of Chinese text)."""
    return "\u4e00" <= char <= "\u9fff" or "\u3400" <= char <= "\u4dbf"


def cjk_share(text: str) -> float:
    """Share of CJK ideographs among the letters of `text` (0 when it has no letters)."""
    letters = [char for char in text if char.isalpha()]
    if not letters:
        return 0.0
    return sum(1 for char in letters if is_cjk(char)) / len(letters)


def words(text: str) -> tuple[str, ...]:
    """The whitespace-separated words of `text`: word lists read better as one block of text."""
    return tuple(text.split())

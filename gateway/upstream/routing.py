"""Backend choice: spread load over a model's backends and give the order to try them in.

Pure. Round-robin per model; the caller walks the returned order and moves to the next backend
on connection errors or 5xx before the first byte (failover lives in `client.py`).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence


class RoundRobin:
    """Rotates the starting backend per model, so each backend leads in turn."""

    def __init__(self) -> None:
        self._counters: dict[tuple[str, ...], itertools.count[int]] = {}

    def order(self, candidates: Sequence[str]) -> tuple[str, ...]:
        """All candidates, starting from the next one in turn."""
        if len(candidates) <= 1:
            return tuple(candidates)
        key = tuple(candidates)
        counter = self._counters.setdefault(key, itertools.count())
        start = next(counter) % len(key)
        return key[start:] + key[:start]

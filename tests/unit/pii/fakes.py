"""In-memory PiiDetector fakes for the redaction, stream and step tests (the real one is presidio)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import anyio
import anyio.lowlevel

from gateway.auth import Principal
from gateway.pii.findings import Finding
from gateway.pipeline import CallRequest, Context, Endpoint

NAMES = ("Alice Jones", "John Smith", "Maria Garcia", "Bob", "张三", "李四")

DEFAULT_PATTERNS: dict[str, str] = {
    "EMAIL_ADDRESS": r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}",
    "PHONE_NUMBER": r"\b\d{3}-\d{3}-\d{4}\b",
    "CREDIT_CARD": r"\b\d{4} \d{4} \d{4} \d{4}\b",
    "PERSON": r"(?<![A-Za-z])(?:" + "|".join(map(re.escape, NAMES)) + r")(?![A-Za-z])",
}
SCORES = {"EMAIL_ADDRESS": 1.0, "PHONE_NUMBER": 0.75, "CREDIT_CARD": 0.9, "PERSON": 0.85}


class RegexDetector:
    """A PiiDetector that finds a few entity types with regexes; records what it was asked."""

    def __init__(self, patterns: Mapping[str, str] = DEFAULT_PATTERNS, *, delay_s: float = 0.0) -> None:
        self._patterns = {entity: re.compile(pattern) for entity, pattern in patterns.items()}
        self._delay_s = delay_s
        self.calls = 0
        self.batches: list[int] = []

    def find_sync(self, text: str) -> tuple[Finding, ...]:
        return tuple(
            Finding(entity, m.start(), m.end(), SCORES.get(entity, 0.8))
            for entity, pattern in self._patterns.items()
            for m in pattern.finditer(text)
        )

    async def find(self, texts: list[str], /) -> list[tuple[Finding, ...]]:
        self.calls += 1
        self.batches.append(len(texts))
        if self._delay_s:
            await anyio.sleep(self._delay_s)
        else:
            await anyio.lowlevel.checkpoint()
        return [self.find_sync(text) for text in texts]


class FailingDetector(RegexDetector):
    """Works for `ok_calls` calls, then raises `error` (a detector crash, a dead worker...)."""

    def __init__(self, error: Exception | None = None, *, ok_calls: int = 0) -> None:
        super().__init__()
        self._error = error or RuntimeError("analyzer crashed")
        self._ok_calls = ok_calls

    async def find(self, texts: list[str], /) -> list[tuple[Finding, ...]]:
        if self.calls >= self._ok_calls:
            self.calls += 1
            raise self._error
        return await super().find(texts)


def make_context(
    body: Mapping[str, Any],
    *,
    endpoint: Endpoint = "chat",
    actions: Mapping[str, str] | None = None,
    request_id: str = "req-1",
) -> Context:
    request = CallRequest(
        request_id=request_id, endpoint=endpoint, requested_model="m", model="m", body=body, stream=False
    )
    principal = Principal(key_id="key_test", tenant="acme", roles=frozenset({"app"}))
    return Context(request=request, principal=principal, body=body, backends=("b",), pii_actions=actions or {})

"""Settings of the demo upstream: how it answers and which backend it imitates.

A plain value, shared by the pure answer logic and the aiohttp adapter. It is not the
gateway's configuration: the gateway never reads it; only the `gateway demo-upstream`
command and tests build one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Mode = Literal["fixed", "echo"]
Quirks = Literal["none", "llamacpp"]


@dataclass(frozen=True, slots=True)
class DemoOptions:
    """How the demo upstream behaves.

    The demo upstream is a stand-in for an inference server, clearly not a model: it
    answers with canned text (`fixed`) or with the last user message verbatim (`echo`,
    so that answer-side PII redaction can be shown).
    """

    mode: Mode = "fixed"
    """`fixed`: a deterministic canned answer. `echo`: the last user message (or the prompt)."""
    quirks: Quirks = "none"
    """`llamacpp` imitates where llama.cpp's server departs from OpenAI's wire format."""
    latency_ms: float = 0
    """Delay before the first byte of every `/v1` answer."""
    chunk_delay_ms: float = 0
    """Delay between two frames of a stream."""
    fail_status: int | None = None
    """When set, every `/v1` POST is answered with this HTTP status and an error body."""
    models: tuple[str, ...] = ("demo-chat", "demo-embed")
    """Listed by `GET /v1/models`. Requests may name any model; the gateway decides which exist."""
    embedding_dim: int = 64
    """Length of embedding vectors unless the request asks for `dimensions`."""

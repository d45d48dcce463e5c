"""Token usage of one upstream call, as reported by the backend or estimated by the gateway.

Pure value plus its parser from OpenAI's `usage` object. The rate limiter settles token
budgets with it and the audit log records it; neither needs to know which backend spoke.
Not a tokenizer: estimates come from the caller (prompt) and the stream normaliser
(completion), and say so in `estimated`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Usage:
    """Prompt, completion and total tokens; `estimated` when the gateway counted, not the backend."""

    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    estimated: bool = False

    def to_wire(self) -> dict[str, int]:
        """OpenAI's `usage` object (without the `estimated` flag, which is the gateway's own)."""
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.total_tokens,
        }


def _count(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, float) and value.is_integer() and value >= 0:
        return int(value)
    return None


def parse_usage(value: object) -> Usage | None:
    """The backend's `usage` object as a `Usage`, or None when it carries no token counts.

    A missing count is taken as 0 (embeddings report no completion tokens) and a missing
    total as the sum; negative or non-numeric counts are treated as missing.
    """
    if not isinstance(value, dict):
        return None
    prompt = _count(value.get("prompt_tokens"))
    completion = _count(value.get("completion_tokens"))
    if prompt is None and completion is None:
        return None
    prompt = prompt or 0
    completion = completion or 0
    total = _count(value.get("total_tokens"))
    return Usage(prompt, completion, total if total is not None else prompt + completion)

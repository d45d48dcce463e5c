"""How many tokens to reserve for a call before it is forwarded.

Pure. The prompt part uses the gateway's shared estimator (`gateway.tokens`), the same one
the stream relay uses when a backend reports no usage, so a reservation and a synthesised
usage agree. The completion part is what the call may produce: `max_completion_tokens` or
`max_tokens` if the client set one, else a configured default, times the number of choices.
A reservation only has to be roughly right: the finisher settles it with the usage the
backend reports.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from gateway.pipeline import Endpoint
from gateway.tokens import estimate_prompt_tokens

_MAX_CHOICES = 128
"""OpenAI's upper bound for `n`; larger values are rejected upstream, not reserved for here."""


@dataclass(frozen=True, slots=True)
class TokenEstimate:
    """Tokens reserved for one call: prompt (estimated) plus the completion it may produce."""

    prompt_tokens: int
    completion_tokens: int

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


def _positive_int(value: object) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    return None


def _token_ids(value: object) -> int:
    """Tokens given as ids (`[1, 2, 3]` or `[[1, 2], [3]]`), which the text estimator skips."""
    if not isinstance(value, list):
        return 0
    if all(isinstance(v, int) for v in value):
        return len(value)
    return sum(len(v) for v in value if isinstance(v, list) and all(isinstance(t, int) for t in v))


def estimate_call_tokens(
    endpoint: Endpoint, body: Mapping[str, object], *, default_completion_tokens: int
) -> TokenEstimate:
    """The reservation for one call of `endpoint` with this request body."""
    prompt = estimate_prompt_tokens(body) + _token_ids(body.get("prompt")) + _token_ids(body.get("input"))
    if endpoint == "embedding":
        return TokenEstimate(prompt, 0)
    asked = _positive_int(body.get("max_completion_tokens")) or _positive_int(body.get("max_tokens"))
    choices = max(_positive_int(body.get("n")) or 1, _positive_int(body.get("best_of")) or 1)
    per_choice = asked if asked is not None else default_completion_tokens
    return TokenEstimate(prompt, per_choice * min(choices, _MAX_CHOICES))

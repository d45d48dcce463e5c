"""OpenAI's `x-ratelimit-*` response headers, computed from one call's counter readings.

Pure. A call is usually subject to several limits of a kind (its key's, its tenant's, its
model's; per minute and per day for tokens); OpenAI reports one per kind, so the headers show
the most constraining one: the limit that denied the call, else the one with least room left.
Concurrency limits have no OpenAI header and are left out.
"""

from __future__ import annotations

from collections.abc import Sequence

from gateway.ratelimit.rules import CounterReading, LimitKind, format_duration

_GROUPS: tuple[tuple[str, frozenset[LimitKind]], ...] = (
    ("requests", frozenset({LimitKind.REQUESTS_PER_MINUTE})),
    ("tokens", frozenset({LimitKind.TOKENS_PER_MINUTE, LimitKind.TOKENS_PER_DAY})),
)


def _used(reading: CounterReading, *, admitted: bool) -> int:
    # A denied call's charge is rolled back, so it leaves the counter where it was.
    return reading.used if admitted else reading.used - reading.cost


def _most_constraining(readings: Sequence[CounterReading], *, admitted: bool) -> CounterReading:
    over = [r for r in readings if not r.fits]
    if over:
        return max(over, key=lambda r: r.resets_at)
    return min(readings, key=lambda r: (r.limit.amount - _used(r, admitted=admitted), r.limit.amount))


def ratelimit_headers(readings: Sequence[CounterReading], *, admitted: bool, now: float) -> dict[str, str]:
    """`x-ratelimit-{limit,remaining,reset}-{requests,tokens}` for the limits that apply.

    `admitted` says whether the call keeps its charge; remaining counts are never negative and
    resets are written as OpenAI writes them (`1s`, `6m0s`).
    """
    headers: dict[str, str] = {}
    for suffix, kinds in _GROUPS:
        group = [r for r in readings if r.limit.kind in kinds]
        if not group:
            continue
        chosen = _most_constraining(group, admitted=admitted)
        remaining = max(0, chosen.limit.amount - _used(chosen, admitted=admitted))
        headers[f"x-ratelimit-limit-{suffix}"] = str(chosen.limit.amount)
        headers[f"x-ratelimit-remaining-{suffix}"] = str(remaining)
        headers[f"x-ratelimit-reset-{suffix}"] = format_duration(chosen.resets_at - now)
    return headers

from __future__ import annotations

from gateway.ratelimit.headers import ratelimit_headers
from gateway.ratelimit.rules import CounterReading, Limit, LimitKind, Scope, format_duration

NOW = 1_700_000_000.0
TENANT = Scope("tenant", "acme")
KEY = Scope("key", "key_1")


def reading(scope: Scope, kind: LimitKind, amount: int, *, used: int, cost: int, resets_in: float) -> CounterReading:
    return CounterReading(Limit(scope, kind, amount), used=used, cost=cost, resets_at=NOW + resets_in)


def test_admitted_call_reports_room_left_after_its_own_charge() -> None:
    headers = ratelimit_headers(
        [
            reading(TENANT, LimitKind.REQUESTS_PER_MINUTE, 60, used=10, cost=1, resets_in=42.0),
            reading(TENANT, LimitKind.TOKENS_PER_MINUTE, 10_000, used=2_500, cost=500, resets_in=42.0),
        ],
        admitted=True,
        now=NOW,
    )
    assert headers == {
        "x-ratelimit-limit-requests": "60",
        "x-ratelimit-remaining-requests": "50",
        "x-ratelimit-reset-requests": format_duration(42.0),
        "x-ratelimit-limit-tokens": "10000",
        "x-ratelimit-remaining-tokens": "7500",
        "x-ratelimit-reset-tokens": format_duration(42.0),
    }


def test_the_limit_with_least_room_is_reported_among_scopes() -> None:
    headers = ratelimit_headers(
        [
            reading(TENANT, LimitKind.REQUESTS_PER_MINUTE, 600, used=100, cost=1, resets_in=10),
            reading(KEY, LimitKind.REQUESTS_PER_MINUTE, 5, used=4, cost=1, resets_in=20),
        ],
        admitted=True,
        now=NOW,
    )
    assert headers["x-ratelimit-limit-requests"] == "5"
    assert headers["x-ratelimit-remaining-requests"] == "1"
    assert headers["x-ratelimit-reset-requests"] == format_duration(20)


def test_a_daily_budget_with_less_room_than_the_minute_limit_is_the_one_reported() -> None:
    headers = ratelimit_headers(
        [
            reading(TENANT, LimitKind.TOKENS_PER_MINUTE, 100_000, used=1_000, cost=1_000, resets_in=30),
            reading(TENANT, LimitKind.TOKENS_PER_DAY, 50_000, used=49_000, cost=1_000, resets_in=7200),
        ],
        admitted=True,
        now=NOW,
    )
    assert headers["x-ratelimit-limit-tokens"] == "50000"
    assert headers["x-ratelimit-remaining-tokens"] == "1000"
    assert headers["x-ratelimit-reset-tokens"] == "2h0m0s"


def test_denied_call_reports_the_denying_limit_without_its_own_charge() -> None:
    headers = ratelimit_headers(
        [
            reading(TENANT, LimitKind.REQUESTS_PER_MINUTE, 600, used=100, cost=1, resets_in=10),
            reading(KEY, LimitKind.REQUESTS_PER_MINUTE, 5, used=6, cost=1, resets_in=20),
        ],
        admitted=False,
        now=NOW,
    )
    assert headers["x-ratelimit-limit-requests"] == "5"
    assert headers["x-ratelimit-remaining-requests"] == "0"


def test_remaining_never_goes_negative() -> None:
    headers = ratelimit_headers(
        [reading(TENANT, LimitKind.TOKENS_PER_MINUTE, 1000, used=1400, cost=100, resets_in=10)], admitted=False, now=NOW
    )
    assert headers["x-ratelimit-remaining-tokens"] == "0"


def test_kinds_without_a_limit_get_no_headers() -> None:
    headers = ratelimit_headers(
        [reading(TENANT, LimitKind.REQUESTS_PER_MINUTE, 60, used=1, cost=1, resets_in=10)], admitted=True, now=NOW
    )
    assert set(headers) == {
        "x-ratelimit-limit-requests",
        "x-ratelimit-remaining-requests",
        "x-ratelimit-reset-requests",
    }
    assert ratelimit_headers([], admitted=True, now=NOW) == {}

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.ratelimit.rules import (
    CounterReading,
    Limit,
    LimitKind,
    Rule,
    RuleBook,
    Scope,
    SlotReading,
    format_duration,
    judge,
    retry_after_header_s,
    window_of,
    window_phase_s,
)

RPM = LimitKind.REQUESTS_PER_MINUTE
TPM = LimitKind.TOKENS_PER_MINUTE
TPD = LimitKind.TOKENS_PER_DAY
CONCURRENT = LimitKind.CONCURRENT
ACME = Scope("tenant", "acme")
NOW = 1_700_000_000.0


def rule(**values: int | None) -> Rule:
    return Rule({LimitKind(k): v for k, v in values.items()})


def as_dict(limits: tuple[Limit, ...]) -> dict[tuple[str, str, LimitKind], int]:
    return {(lim.scope.kind, lim.scope.id, lim.kind): lim.amount for lim in limits}


BOOK = RuleBook(
    default=rule(requests_per_minute=600, tokens_per_minute=200_000, concurrent=32),
    tiers={"free": rule(requests_per_minute=20, tokens_per_day=100_000), "pro": rule(requests_per_minute=6000)},
    tenants={"acme": rule(requests_per_minute=60, tokens_per_day=2_000_000), "lab": rule(tokens_per_minute=None)},
    tenant_tiers={"acme": "free"},
    keys={"key_1": rule(requests_per_minute=5)},
    models={"llama": rule(concurrent=8)},
)


def test_tenant_without_entry_gets_the_default() -> None:
    limits = as_dict(BOOK.resolve(key_id="key_x", tenant="other", model="m"))
    assert limits == {
        ("tenant", "other", RPM): 600,
        ("tenant", "other", TPM): 200_000,
        ("tenant", "other", CONCURRENT): 32,
    }


def test_tenant_entry_overrides_tier_which_overrides_default_field_by_field() -> None:
    limits = as_dict(BOOK.resolve(key_id="key_x", tenant="acme", model="m"))
    assert limits[("tenant", "acme", RPM)] == 60  # tenant entry beats tier's 20
    assert limits[("tenant", "acme", TPD)] == 2_000_000  # tenant entry beats tier's 100k
    assert limits[("tenant", "acme", TPM)] == 200_000  # inherited from default
    assert limits[("tenant", "acme", CONCURRENT)] == 32


def test_explicit_null_lifts_an_inherited_limit() -> None:
    limits = as_dict(BOOK.resolve(key_id="key_x", tenant="lab", model="m"))
    assert ("tenant", "lab", TPM) not in limits
    assert limits[("tenant", "lab", RPM)] == 600


def test_tier_given_for_the_call_replaces_the_tenants_configured_tier() -> None:
    limits = as_dict(BOOK.resolve(key_id="key_x", tenant="other", model="m", tier="pro"))
    assert limits[("tenant", "other", RPM)] == 6000


def test_unknown_tier_is_ignored() -> None:
    plain = BOOK.resolve(key_id="key_x", tenant="other", model="m")
    assert BOOK.resolve(key_id="key_x", tenant="other", model="m", tier="gold") == plain
    assert not BOOK.has_tier("gold")


def test_key_and_model_rules_add_limits_of_their_own_scope() -> None:
    limits = as_dict(BOOK.resolve(key_id="key_1", tenant="other", model="llama"))
    assert limits[("key", "key_1", RPM)] == 5
    assert limits[("model", "llama", CONCURRENT)] == 8
    assert limits[("tenant", "other", RPM)] == 600


def test_empty_rule_book_applies_no_limits() -> None:
    assert RuleBook().resolve(key_id="k", tenant="t", model="m") == ()


@given(now=st.floats(min_value=1e9, max_value=4e9), tenant=st.text(min_size=1, max_size=20))
def test_minute_window_contains_now_and_lasts_a_minute(now: float, tenant: str) -> None:
    window = window_of(Limit(Scope("tenant", tenant), RPM, 1), now)
    assert window.start <= now < window.end
    assert window.end - window.start == 60


def test_minute_windows_of_one_scope_share_their_edges_across_kinds() -> None:
    assert window_of(Limit(ACME, RPM, 1), NOW) == window_of(Limit(ACME, TPM, 1), NOW)


def test_minute_window_phase_is_stable_and_spreads_scopes() -> None:
    phases = {window_phase_s(Scope("tenant", f"t{i}")) for i in range(50)}
    assert all(0 <= p < 60 for p in phases)
    assert len(phases) > 10
    assert window_phase_s(ACME) == window_phase_s(Scope("tenant", "acme"))


def test_consecutive_minute_windows_have_consecutive_indexes() -> None:
    first = window_of(Limit(ACME, RPM, 1), NOW)
    second = window_of(Limit(ACME, RPM, 1), first.end)
    assert second.index == first.index + 1
    assert second.start == first.end


def test_day_window_starts_at_utc_midnight() -> None:
    window = window_of(Limit(ACME, TPD, 1), NOW)
    start = datetime.fromtimestamp(window.start, UTC)
    assert (start.hour, start.minute, start.second) == (0, 0, 0)
    assert window.end - window.start == 86_400
    assert window.start <= NOW < window.end


def test_concurrency_limit_has_no_window() -> None:
    with pytest.raises(ValueError):
        window_of(Limit(ACME, CONCURRENT, 1), NOW)


def reading(kind: LimitKind, amount: int, used: int, cost: int, resets_in: float) -> CounterReading:
    return CounterReading(Limit(ACME, kind, amount), used=used, cost=cost, resets_at=NOW + resets_in)


def test_calls_within_every_limit_are_not_denied() -> None:
    counters = [reading(RPM, 10, 10, 1, 30), reading(TPM, 1000, 1000, 400, 30)]
    assert judge(counters, [], now=NOW, concurrency_retry_after_s=1) is None


def test_over_a_minute_limit_denies_with_the_exact_wait_until_the_window_ends() -> None:
    denial = judge([reading(RPM, 10, 11, 1, 12.5)], [], now=NOW, concurrency_retry_after_s=1)
    assert denial is not None
    assert denial.reason == "ratelimit.requests_per_minute"
    assert denial.limit_type == "requests"
    assert denial.retry_after_s == 12.5
    assert not denial.quota_exhausted
    assert "Limit 10, Used 10, Requested 1" in denial.message


def test_over_a_token_limit_is_a_tokens_denial() -> None:
    denial = judge([reading(TPM, 1000, 1200, 300, 5)], [], now=NOW, concurrency_retry_after_s=1)
    assert denial is not None
    assert denial.limit_type == "tokens"
    assert denial.reason == "ratelimit.tokens_per_minute"


def test_the_longest_wait_is_reported_when_several_limits_deny() -> None:
    counters = [reading(RPM, 10, 11, 1, 5), reading(TPM, 1000, 1200, 300, 40)]
    denial = judge(counters, [], now=NOW, concurrency_retry_after_s=1)
    assert denial is not None
    assert denial.retry_after_s == 40


def test_exhausted_daily_budget_is_insufficient_quota_without_retry_even_if_a_minute_limit_denies() -> None:
    counters = [reading(RPM, 10, 11, 1, 5), reading(TPD, 5000, 5100, 200, 3600)]
    denial = judge(counters, [], now=NOW, concurrency_retry_after_s=1)
    assert denial is not None
    assert denial.quota_exhausted
    assert denial.retry_after_s is None
    assert denial.reason == "ratelimit.tokens_per_day"


def test_request_larger_than_a_token_limit_cannot_fit_and_gets_no_retry() -> None:
    counters = [reading(TPM, 1000, 1500, 1500, 30)]
    denial = judge(counters, [], now=NOW, concurrency_retry_after_s=1)
    assert denial is not None
    assert denial.retry_after_s is None
    assert not denial.quota_exhausted
    assert "too large" in denial.message


def test_full_concurrency_limit_denies_with_the_configured_retry() -> None:
    slot = SlotReading(Limit(ACME, CONCURRENT, 4), in_flight=4, full=True)
    denial = judge([], [slot], now=NOW, concurrency_retry_after_s=2)
    assert denial is not None
    assert denial.reason == "ratelimit.concurrent"
    assert denial.retry_after_s == 2


def test_concurrency_limit_with_room_does_not_deny() -> None:
    slot = SlotReading(Limit(ACME, CONCURRENT, 4), in_flight=3, full=False)
    assert judge([], [slot], now=NOW, concurrency_retry_after_s=2) is None


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (1.0, "1s"),
        (360.0, "6m0s"),
        (0.25, "250ms"),
        (90.5, "1m30.5s"),
        (3600.0, "1h0m0s"),
        (3723.25, "1h2m3.25s"),
        (0.0, "0s"),
        (-3.0, "0s"),
        (59.9994, "59.999s"),
    ],
)
def test_durations_are_written_as_openai_writes_them(seconds: float, expected: str) -> None:
    assert format_duration(seconds) == expected


@pytest.mark.parametrize(("wait", "expected"), [(0.01, 1), (1.0, 1), (1.2, 2), (59.5, 60)])
def test_retry_after_rounds_up_to_whole_seconds_and_is_at_least_one(wait: float, expected: int) -> None:
    assert retry_after_header_s(wait) == expected


def test_denial_names_the_limit_that_denied_among_scopes() -> None:
    key_rpm = CounterReading(Limit(Scope("key", "key_1"), RPM, 5), used=6, cost=1, resets_at=NOW + 9)
    tenant_rpm = CounterReading(Limit(ACME, RPM, 600), used=100, cost=1, resets_at=NOW + 30)
    denial = judge([tenant_rpm, key_rpm], [], now=NOW, concurrency_retry_after_s=1)
    assert denial is not None
    assert denial.limit == key_rpm.limit
    assert "key `key_1`" in denial.message

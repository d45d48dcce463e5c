"""The review page's filters: query string to EventFilter, errors shown, links that keep the view."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from gateway.ui.filters import (
    DEFAULT_PAGE_SIZE,
    MAX_VALUE_CHARS,
    FilterForm,
    link,
    parse_bucket,
    parse_filters,
    parse_page_size,
)

NOW = datetime(2025, 3, 2, 12, 0, tzinfo=UTC)


def parse(**query: str):
    return parse_filters(FilterForm.from_query(query), now=NOW)


def test_every_filter_reaches_the_event_filter():
    parsed = parse(
        since="2025-03-01",
        until="2025-03-02T08:00Z",
        tenant="acme",
        key_id="key_1",
        model="m",
        backend="b",
        decision="deny",
        pii_type="EMAIL_ADDRESS",
        request_id="req-1",
    )
    f = parsed.filters
    assert parsed.errors == ()
    assert f.since == datetime(2025, 3, 1, tzinfo=UTC)
    assert f.until == datetime(2025, 3, 2, 8, 0, tzinfo=UTC)
    assert (f.tenant, f.key_id, f.model, f.backend, f.decision, f.pii_type, f.request_id) == (
        "acme",
        "key_1",
        "m",
        "b",
        "deny",
        "EMAIL_ADDRESS",
        "req-1",
    )


def test_a_duration_means_that_long_ago():
    assert parse(since="24h").filters.since == NOW - timedelta(hours=24)


def test_empty_values_are_no_filter():
    parsed = parse(tenant="  ", decision="")
    assert parsed.filters.tenant is None
    assert parsed.filters.decision is None
    assert parsed.form.is_empty


def test_failed_means_error_events():
    parsed = parse(decision="error")
    assert parsed.filters.event_type == "error"
    assert parsed.filters.decision is None


def test_failed_and_another_event_type_conflict():
    assert parse(decision="error", event_type="request").errors


def test_a_time_that_cannot_be_read_is_reported_not_dropped():
    parsed = parse(since="yesterday-ish")
    assert len(parsed.errors) == 1
    assert "From" in parsed.errors[0]


def test_since_must_be_before_until():
    assert parse(since="2025-03-02", until="2025-03-01").errors


def test_unknown_choices_are_reported():
    assert parse(decision="maybe").errors
    assert parse(event_type="nope").errors


def test_values_are_trimmed_and_capped():
    form = FilterForm.from_query({"tenant": "  acme ", "model": "x" * 1000, "unknown": "ignored"})
    assert form.tenant == "acme"
    assert len(form.model) == MAX_VALUE_CHARS


def test_params_keep_only_set_filters_and_without_clears():
    form = FilterForm(tenant="acme", decision="deny")
    assert form.params() == {"tenant": "acme", "decision": "deny"}
    assert form.without("decision").params() == {"tenant": "acme"}


def test_links_carry_only_parameters_with_values():
    assert link("/ui/events", {"tenant": "a b", "model": "", "cursor": None, "limit": 50}) == (
        "/ui/events?tenant=a+b&limit=50"
    )
    assert link("/ui/events", {}) == "/ui/events"


def test_page_size_falls_back_to_the_default():
    assert parse_page_size("100") == 100
    assert parse_page_size("7") == DEFAULT_PAGE_SIZE
    assert parse_page_size("x") == DEFAULT_PAGE_SIZE
    assert parse_page_size(None) == DEFAULT_PAGE_SIZE


def test_bucket_is_one_of_the_store_buckets_or_automatic():
    assert parse_bucket("hour") == "hour"
    assert parse_bucket("week") is None
    assert parse_bucket("") is None

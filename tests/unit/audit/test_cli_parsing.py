"""Parsing the times and durations officers type on the command line."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from gateway.audit.cli import parse_duration, parse_moment

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90d", timedelta(days=90)),
        ("12h", timedelta(hours=12)),
        ("30m", timedelta(minutes=30)),
        ("2w", timedelta(weeks=2)),
    ],
)
def test_durations(text, expected):
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["90", "d", "1.5d", "-3d", "3 days"])
def test_bad_durations_are_refused(text):
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(text)


def test_a_duration_as_a_moment_means_that_long_ago():
    assert parse_moment("24h", now=NOW) == NOW - timedelta(hours=24)


def test_a_date_without_zone_is_utc():
    assert parse_moment("2025-01-31", now=NOW) == datetime(2025, 1, 31, tzinfo=UTC)


def test_an_iso_time_keeps_its_zone():
    assert parse_moment("2025-01-31T08:00:00+02:00", now=NOW) == datetime(2025, 1, 31, 6, 0, tzinfo=UTC)
    assert parse_moment("2025-01-31T08:00:00Z", now=NOW) == datetime(2025, 1, 31, 8, 0, tzinfo=UTC)


def test_garbage_is_not_a_moment():
    with pytest.raises(ValueError, match="not a time"):
        parse_moment("yesterday", now=NOW)

"""Layout of the overview's stacked bar charts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.ui.charts import (
    MAX_BARS,
    OTHER,
    PALETTE,
    Point,
    bucket_floor,
    bucket_starts,
    choose_bucket,
    nice_step,
    stacked_bars,
)

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def hours(n: int) -> tuple[datetime, ...]:
    return tuple(T0 + timedelta(hours=i) for i in range(n))


def test_bucket_floor_cuts_to_the_start_of_the_bucket():
    moment = datetime(2025, 3, 1, 12, 34, 56, 789, tzinfo=UTC)
    assert bucket_floor(moment, "minute") == datetime(2025, 3, 1, 12, 34, tzinfo=UTC)
    assert bucket_floor(moment, "hour") == datetime(2025, 3, 1, 12, tzinfo=UTC)
    assert bucket_floor(moment, "day") == datetime(2025, 3, 1, tzinfo=UTC)


def test_bucket_starts_cover_the_range_including_empty_buckets():
    starts = bucket_starts(T0 + timedelta(minutes=30), T0 + timedelta(hours=3), "hour")
    assert starts == hours(3)


def test_too_many_buckets_fall_back_to_the_buckets_with_data():
    assert bucket_starts(T0, T0 + timedelta(minutes=MAX_BARS + 1), "minute") == ()


@pytest.mark.parametrize(
    ("span", "bucket"), [(timedelta(hours=1), "minute"), (timedelta(days=1), "hour"), (timedelta(days=30), "day")]
)
def test_the_bucket_size_fits_the_range(span, bucket):
    assert choose_bucket(T0, T0 + span) == bucket
    assert len(bucket_starts(T0, T0 + span, bucket)) <= MAX_BARS


@given(st.floats(min_value=0, max_value=1e9, allow_nan=False))
def test_nice_step_is_a_1_2_5_number_at_least_the_value(value):
    step = nice_step(value)
    assert step >= value
    assert step >= 1
    assert str(step).rstrip("0") in {"1", "2", "5"}


def test_segments_stack_per_bucket_and_heights_follow_the_counts():
    points = [Point(T0, "acme", 4), Point(T0, "globex", 2), Point(T0 + timedelta(hours=2), "acme", 1)]
    chart = stacked_bars("Calls", points, hours(3), "hour")
    assert chart.total == 7
    assert [s.name for s in chart.series] == ["acme", "globex"]
    first_bar = [s for s in chart.segments if s.x == chart.segments[0].x]
    assert len(first_bar) == 2
    acme, globex = first_bar
    assert acme.height == pytest.approx(2 * globex.height)
    assert acme.y + acme.height == pytest.approx(chart.plot_bottom)
    assert globex.y + globex.height == pytest.approx(acme.y)
    assert "acme: 4" in acme.label
    assert chart.rows == (("2025-03-01 12:00", (4, 2)), ("2025-03-01 14:00", (1, 0)))


def test_the_y_axis_reaches_past_the_tallest_bar():
    chart = stacked_bars("Calls", [Point(T0, "a", 37)], hours(1), "hour")
    top = max(int(t.label) for t in chart.y_ticks)
    assert top >= 37
    assert min(s.y for s in chart.segments) >= chart.plot_top


def test_small_series_fold_into_other():
    points = [Point(T0, f"tenant-{i}", 100 - i) for i in range(len(PALETTE) + 3)]
    chart = stacked_bars("Calls", points, hours(1), "hour")
    assert len(chart.series) == len(PALETTE) + 1
    assert chart.series[-1].name == OTHER
    assert chart.series[-1].total == sum(100 - i for i in range(len(PALETTE), len(PALETTE) + 3))
    assert chart.total == sum(p.value for p in points)


def test_a_missing_value_is_shown_as_none():
    chart = stacked_bars("Calls", [Point(T0, None, 1)], hours(1), "hour")
    assert chart.series[0].name == "(none)"


def test_points_outside_the_buckets_are_not_drawn():
    chart = stacked_bars("Calls", [Point(T0 - timedelta(days=1), "a", 5)], hours(2), "hour")
    assert chart.is_empty
    assert chart.segments == ()


def test_without_buckets_only_the_buckets_with_data_are_drawn():
    points = [Point(T0, "a", 1), Point(T0 + timedelta(days=40), "a", 2)]
    chart = stacked_bars("Calls", points, (), "day")
    assert len(chart.segments) == 2
    assert [label for label, _ in chart.rows] == ["2025-03-01", "2025-04-10"]

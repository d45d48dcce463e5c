"""Geometry for the overview's stacked bar charts, rendered as SVG by the templates.

The audit store aggregates (`AuditStore.stats`: counts per time bucket and value); this
module only lays those counts out: one bar per time bucket, one coloured segment per series
(tenant, model, PII type), the biggest series first and the rest folded into "other", a
y axis rounded to 1-2-5 steps, and a handful of time labels. The templates draw the result
as inline SVG and a data table, so the page needs no JavaScript and no charting library.

Pure: values in, coordinates out. It does not decide what is counted.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from gateway.audit.query import Bucket

# Okabe-Ito: distinguishable with the common colour-vision deficiencies; grey is "other".
PALETTE: tuple[str, ...] = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442")
OTHER_COLOR = "#8C8C8C"
OTHER = "other"
NONE_LABEL = "(none)"
MAX_BARS = 400
"""More buckets than this in a range: only the buckets holding data are drawn."""
MAX_X_LABELS = 6

_STEP = {"minute": timedelta(minutes=1), "hour": timedelta(hours=1), "day": timedelta(days=1)}
_LABEL = {"minute": "%Y-%m-%d %H:%M", "hour": "%Y-%m-%d %H:00", "day": "%Y-%m-%d"}
_TICK = {"minute": "%H:%M", "hour": "%m-%d %H:00", "day": "%Y-%m-%d"}


@dataclass(frozen=True, slots=True)
class Point:
    """One aggregated count: `value` calls (or findings) of series `key` in the bucket starting at `bucket`."""

    bucket: datetime
    key: str | None
    value: int


@dataclass(frozen=True, slots=True)
class Segment:
    x: float
    y: float
    width: float
    height: float
    color: str
    label: str
    """Tooltip text: bucket, series and value."""


@dataclass(frozen=True, slots=True)
class Tick:
    position: float
    label: str


@dataclass(frozen=True, slots=True)
class Series:
    name: str
    color: str
    total: int


@dataclass(frozen=True, slots=True)
class BarChart:
    """A laid-out stacked bar chart; coordinates are in SVG user units (y grows downwards)."""

    title: str
    width: int
    height: int
    plot_left: float
    plot_top: float
    plot_width: float
    plot_height: float
    segments: tuple[Segment, ...]
    y_ticks: tuple[Tick, ...]
    x_ticks: tuple[Tick, ...]
    series: tuple[Series, ...]
    rows: tuple[tuple[str, tuple[int, ...]], ...]
    """The numbers behind the chart: (bucket label, value per series), for the data table."""
    total: int

    @property
    def is_empty(self) -> bool:
        return self.total == 0

    @property
    def plot_bottom(self) -> float:
        return self.plot_top + self.plot_height


def bucket_floor(moment: datetime, bucket: Bucket) -> datetime:
    """The start of the UTC bucket holding `moment`."""
    moment = moment.astimezone(UTC)
    if bucket == "minute":
        return moment.replace(second=0, microsecond=0)
    if bucket == "hour":
        return moment.replace(minute=0, second=0, microsecond=0)
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def choose_bucket(since: datetime, until: datetime) -> Bucket:
    """A bucket size giving a readable number of bars for the range (at most a few hundred)."""
    span = until - since
    if span <= timedelta(hours=3):
        return "minute"
    if span <= timedelta(days=4):
        return "hour"
    return "day"


def bucket_starts(since: datetime, until: datetime, bucket: Bucket) -> tuple[datetime, ...]:
    """Every bucket start from the one holding `since` up to `until` (exclusive), or () if too many."""
    step = _STEP[bucket]
    first = bucket_floor(since, bucket)
    count = math.ceil((until.astimezone(UTC) - first) / step) if until > first else 0
    if count > MAX_BARS:
        return ()
    return tuple(first + i * step for i in range(count))


def nice_step(value: float) -> int:
    """The smallest 1, 2 or 5 times a power of ten that is at least `value` (and at least 1)."""
    if value <= 1:
        return 1
    magnitude = 10 ** math.floor(math.log10(value))
    for factor in (1, 2, 5, 10):
        if factor * magnitude >= value:
            return int(factor * magnitude)
    return int(10 * magnitude)  # pragma: no cover - the loop always returns


def _series(points: Iterable[Point], max_series: int) -> tuple[list[Series], dict[str, str]]:
    totals: dict[str, int] = defaultdict(int)
    for p in points:
        totals[p.key if p.key is not None else NONE_LABEL] += p.value
    ranked = sorted(totals.items(), key=lambda item: (-item[1], item[0]))
    shown = ranked if len(ranked) <= max_series + 1 else ranked[:max_series]
    series = [Series(name, PALETTE[i % len(PALETTE)], total) for i, (name, total) in enumerate(shown)]
    folded = ranked[len(shown) :]
    if folded:
        series.append(Series(OTHER, OTHER_COLOR, sum(total for _, total in folded)))
    names = {s.name for s in series}
    series_of = {name: (name if name in names else OTHER) for name in totals}
    return series, series_of


def stacked_bars(
    title: str,
    points: Sequence[Point],
    buckets: Sequence[datetime],
    bucket: Bucket,
    *,
    width: int = 640,
    height: int = 240,
    max_series: int = len(PALETTE),
) -> BarChart:
    """Lay out `points` as one stacked bar per bucket.

    `buckets` are the bars to draw in order (empty ones included); pass () to draw only the
    buckets that hold data. Points outside `buckets` are ignored.
    """
    if not buckets:
        buckets = sorted({bucket_floor(p.bucket, bucket) for p in points})
    index = {b: i for i, b in enumerate(buckets)}
    series, series_of = _series((p for p in points if bucket_floor(p.bucket, bucket) in index), max_series)
    column = {s.name: i for i, s in enumerate(series)}
    values = [[0] * len(series) for _ in buckets]
    for p in points:
        i = index.get(bucket_floor(p.bucket, bucket))
        if i is not None:
            values[i][column[series_of[p.key if p.key is not None else NONE_LABEL]]] += p.value

    left, top, right, bottom = 48.0, 12.0, 12.0, 36.0
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max((sum(v) for v in values), default=0)
    step = nice_step(peak / 4)
    y_max = max(step * math.ceil(peak / step), step)
    scale = plot_h / y_max
    y_ticks = tuple(Tick(top + plot_h - v * scale, str(v)) for v in range(0, y_max + 1, step))

    slot = plot_w / max(len(buckets), 1)
    bar_w = max(slot * 0.8, 1.0)
    segments: list[Segment] = []
    for i, (start, row) in enumerate(zip(buckets, values, strict=True)):
        x = left + i * slot + (slot - bar_w) / 2
        base = top + plot_h
        for s, value in zip(series, row, strict=True):
            if value == 0:
                continue
            h = value * scale
            base -= h
            label = f"{start.strftime(_LABEL[bucket])} UTC, {s.name}: {value}"
            segments.append(Segment(round(x, 2), round(base, 2), round(bar_w, 2), round(h, 2), s.color, label))

    every = max(1, math.ceil(len(buckets) / MAX_X_LABELS))
    x_ticks = tuple(
        Tick(round(left + i * slot + slot / 2, 2), b.strftime(_TICK[bucket]))
        for i, b in enumerate(buckets)
        if i % every == 0
    )
    rows = tuple((b.strftime(_LABEL[bucket]), tuple(row)) for b, row in zip(buckets, values, strict=True) if any(row))
    return BarChart(
        title=title,
        width=width,
        height=height,
        plot_left=left,
        plot_top=top,
        plot_width=plot_w,
        plot_height=plot_h,
        segments=tuple(segments),
        y_ticks=y_ticks,
        x_ticks=x_ticks,
        series=tuple(series),
        rows=rows,
        total=sum(s.total for s in series),
    )

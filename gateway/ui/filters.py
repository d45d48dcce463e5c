"""The review page's filters: from the URL's query string to an `EventFilter`, and back to links.

The URL carries every filter, so a view can be bookmarked or sent to a colleague. Times are
what the CLI accepts (`2025-03-01`, `2025-03-01T08:00Z`, or `24h` meaning "24 hours ago"),
UTC unless they name a zone. The decision filter offers what officers ask for (allowed,
denied, failed); "failed" is the `error` event type, since a failed call may have been
allowed. Bad input is reported back to the page, never silently dropped: a dropped filter
would show more than the officer asked for.

Pure: no web framework, no database access (it builds the filter value only).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from datetime import datetime
from typing import get_args
from urllib.parse import urlencode

from gateway.audit.cli import parse_moment
from gateway.audit.query import BUCKETS, Bucket, EventFilter
from gateway.audit.record import EVENT_TYPES, Decision, EventType

MAX_VALUE_CHARS = 256
PAGE_SIZES: tuple[int, ...] = (25, 50, 100, 200)
DEFAULT_PAGE_SIZE = 50

DECISION_CHOICES: tuple[tuple[str, str], ...] = (
    ("", "any"),
    ("allow", "allowed"),
    ("deny", "denied"),
    ("error", "failed (error)"),
)
EVENT_TYPE_CHOICES: tuple[tuple[str, str], ...] = (("", "any"), *((t, t) for t in EVENT_TYPES))
BUCKET_CHOICES: tuple[tuple[str, str], ...] = (("", "automatic"), *((b, b) for b in BUCKETS))

_DECISIONS: dict[str, Decision] = {d: d for d in get_args(Decision)}
_EVENT_TYPES: dict[str, EventType] = {t: t for t in EVENT_TYPES}


@dataclass(frozen=True, slots=True)
class FilterForm:
    """The filter form as the officer typed it (empty string: no filter)."""

    since: str = ""
    until: str = ""
    tenant: str = ""
    key_id: str = ""
    model: str = ""
    backend: str = ""
    decision: str = ""
    event_type: str = ""
    pii_type: str = ""
    request_id: str = ""

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> FilterForm:
        """The form from a query string; unknown parameters are ignored, values trimmed and capped."""
        values = {f.name: query.get(f.name, "").strip()[:MAX_VALUE_CHARS] for f in fields(cls)}
        return cls(**values)

    def params(self) -> dict[str, str]:
        """The non-empty filters, for links that keep the current view."""
        return {name: value for name, value in asdict(self).items() if value}

    def without(self, *names: str) -> FilterForm:
        return replace(self, **dict.fromkeys(names, ""))

    @property
    def is_empty(self) -> bool:
        return not self.params()


@dataclass(frozen=True, slots=True)
class ParsedFilters:
    """The form, the filter it means, and what was wrong with it (nothing is queried if anything was)."""

    form: FilterForm
    filters: EventFilter
    errors: tuple[str, ...] = ()


def _moment(label: str, text: str, now: datetime, errors: list[str]) -> datetime | None:
    if not text:
        return None
    try:
        return parse_moment(text, now=now)
    except ValueError:
        errors.append(f"{label}: “{text}” is not a time. Use 2025-03-01, 2025-03-01T08:00Z or 24h (24 hours ago).")
        return None


def parse_filters(form: FilterForm, *, now: datetime) -> ParsedFilters:
    """The `EventFilter` a form means, with a message per field that could not be understood."""
    errors: list[str] = []
    since = _moment("From", form.since, now, errors)
    until = _moment("Until", form.until, now, errors)
    if since is not None and until is not None and since >= until:
        errors.append("“From” must be earlier than “Until”.")
    decision: Decision | None = None
    event_type: EventType | None = None
    if form.event_type:
        event_type = _EVENT_TYPES.get(form.event_type)
        if event_type is None:
            errors.append(f"Event type: “{form.event_type}” is not one of {', '.join(EVENT_TYPES)}.")
    if form.decision == "error":
        if event_type not in (None, "error"):
            errors.append("Decision “failed” means error events; clear the event type or pick “error”.")
        event_type = "error"
    elif form.decision:
        decision = _DECISIONS.get(form.decision)
        if decision is None:
            errors.append(f"Decision: “{form.decision}” is not one of allow, deny, error.")
    filters = EventFilter(
        since=since,
        until=until,
        tenant=form.tenant or None,
        key_id=form.key_id or None,
        model=form.model or None,
        backend=form.backend or None,
        decision=decision,
        event_type=event_type,
        pii_type=form.pii_type or None,
        request_id=form.request_id or None,
    )
    return ParsedFilters(form, filters, tuple(errors))


def parse_page_size(text: str | None) -> int:
    """One of the offered page sizes; anything else falls back to the default."""
    try:
        size = int(text or "")
    except ValueError:
        return DEFAULT_PAGE_SIZE
    return size if size in PAGE_SIZES else DEFAULT_PAGE_SIZE


def parse_bucket(text: str | None) -> Bucket | None:
    """A stats bucket the officer chose, or None for automatic."""
    return next((b for b in BUCKETS if b == text), None)


def link(path: str, params: Mapping[str, str | int | None]) -> str:
    """`path?query` keeping only the parameters that have a value."""
    kept = {k: str(v) for k, v in params.items() if v not in (None, "")}
    return f"{path}?{urlencode(kept)}" if kept else path

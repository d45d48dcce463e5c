"""The review pages: events, one call, export, integrity, overview. Read-only.

Every handler reads the filters from the query string (so the URL is the view), asks the
`audit_store` dependency (the same `AuditStore` as the officer API) and renders a template.
Bad filter input is shown on the page and nothing is queried. Exports stream with the
signed-in officer's session, in the same JSONL/CSV shape as `GET /audit/export`.
"""

from __future__ import annotations

import time
from typing import Any

import structlog
from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Stream

from gateway.audit.export import event_json, export_lines
from gateway.audit.query import AuditStore, EventFilter, InvalidCursor
from gateway.audit.verification import verify
from gateway.ui.context import UI_PATH, UiContext
from gateway.ui.event_view import pair_call
from gateway.ui.filters import FilterForm, link, parse_filters, parse_page_size
from gateway.ui.overview import overview_charts
from gateway.ui.session import UiSession

log = structlog.get_logger("gateway.ui")

_EXPORT_MEDIA_TYPES = {"jsonl": "application/x-ndjson", "csv": "text/csv; charset=utf-8"}


def query_of(request: Request[Any, Any, Any]) -> dict[str, str]:
    """The query string, first value per name."""
    query: dict[str, str] = {}
    for name, value in request.query_params.items():
        query.setdefault(name, value)
    return query


class ReviewController(Controller):
    """`/ui/events`, `/ui/events/{id}`, `/ui/export`, `/ui/integrity`, `/ui/overview`."""

    @get("/events")
    async def events(
        self,
        request: Request[Any, Any, Any],
        ui: NamedDependency[UiContext],
        viewer: NamedDependency[UiSession],
        audit_store: NamedDependency[AuditStore],
    ) -> Response[str]:
        query = query_of(request)
        parsed = parse_filters(FilterForm.from_query(query), now=ui.now())
        limit = parse_page_size(query.get("limit"))
        params = parsed.form.params()
        errors = list(parsed.errors)
        rows: list[dict[str, object]] = []
        total: int | None = None
        older_url: str | None = None
        cursor = query.get("cursor") or None
        if not errors:
            try:
                page = await audit_store.search(parsed.filters, limit=limit, cursor=cursor)
            except InvalidCursor:
                errors.append("That page link is not valid; showing the newest events.")
                cursor = None
                page = await audit_store.search(parsed.filters, limit=limit)
            total = await audit_store.count(parsed.filters)
            rows = [event_json(e) for e in page.events]
            if page.next_cursor is not None:
                older_url = link(UI_PATH + "/events", {**params, "limit": limit, "cursor": page.next_cursor})
        return ui.render(
            "events.html",
            status=400 if parsed.errors else 200,
            viewer=viewer,
            nav="events",
            form=parsed.form,
            errors=errors,
            rows=rows,
            total=total,
            limit=limit,
            is_first_page=cursor is None,
            newest_url=link(UI_PATH + "/events", {**params, "limit": limit}),
            older_url=older_url,
            export_jsonl_url=link(UI_PATH + "/export", {**params, "format": "jsonl"}),
            export_csv_url=link(UI_PATH + "/export", {**params, "format": "csv"}),
            integrity_url=link(UI_PATH + "/integrity", {"since": parsed.form.since, "until": parsed.form.until}),
            filter_url=lambda **extra: link(UI_PATH + "/events", {**params, "limit": limit, **extra}),
        )

    @get("/events/{event_id:str}")
    async def event_detail(
        self,
        ui: NamedDependency[UiContext],
        viewer: NamedDependency[UiSession],
        audit_store: NamedDependency[AuditStore],
        event_id: FromPath[str],
    ) -> Response[str]:
        stored = await audit_store.get(event_id)
        if stored is None:
            message = f"There is no audit event {event_id}."
            return ui.render("message.html", status=404, viewer=viewer, title="No such event", message=message)
        # The call's other events: same request id, written by the same process (same chain).
        siblings = await audit_store.search(
            EventFilter(request_id=stored.event.request_id, chain_id=stored.link.chain_id), limit=20
        )
        call = pair_call([event_json(s) for s in reversed(siblings.events)])
        return ui.render("event.html", viewer=viewer, nav="events", event=event_json(stored), call=call)

    @get("/export")
    async def export(
        self,
        request: Request[Any, Any, Any],
        ui: NamedDependency[UiContext],
        viewer: NamedDependency[UiSession],
        audit_store: NamedDependency[AuditStore],
    ) -> Response[Any]:
        query = query_of(request)
        parsed = parse_filters(FilterForm.from_query(query), now=ui.now())
        fmt = query.get("format", "jsonl")
        if fmt not in _EXPORT_MEDIA_TYPES or parsed.errors:
            problems = [*parsed.errors, *([] if fmt in _EXPORT_MEDIA_TYPES else ["The format must be jsonl or csv."])]
            message = " ".join(problems)
            return ui.render("message.html", status=400, viewer=viewer, title="Cannot export", message=message)
        log.info("ui.export", key_id=viewer.key_id, format=fmt, filters=sorted(parsed.form.params()))
        stamp = ui.now().strftime("%Y%m%dT%H%M%SZ")
        return Stream(
            export_lines(audit_store.iter_events(parsed.filters), "csv" if fmt == "csv" else "jsonl"),
            media_type=_EXPORT_MEDIA_TYPES[fmt],
            headers={"content-disposition": f'attachment; filename="audit-export-{stamp}.{fmt}"'},
        )

    @get("/integrity")
    async def integrity(
        self,
        request: Request[Any, Any, Any],
        ui: NamedDependency[UiContext],
        viewer: NamedDependency[UiSession],
        audit_store: NamedDependency[AuditStore],
    ) -> Response[str]:
        query = query_of(request)
        form = FilterForm(since=query.get("since", "").strip(), until=query.get("until", "").strip())
        parsed = parse_filters(form, now=ui.now())
        chain = query.get("chain", "").strip() or None
        report = None
        if query.get("run") and not parsed.errors:
            started = time.perf_counter()
            report = await verify(
                audit_store.engine,
                since=parsed.filters.since,
                until=parsed.filters.until,
                chain_ids=[chain] if chain else None,
            )
            log.info(
                "ui.verify",
                key_id=viewer.key_id,
                ok=report.ok,
                checked=report.checked,
                chains=len(report.chains),
                elapsed_ms=round((time.perf_counter() - started) * 1000, 1),
            )
        return ui.render(
            "integrity.html",
            status=400 if parsed.errors else 200,
            viewer=viewer,
            nav="integrity",
            form=form,
            chain=chain or "",
            errors=parsed.errors,
            report=report,
        )

    @get("/overview")
    async def overview(
        self,
        request: Request[Any, Any, Any],
        ui: NamedDependency[UiContext],
        viewer: NamedDependency[UiSession],
        audit_store: NamedDependency[AuditStore],
    ) -> Response[str]:
        query = query_of(request)
        query.setdefault("since", "24h")
        form = FilterForm.from_query(query).without("decision", "event_type")
        parsed = parse_filters(form, now=ui.now())
        charts = None
        if not parsed.errors:
            charts = await overview_charts(audit_store, parsed.filters, bucket=query.get("bucket"), now=ui.now())
        return ui.render(
            "overview.html",
            status=400 if parsed.errors else 200,
            viewer=viewer,
            nav="overview",
            form=form,
            bucket=query.get("bucket", ""),
            errors=parsed.errors,
            charts=charts,
            events_url=link(UI_PATH + "/events", form.params()),
        )

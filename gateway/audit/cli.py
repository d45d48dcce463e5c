"""The audit log's command-line functions: `gateway db upgrade` and `gateway audit ...`.

Each `cmd_*` function takes the audit settings and plain arguments, writes to `out` and
returns the exit code (0 success, 1 verification failed, 2 bad usage); the top-level
`gateway/cli.py` parses arguments and calls them, or lets `add_audit_commands` define the
subcommands. Each opens its own engine and disposes it: the CLI is a separate short process.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import re
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO, TypeVar

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.audit import migrate
from gateway.audit.database import create_audit_engine, safe_url
from gateway.audit.export import EXPORT_FORMATS, ExportFormat, event_json, export_lines
from gateway.audit.query import BUCKETS, STATS_DIMENSIONS, AuditStore, Bucket, EventFilter, StatsDimension
from gateway.audit.record import EVENT_TYPES, format_time
from gateway.audit.retention import purge_content
from gateway.audit.settings import AuditSettings
from gateway.audit.verification import VerifyReport, report_json, verify
from gateway.audit.writer import AuditWriter
from gateway.errors import AuditUnavailable

_T = TypeVar("_T")
_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_duration(text: str) -> timedelta:
    """`90d`, `12h`, `30m`, `45s`, `2w` as a timedelta. Raises ValueError otherwise."""
    match = _DURATION.match(text)
    if match is None:
        raise ValueError(f"not a duration: {text!r} (use e.g. 90d, 12h, 30m)")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def parse_moment(text: str, *, now: datetime | None = None) -> datetime:
    """An ISO date or time (UTC unless it says otherwise), or a duration meaning that long ago."""
    now = now or datetime.now(UTC)
    if _DURATION.match(text):
        return now - parse_duration(text)
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise ValueError(f"not a time: {text!r} (use 2025-01-31, 2025-01-31T08:00:00Z or 24h)") from exc
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


async def _with_engine(settings: AuditSettings, action: Callable[[AsyncEngine], Awaitable[_T]]) -> _T:
    engine = create_audit_engine(settings)
    try:
        return await action(engine)
    finally:
        await engine.dispose()


async def upgrade_database(settings: AuditSettings, *, revision: str = "head") -> str | None:
    """Migrate the audit database to `revision`; returns the revision it is at afterwards."""

    async def run(engine: AsyncEngine) -> str | None:
        await migrate.upgrade(engine, revision=revision, schema=settings.postgres_schema)
        return await migrate.current_revision(engine)

    return await _with_engine(settings, run)


def _failure_reason(exc: BaseException) -> str:
    """What went wrong opening or migrating the database, in the driver's words (no row values:
    a migration runs DDL only)."""
    orig = getattr(exc, "orig", None)
    return f"{type(orig or exc).__name__}: {orig or exc}"[:300]


def cmd_db_upgrade(settings: AuditSettings, *, revision: str = "head", out: TextIO | None = None) -> int:
    """`gateway db upgrade`: create or migrate the audit schema.

    Exits 2 with a one-line message (not a traceback) when the database cannot be opened or
    migrated: `gateway serve` then refuses to start on the embedded SQLite default.
    """
    out = out or sys.stdout
    try:
        current = asyncio.run(upgrade_database(settings, revision=revision))
    except (SQLAlchemyError, OSError) as exc:
        sys.stderr.write(
            f"gateway: cannot migrate the audit database {safe_url(settings.database_url)}: {_failure_reason(exc)}\n"
        )
        return 2
    print(f"audit database {safe_url(settings.database_url)} at revision {current}", file=out)
    return 0


def _summary_line(data: dict[str, Any]) -> str:
    pii = sorted({*dict(data["pii_request"]), *dict(data["pii_response"])})
    fields = [
        str(data["occurred_at"]),
        f"{data['event_type']:<8}",
        f"tenant={data['tenant'] or '-'}",
        f"key={data['key_id'] or '-'}",
        f"model={data['model'] or '-'}",
        f"decision={data['decision'] or '-'}",
        f"status={data['status_code'] if data['status_code'] is not None else '-'}",
        f"pii={','.join(pii) or '-'}",
        f"request={data['request_id']}",
        f"event={data['event_id']}",
    ]
    return "  ".join(fields)


def cmd_search(
    settings: AuditSettings,
    filters: EventFilter,
    *,
    limit: int = 50,
    as_json: bool = False,
    out: TextIO | None = None,
) -> int:
    """`gateway audit search`: the newest matching events, one line each (or JSON lines)."""
    out = out or sys.stdout

    async def run(engine: AsyncEngine) -> None:
        page = await AuditStore(engine).search(filters, limit=limit)
        for stored in page.events:
            data = event_json(stored)
            if as_json:
                print(json.dumps(data, ensure_ascii=False), file=out)
            else:
                print(_summary_line(data), file=out)
        if page.next_cursor is not None and not as_json:
            print(f"(more events match; raise --limit or narrow the filters; limit was {limit})", file=out)

    asyncio.run(_with_engine(settings, run))
    return 0


def cmd_export(settings: AuditSettings, filters: EventFilter, *, fmt: ExportFormat, out: TextIO | None = None) -> int:
    """`gateway audit export`: every matching event, oldest first, as JSONL or CSV on `out`."""
    out = out or sys.stdout

    async def run(engine: AsyncEngine) -> None:
        async for chunk in export_lines(AuditStore(engine).iter_events(filters), fmt):
            out.write(chunk)
        out.flush()

    asyncio.run(_with_engine(settings, run))
    return 0


def _print_report(report: VerifyReport, out: TextIO) -> None:
    if not report.chains:
        print("OK: no audit events in range", file=out)
        return
    for chain in report.chains:
        if chain.broken is None:
            print(
                f"OK      chain {chain.chain_id}: {chain.checked} events, head seq {chain.head.seq} {chain.head.hash}",
                file=out,
            )
        else:
            b = chain.broken
            print(
                f"BROKEN  chain {chain.chain_id}: {b.kind} at seq {b.seq} event {b.event_id or '-'}: {b.detail}",
                file=out,
            )
    verdict = "OK" if report.ok else f"FAILED: {len(report.breaks)} of {len(report.chains)} chains broken"
    print(f"{verdict} ({report.checked} events verified)", file=out)


def cmd_verify(
    settings: AuditSettings,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    as_json: bool = False,
    out: TextIO | None = None,
) -> int:
    """`gateway audit verify`: exit 0 if every chain verifies, 1 naming the first bad event per chain."""
    out = out or sys.stdout

    async def run(engine: AsyncEngine) -> VerifyReport:
        return await verify(engine, since=since, until=until)

    report = asyncio.run(_with_engine(settings, run))
    if as_json:
        print(json.dumps(report_json(report), indent=2), file=out)
    else:
        _print_report(report, out)
    return 0 if report.ok else 1


def cmd_stats(
    settings: AuditSettings,
    filters: EventFilter,
    *,
    by: StatsDimension = "tenant",
    bucket: Bucket = "day",
    as_json: bool = False,
    out: TextIO | None = None,
) -> int:
    """`gateway audit stats`: calls per time bucket and per tenant / model / decision / PII type."""
    out = out or sys.stdout

    async def run(engine: AsyncEngine) -> None:
        rows = await AuditStore(engine).stats(filters, by=by, bucket=bucket)
        for row in rows:
            if as_json:
                item: dict[str, Any] = {"bucket": format_time(row.bucket), "key": row.key, "events": row.events}
                if row.entities is not None:
                    item["entities"] = row.entities
                print(json.dumps(item), file=out)
            else:
                extra = f"  entities={row.entities}" if row.entities is not None else ""
                print(f"{format_time(row.bucket)}  {by}={row.key or '-'}  calls={row.events}{extra}", file=out)

    asyncio.run(_with_engine(settings, run))
    return 0


def cmd_purge_content(
    settings: AuditSettings,
    *,
    older_than: timedelta,
    actor: str | None = None,
    now: datetime | None = None,
    out: TextIO | None = None,
) -> int:
    """`gateway audit purge-content --older-than 90d`: drop old content, keep events and hashes."""
    out = out or sys.stdout
    moment = now or datetime.now(UTC)
    who = actor or getpass.getuser()

    async def run(engine: AsyncEngine) -> int:
        async with AuditWriter(engine, settings.model_copy(update={"chain_id": None})) as writer:
            result = await purge_content(engine, writer, older_than=moment - older_than, actor=who, now=moment)
        print(
            f"purged content of {result.purged} events older than {format_time(result.older_than)} "
            f"(recorded as event {result.event_id})",
            file=out,
        )
        return 0

    try:
        return asyncio.run(_with_engine(settings, run))
    except AuditUnavailable as exc:
        sys.stderr.write(f"gateway: nothing purged: {exc.message}\n")
        return 1


def _add_filter_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--since", help="from this time (ISO, or a duration ago like 24h)")
    parser.add_argument("--until", help="up to this time, exclusive (ISO, or a duration ago)")
    parser.add_argument("--tenant")
    parser.add_argument("--key-id")
    parser.add_argument("--model")
    parser.add_argument("--backend")
    parser.add_argument("--decision", choices=["allow", "deny"])
    parser.add_argument("--event-type", choices=EVENT_TYPES)
    parser.add_argument("--pii-type", help="entity type, e.g. EMAIL_ADDRESS")
    parser.add_argument("--status", type=int, help="HTTP status")
    parser.add_argument("--request-id")


def _add_config_argument(parser: argparse.ArgumentParser) -> None:
    # SUPPRESS: when absent, the value parsed before the subcommand (or its default) stays.
    parser.add_argument("--config", type=Path, default=argparse.SUPPRESS, help="YAML config (default: $GATEWAY_CONFIG)")


def filters_from_args(args: argparse.Namespace) -> EventFilter:
    """The `EventFilter` described by the arguments `add_audit_commands` defines."""
    return EventFilter(
        since=parse_moment(args.since) if args.since else None,
        until=parse_moment(args.until) if args.until else None,
        tenant=args.tenant,
        key_id=args.key_id,
        model=args.model,
        backend=args.backend,
        decision=args.decision,
        event_type=args.event_type,
        pii_type=args.pii_type,
        status=args.status,
        request_id=args.request_id,
    )


def add_audit_commands(
    audit: argparse._SubParsersAction[argparse.ArgumentParser],
    load_settings: Callable[[argparse.Namespace], AuditSettings],
) -> None:
    """Define `search`, `export`, `verify`, `stats` and `purge-content` under `gateway audit`.

    Each subcommand sets `args.func(args) -> int`; `load_settings` turns the parsed arguments
    (e.g. `--config`) into the audit settings. Each subcommand also accepts `--config` after
    its name (`gateway audit verify --config gateway.yaml`), as operators type it; given there,
    it overrides a `--config` placed before the subcommand.
    """

    def wrap(command: Callable[[argparse.Namespace, AuditSettings], int]) -> Callable[[argparse.Namespace], int]:
        def run(args: argparse.Namespace) -> int:
            try:
                return command(args, load_settings(args))
            except ValueError as exc:
                sys.stderr.write(f"gateway: {exc}\n")
                return 2

        return run

    search = audit.add_parser("search", help="list the newest matching audit events")
    _add_config_argument(search)
    _add_filter_arguments(search)
    search.add_argument("--limit", type=int, default=50)
    search.add_argument("--json", action="store_true", help="one JSON object per line")
    search.set_defaults(func=wrap(lambda a, s: cmd_search(s, filters_from_args(a), limit=a.limit, as_json=a.json)))

    export = audit.add_parser("export", help="export matching events as JSONL or CSV on stdout")
    _add_config_argument(export)
    _add_filter_arguments(export)
    export.add_argument("--format", choices=EXPORT_FORMATS, default="jsonl")
    export.set_defaults(func=wrap(lambda a, s: cmd_export(s, filters_from_args(a), fmt=a.format)))

    check = audit.add_parser("verify", help="verify the hash chains; exit 1 if any is broken")
    _add_config_argument(check)
    check.add_argument("--since")
    check.add_argument("--until")
    check.add_argument("--json", action="store_true")
    check.set_defaults(
        func=wrap(
            lambda a, s: cmd_verify(
                s,
                since=parse_moment(a.since) if a.since else None,
                until=parse_moment(a.until) if a.until else None,
                as_json=a.json,
            )
        )
    )

    stats = audit.add_parser("stats", help="calls per time bucket by tenant, model, decision, PII type, ...")
    _add_config_argument(stats)
    _add_filter_arguments(stats)
    stats.add_argument("--by", choices=STATS_DIMENSIONS, default="tenant")
    stats.add_argument("--bucket", choices=BUCKETS, default="day")
    stats.add_argument("--json", action="store_true")
    stats.set_defaults(
        func=wrap(lambda a, s: cmd_stats(s, filters_from_args(a), by=a.by, bucket=a.bucket, as_json=a.json))
    )

    purge = audit.add_parser("purge-content", help="drop stored content older than a duration (audited)")
    _add_config_argument(purge)
    purge.add_argument("--older-than", required=True, help="e.g. 90d")
    purge.add_argument("--actor", help="who runs the purge (default: the OS user)")
    purge.set_defaults(
        func=wrap(lambda a, s: cmd_purge_content(s, older_than=parse_duration(a.older_than), actor=a.actor))
    )

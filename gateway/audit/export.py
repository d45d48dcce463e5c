"""How an audit event looks outside the database: JSON for the API and JSONL, rows for CSV.

One flat shape everywhere (API, JSONL, CSV), named like the columns and documented in
docs/audit.md, so an officer reads the same field names wherever the event comes from. CSV
cells that a spreadsheet would run as a formula are prefixed with `'` (OWASP's advice):
user agents and model names come from callers. Pure: no database, no I/O.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterable, AsyncIterator
from typing import Literal

from gateway.audit.chain import StoredEvent
from gateway.audit.record import event_fields, format_time

ExportFormat = Literal["jsonl", "csv"]
EXPORT_FORMATS: tuple[ExportFormat, ...] = ("jsonl", "csv")

CSV_COLUMNS: tuple[str, ...] = (
    "event_id",
    "event_type",
    "occurred_at",
    "request_id",
    "chain_id",
    "seq",
    "prev_hash",
    "hash",
    "tenant",
    "key_id",
    "roles",
    "endpoint",
    "requested_model",
    "model",
    "backend",
    "stream",
    "decision",
    "reasons",
    "pii_actions",
    "policy_version",
    "pii_request",
    "pii_response",
    "prompt_tokens",
    "completion_tokens",
    "tokens_estimated",
    "latency_ms",
    "status_code",
    "error_code",
    "client_addr",
    "user_agent",
    "gateway_version",
    "details",
    "content_hash",
    "content_purged",
    "content",
)

_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def event_json(stored: StoredEvent) -> dict[str, object]:
    """The event as one flat JSON object (the API's and the JSONL export's shape)."""
    event, link = stored.event, stored.link
    return {
        **event_fields(event),
        "occurred_at": format_time(event.occurred_at),
        "chain_id": link.chain_id,
        "seq": link.seq,
        "prev_hash": link.prev_hash,
        "hash": link.hash,
        "content_purged": event.content is None and event.content_hash is not None,
        "content": None if event.content is None else dict(event.content),
    }


def jsonl_line(stored: StoredEvent) -> str:
    return json.dumps(event_json(stored), ensure_ascii=False, separators=(",", ":")) + "\n"


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    text = str(value)
    if isinstance(value, str) and text.startswith(_FORMULA_PREFIXES):
        return "'" + text
    return text


def _csv_text(cells: list[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow(cells)
    return buffer.getvalue()


def csv_header() -> str:
    return _csv_text(list(CSV_COLUMNS))


def csv_line(stored: StoredEvent) -> str:
    data = event_json(stored)
    return _csv_text([_cell(data[column]) for column in CSV_COLUMNS])


async def export_lines(
    events: AsyncIterable[StoredEvent], fmt: ExportFormat, *, lines_per_chunk: int = 200
) -> AsyncIterator[str]:
    """Encode events as JSONL or CSV text chunks, holding at most `lines_per_chunk` lines."""
    chunk: list[str] = [csv_header()] if fmt == "csv" else []
    encode = csv_line if fmt == "csv" else jsonl_line
    async for stored in events:
        chunk.append(encode(stored))
        if len(chunk) >= lines_per_chunk:
            yield "".join(chunk)
            chunk = []
    if chunk:
        yield "".join(chunk)

"""Export shapes: one flat JSON object per event, CSV safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import replace

import pytest

from gateway.audit.chain import ChainHead, StoredEvent, seal
from gateway.audit.export import CSV_COLUMNS, csv_header, csv_line, event_json, export_lines, jsonl_line
from tests.unit.audit.fakes import make_event

pytestmark = pytest.mark.anyio


def stored(n: int = 1, **changes) -> StoredEvent:
    sealed, _ = seal([make_event(n, **changes)], ChainHead("chain-a"))
    return StoredEvent(n, sealed[0].event, sealed[0].link)


def test_event_json_has_every_csv_column():
    assert set(event_json(stored())) == set(CSV_COLUMNS)


def test_jsonl_line_is_one_json_object_with_the_chain_link():
    event = stored()
    line = jsonl_line(event)
    assert line.endswith("\n")
    assert line.count("\n") == 1
    data = json.loads(line)
    assert (data["chain_id"], data["seq"], data["hash"]) == ("chain-a", 1, event.link.hash)
    assert data["occurred_at"].endswith("Z")


def test_purged_content_is_flagged_in_the_export():
    event = stored()
    purged = replace(event, event=replace(event.event, content=None))
    assert event_json(purged)["content_purged"] is True
    assert event_json(event)["content_purged"] is False


def test_csv_row_parses_back_to_the_columns():
    rows = list(csv.reader(io.StringIO(csv_header() + csv_line(stored()))))
    assert rows[0] == list(CSV_COLUMNS)
    record = dict(zip(rows[0], rows[1], strict=True))
    assert record["tenant"] == "acme"
    assert json.loads(record["pii_actions"]) == {"EMAIL_ADDRESS": "mask"}


def test_csv_neutralises_cells_a_spreadsheet_would_run_as_formulas():
    rows = list(csv.reader(io.StringIO(csv_line(stored(user_agent='=HYPERLINK("http://evil")')))))
    record = dict(zip(CSV_COLUMNS, rows[0], strict=True))
    assert record["user_agent"].startswith("'=")


async def test_export_lines_streams_chunks_with_a_csv_header_first():
    async def events():
        for n in range(1, 6):
            yield stored(n)

    chunks = [chunk async for chunk in export_lines(events(), "csv", lines_per_chunk=2)]
    assert len(chunks) == 3
    text = "".join(chunks)
    assert text.startswith(",".join(CSV_COLUMNS))
    assert len(list(csv.reader(io.StringIO(text)))) == 6


async def test_export_of_nothing_is_empty_jsonl():
    async def events():
        return
        yield

    assert [chunk async for chunk in export_lines(events(), "jsonl")] == []

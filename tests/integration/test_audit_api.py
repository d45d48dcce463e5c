"""The officers' HTTP API on a real Litestar app over real SQLite and PostgreSQL.

The app here wires the controller the way `gateway/app.py` does: a `principal` dependency
(here from a test header instead of an API key) and an `audit_store` dependency holding an
`AuditStore` on the audit engine, plus the gateway's error handlers.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import pytest
from litestar import Litestar, Request
from litestar.datastructures import State
from litestar.di import Provide
from litestar.exceptions import HTTPException
from litestar.testing import AsyncTestClient
from prometheus_client import CollectorRegistry

from gateway.api.audit import AuditController
from gateway.api.errors import gateway_exception_handler, http_exception_handler
from gateway.audit.database import create_audit_engine
from gateway.audit.export import CSV_COLUMNS
from gateway.audit.metrics import AuditMetrics
from gateway.audit.query import AuditStore
from gateway.audit.writer import AuditWriter
from gateway.auth import Principal
from gateway.errors import GatewayError, Unauthenticated
from tests.unit.audit.databases import DATABASE_KINDS, audit_database
from tests.unit.audit.fakes import T0, make_event

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

AUDITOR = {"x-test-roles": "auditor"}
APP = {"x-test-roles": "app"}


def principal_from_header(request: Request) -> Principal:
    roles = request.headers.get("x-test-roles")
    if roles is None:
        raise Unauthenticated("no key")
    return Principal(key_id="key_test", tenant="acme", roles=frozenset(roles.split(",")))


def store_from_state(state: State) -> AuditStore:
    return state.audit_store


@pytest.fixture(params=DATABASE_KINDS)
async def client(request, tmp_path):
    async with audit_database(request.param, tmp_path) as db:
        async with AuditWriter(db.engine, db.settings, metrics=AuditMetrics.create(CollectorRegistry())) as writer:
            for n in range(1, 31):
                tenant = "globex" if n % 5 == 0 else "acme"
                await writer.append(make_event(n, at=T0 + timedelta(minutes=n), tenant=tenant), wait=False)

        @asynccontextmanager
        async def audit_lifespan(app: Litestar) -> AsyncIterator[None]:
            # As in the gateway's lifespan: the engine is made in the app's own event loop.
            engine = create_audit_engine(db.settings)
            app.state.audit_store = AuditStore(engine)
            try:
                yield
            finally:
                await engine.dispose()

        app = Litestar(
            route_handlers=[AuditController],
            lifespan=[audit_lifespan],
            dependencies={
                "principal": Provide(principal_from_header, sync_to_thread=False),
                "audit_store": Provide(store_from_state, sync_to_thread=False),
            },
            exception_handlers={GatewayError: gateway_exception_handler, HTTPException: http_exception_handler},
        )
        async with AsyncTestClient(app) as test_client:
            yield test_client


async def test_app_keys_get_403(client):
    for path in ("/audit/events", "/audit/export", "/audit/verify", "/audit/stats", "/audit/events/x"):
        response = await client.get(path, headers=APP)
        assert response.status_code == 403, path
        assert response.json()["error"]["code"] == "forbidden"


async def test_no_key_gets_401(client):
    assert (await client.get("/audit/events")).status_code == 401


async def test_admins_may_read_the_log(client):
    assert (await client.get("/audit/events", headers={"x-test-roles": "admin"})).status_code == 200


async def test_events_are_listed_newest_first_without_content_by_default(client):
    response = await client.get("/audit/events", params={"limit": 3}, headers=AUDITOR)
    assert response.status_code == 200
    body = response.json()
    assert [e["request_id"] for e in body["data"]] == ["req-30", "req-29", "req-28"]
    assert "content" not in body["data"][0]
    assert body["next_cursor"]


async def test_cursor_pagination_walks_all_matching_events(client):
    seen, cursor = [], None
    while True:
        params = {"tenant": "acme", "limit": 7, **({"cursor": cursor} if cursor else {})}
        body = (await client.get("/audit/events", params=params, headers=AUDITOR)).json()
        seen += [e["request_id"] for e in body["data"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 24


async def test_filters_by_time_range_and_pii_type(client):
    params = {
        "since": (T0 + timedelta(minutes=10)).isoformat(),
        "until": (T0 + timedelta(minutes=20)).isoformat(),
        "pii_type": "EMAIL_ADDRESS",
    }
    body = (await client.get("/audit/events", params=params, headers=AUDITOR)).json()
    numbers = sorted(int(e["request_id"].split("-")[1]) for e in body["data"])
    assert numbers == [n for n in range(10, 20) if n % 2 and n % 3]


async def test_one_event_comes_with_its_redacted_content(client):
    listed = (await client.get("/audit/events", params={"limit": 1}, headers=AUDITOR)).json()["data"][0]
    response = await client.get(f"/audit/events/{listed['event_id']}", headers=AUDITOR)
    assert response.status_code == 200
    event = response.json()
    assert event["content"]["request"]["messages"][0]["content"] == "Mail <EMAIL_ADDRESS> about the merger"
    assert event["hash"] == listed["hash"]


async def test_unknown_event_is_404(client):
    assert (await client.get("/audit/events/nope", headers=AUDITOR)).status_code == 404


@pytest.mark.parametrize(
    "params",
    [{"decision": "maybe"}, {"limit": 0}, {"cursor": "garbage"}, {"since": "2025-01-02", "until": "2025-01-01"}],
)
async def test_bad_parameters_are_400(client, params):
    response = await client.get("/audit/events", params=params, headers=AUDITOR)
    assert response.status_code == 400


async def test_jsonl_export_streams_every_matching_event_oldest_first(client):
    response = await client.get("/audit/export", params={"format": "jsonl", "tenant": "globex"}, headers=AUDITOR)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/x-ndjson")
    lines = [json.loads(line) for line in response.text.splitlines()]
    assert [e["request_id"] for e in lines] == ["req-5", "req-10", "req-15", "req-20", "req-25", "req-30"]
    assert lines[0]["content"] is not None


async def test_csv_export_has_a_header_and_one_row_per_event(client):
    response = await client.get("/audit/export", params={"format": "csv"}, headers=AUDITOR)
    assert response.status_code == 200
    assert 'filename="audit-export.csv"' in response.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0] == list(CSV_COLUMNS)
    assert len(rows) == 31


async def test_unknown_export_format_is_400(client):
    assert (await client.get("/audit/export", params={"format": "xml"}, headers=AUDITOR)).status_code == 400


async def test_verify_reports_every_chain(client):
    body = (await client.get("/audit/verify", headers=AUDITOR)).json()
    assert body["ok"] is True
    assert body["checked"] == 30
    assert body["chains"][0]["head"]["seq"] == 30


async def test_stats_by_tenant_per_hour(client):
    response = await client.get(
        "/audit/stats", params={"by": "tenant", "bucket": "hour", "event_type": "request"}, headers=AUDITOR
    )
    body = response.json()
    assert body["by"] == "tenant"
    assert {(row["key"], row["events"]) for row in body["data"]} == {("acme", 24), ("globex", 6)}


async def test_stats_by_pii_type_counts_entities(client):
    params = {"by": "pii_type", "bucket": "day", "event_type": "request"}
    body = (await client.get("/audit/stats", params=params, headers=AUDITOR)).json()
    (row,) = body["data"]
    assert row["key"] == "EMAIL_ADDRESS"
    assert row["events"] == len([n for n in range(1, 31) if n % 2 and n % 3])
    assert row["entities"] == sum(n % 3 for n in range(1, 31) if n % 2)


async def test_stats_with_an_unknown_dimension_is_400(client):
    assert (await client.get("/audit/stats", params={"by": "colour"}, headers=AUDITOR)).status_code == 400

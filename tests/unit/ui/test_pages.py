"""The review pages over HTTP: a real Litestar app with the `/ui` router on a real SQLite audit log.

The app here is wired as `gateway/app.py` wires the officer API: an `audit_store`
dependency holding an `AuditStore` on the audit engine. Keys come from a real `KeyStore`.
Marked `integration` like the officer API's tests: it writes a SQLite database file.
"""

from __future__ import annotations

import csv
import io
import os
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import pytest
from litestar import Litestar
from litestar.datastructures import State
from litestar.di import Provide
from litestar.testing import AsyncTestClient
from prometheus_client import CollectorRegistry

from gateway.audit.database import create_audit_engine
from gateway.audit.metrics import AuditMetrics
from gateway.audit.query import AuditStore
from gateway.audit.record import request_event, uuid7
from gateway.audit.writer import AuditWriter
from gateway.auth import KeyStore, Principal, StoredKey, hash_key
from gateway.ui.context import LOGIN_COOKIE, SESSION_COOKIE
from gateway.ui.routes import ui_router
from tests.unit.audit.databases import audit_database
from tests.unit.audit.fakes import T0, make_context, make_event

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

AUDITOR_KEY = "sk-test-auditor"
ADMIN_KEY = "sk-test-admin"
APP_KEY = "sk-test-app"
SCRIPT = "<script>alert(1)</script>"
EVENTS = 30
PROTECTED = ["/ui/events", "/ui/events/x", "/ui/export?format=csv", "/ui/integrity?run=1", "/ui/overview"]


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def keys() -> KeyStore:
    def key(secret: str, key_id: str, role: str) -> StoredKey:
        return StoredKey(hash_key(secret), Principal(key_id, "acme", frozenset({role})))

    return KeyStore(
        [
            key(AUDITOR_KEY, "key-auditor", "auditor"),
            key(ADMIN_KEY, "key-admin", "admin"),
            key(APP_KEY, "key-app", "app"),
        ]
    )


def store_from_state(state: State) -> AuditStore:
    return state.audit_store


def script_event():
    body = {"model": "m", "messages": [{"role": "user", "content": f"Say {SCRIPT}"}]}
    moment = T0 + timedelta(hours=2)
    return request_event(
        make_context(request_id="req-script", body=body),
        event_id=uuid7(moment, os.urandom(10)),
        now=moment,
        gateway_version="0.1.0",
        store_content="redacted",
    )


@pytest.fixture
async def db(tmp_path):
    async with audit_database("sqlite", tmp_path) as database:
        async with AuditWriter(
            database.engine, database.settings, metrics=AuditMetrics.create(CollectorRegistry())
        ) as w:
            for n in range(1, EVENTS + 1):
                tenant = "globex" if n % 5 == 0 else "acme"
                event_type = "response" if n % 3 == 0 else "request"
                event = make_event(n, at=T0 + timedelta(minutes=n), tenant=tenant, event_type=event_type)
                await w.append(event, wait=False)
            await w.append(script_event(), wait=False)
        yield database


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
async def client(db, clock) -> AsyncIterator[AsyncTestClient]:
    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        engine = create_audit_engine(db.settings)
        app.state.audit_store = AuditStore(engine)
        try:
            yield
        finally:
            await engine.dispose()

    app = Litestar(
        route_handlers=[ui_router(keys().authenticate, clock=clock)],
        lifespan=[lifespan],
        dependencies={"audit_store": Provide(store_from_state, sync_to_thread=False)},
    )
    async with AsyncTestClient(app) as test_client:
        yield test_client


def form_token(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match is not None, html
    return match.group(1)


async def sign_in(client, key: str = AUDITOR_KEY, next_url: str = "/ui/events"):
    page = await client.get("/ui/login")
    return await client.post(
        "/ui/login",
        data={"api_key": key, "csrf_token": form_token(page.text), "next": next_url},
        follow_redirects=False,
    )


def rows(html: str) -> list[str]:
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0] if "<tbody>" in html else ""
    return re.findall(r"<tr class=\"decision-[^\"]*\">(.*?)</tr>", body, flags=re.DOTALL)


@pytest.mark.parametrize("path", PROTECTED)
async def test_every_page_redirects_to_sign_in_without_a_session(client, path):
    response = await client.get(path, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/ui/login?next=%2Fui%2F")


async def test_the_sign_in_page_and_stylesheet_are_public(client):
    assert (await client.get("/ui/login")).status_code == 200
    css = await client.get("/ui/static/ui.css")
    assert css.status_code == 200
    assert css.headers["content-type"].startswith("text/css")


async def test_an_auditor_key_signs_in_with_a_strict_http_only_cookie(client):
    response = await sign_in(client)
    assert response.status_code == 303
    assert response.headers["location"] == "/ui/events"
    cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith(SESSION_COOKIE + "="))
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    assert "Path=/ui" in cookie
    assert AUDITOR_KEY not in cookie
    assert (await client.get("/ui/events")).status_code == 200


async def test_an_admin_key_may_sign_in(client):
    assert (await sign_in(client, ADMIN_KEY)).status_code == 303


async def test_an_app_key_is_refused(client):
    response = await sign_in(client, APP_KEY)
    assert response.status_code == 403
    assert "does not have the auditor role" in response.text
    assert not any(c.startswith(SESSION_COOKIE + "=") for c in response.headers.get_list("set-cookie"))
    assert (await client.get("/ui/events", follow_redirects=False)).status_code == 303


async def test_an_unknown_key_is_refused(client):
    response = await sign_in(client, "sk-nobody")
    assert response.status_code == 401
    assert "not recognised" in response.text


async def test_sign_in_without_the_form_token_is_refused(client):
    response = await client.post("/ui/login", data={"api_key": AUDITOR_KEY}, follow_redirects=False)
    assert response.status_code == 403
    assert not any(c.startswith(SESSION_COOKIE + "=") for c in response.headers.get_list("set-cookie"))


async def test_sign_in_with_another_browsers_form_token_is_refused(client):
    page = await client.get("/ui/login")
    token = form_token(page.text)
    client.cookies.delete(LOGIN_COOKIE, path="/ui")
    response = await client.post(
        "/ui/login", data={"api_key": AUDITOR_KEY, "csrf_token": token}, follow_redirects=False
    )
    assert response.status_code == 403


@pytest.mark.parametrize(
    "target", ["https://evil.example/", "//evil.example/ui", "/ui/../admin", "/ui/login", "/v1/models"]
)
async def test_sign_in_never_redirects_off_the_review_pages(client, target):
    response = await sign_in(client, next_url=target)
    location = response.headers["location"]
    assert location == "/ui/events" or (location.startswith("/ui/") and "//" not in location)


async def test_sign_in_returns_to_the_page_that_was_asked_for(client):
    first = await client.get("/ui/events?tenant=globex", follow_redirects=False)
    login = await client.get(first.headers["location"])
    assert 'name="next" value="/ui/events?tenant=globex"' in login.text
    response = await sign_in(client, next_url="/ui/events?tenant=globex")
    assert response.headers["location"] == "/ui/events?tenant=globex"


async def test_a_forged_or_expired_session_is_sent_back_to_sign_in(client, clock):
    await sign_in(client)
    value = client.cookies.get(SESSION_COOKIE)
    client.cookies.set(SESSION_COOKIE, value[:-2] + ("AA" if not value.endswith("AA") else "BB"), path="/ui")
    assert (await client.get("/ui/events", follow_redirects=False)).status_code == 303
    client.cookies.set(SESSION_COOKIE, value, path="/ui")
    assert (await client.get("/ui/events", follow_redirects=False)).status_code == 200
    clock.now += 8 * 3600
    assert (await client.get("/ui/events", follow_redirects=False)).status_code == 303


async def test_sign_out_needs_the_session_csrf_token(client):
    await sign_in(client)
    refused = await client.post("/ui/logout", data={"csrf_token": "wrong"}, follow_redirects=False)
    assert refused.status_code == 403
    assert (await client.get("/ui/events", follow_redirects=False)).status_code == 200
    token = form_token((await client.get("/ui/events")).text)
    response = await client.post("/ui/logout", data={"csrf_token": token}, follow_redirects=False)
    assert response.status_code == 303
    assert any(c.startswith(SESSION_COOKIE + '=""') for c in response.headers.get_list("set-cookie"))
    assert (await client.get("/ui/events", follow_redirects=False)).status_code == 303


async def test_pages_forbid_scripts_framing_and_caching(client):
    await sign_in(client)
    response = await client.get("/ui/events")
    assert "default-src 'none'" in response.headers["content-security-policy"]
    assert "script-src" not in response.headers["content-security-policy"]
    assert response.headers["x-frame-options"] == "DENY"
    assert "no-store" in response.headers["cache-control"]


async def test_events_are_listed_newest_first_with_filters_in_the_links(client):
    await sign_in(client)
    html = (await client.get("/ui/events?model=llama-3.1-8b&limit=25")).text
    listed = rows(html)
    assert len(listed) == 25
    times = re.findall(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", "".join(listed))
    assert times == sorted(times, reverse=True)
    older = re.search(r'href="([^"]+)" rel="next"', html).group(1).replace("&amp;", "&")
    assert "model=llama-3.1-8b" in older
    second = rows((await client.get(older)).text)
    assert len(second) == EVENTS + 1 - 25


async def test_filters_narrow_the_list(client):
    await sign_in(client)
    html = (await client.get("/ui/events?tenant=globex")).text
    assert len(rows(html)) == EVENTS // 5
    assert f"<strong>{EVENTS // 5}</strong> matching" in html


async def test_bad_filters_are_explained_and_nothing_is_listed(client):
    await sign_in(client)
    response = await client.get("/ui/events?since=someday")
    assert response.status_code == 400
    assert "is not a time" in response.text
    assert rows(response.text) == []


async def test_a_stale_page_link_falls_back_to_the_newest_events(client):
    await sign_in(client)
    html = (await client.get("/ui/events?cursor=garbage")).text
    assert "not valid" in html
    assert len(rows(html)) == EVENTS + 1


async def test_stored_markup_is_shown_as_text(client):
    await sign_in(client)
    listing = (await client.get("/ui/events?request_id=req-script")).text
    event_id = re.search(r'href="/ui/events/([0-9a-f-]{36})"', listing).group(1)
    html = (await client.get(f"/ui/events/{event_id}")).text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert SCRIPT not in html


async def test_the_detail_page_shows_decision_policy_pii_latency_and_chain_position(client, db):
    await sign_in(client)
    listing = (await client.get("/ui/events?request_id=req-7")).text
    event_id = re.search(r'href="/ui/events/([0-9a-f-]{36})"', listing).group(1)
    html = (await client.get(f"/ui/events/{event_id}")).text
    for expected in (
        "pii.redacted",
        "rev-42",
        "EMAIL_ADDRESS: 1",
        "0.75 ms",
        "seq 7",
        "&lt;EMAIL_ADDRESS&gt;",
    ):
        assert expected in html, expected


async def test_an_unknown_event_is_404(client):
    await sign_in(client)
    assert (await client.get("/ui/events/no-such-event")).status_code == 404


async def test_csv_export_holds_the_filtered_events_with_the_session(client):
    await sign_in(client)
    response = await client.get("/ui/export?format=csv&tenant=globex")
    assert response.status_code == 200
    assert response.headers["content-disposition"].startswith('attachment; filename="audit-export-')
    exported = list(csv.DictReader(io.StringIO(response.text)))
    assert len(exported) == EVENTS // 5
    assert {r["tenant"] for r in exported} == {"globex"}


async def test_an_unknown_export_format_is_refused(client):
    await sign_in(client)
    assert (await client.get("/ui/export?format=xml")).status_code == 400


async def test_verification_reports_an_intact_log(client):
    await sign_in(client)
    html = (await client.get("/ui/integrity?run=1")).text
    assert f"Intact: {EVENTS + 1} events" in html


async def test_verification_links_the_first_broken_event(client, db):
    await db.disable_guards()
    await db.execute("UPDATE audit_events SET tenant = 'mallory' WHERE request_id = 'req-7'")
    tampered = await db.scalar("SELECT event_id FROM audit_events WHERE request_id = 'req-7'")
    await sign_in(client)
    html = (await client.get("/ui/integrity?run=1")).text
    assert "Broken: 1 of 1 chains" in html
    assert f'class="broken-event" href="/ui/events/{tampered}"' in html
    assert "modified" in html


async def test_the_overview_draws_calls_per_tenant(client):
    await sign_in(client)
    since, until = T0.isoformat(), (T0 + timedelta(hours=3)).isoformat()
    html = (await client.get("/ui/overview", params={"since": since, "until": until, "bucket": "hour"})).text
    outcomes = len(range(3, EVENTS + 1, 3))
    assert f'<dd id="total-calls">{outcomes}</dd>' in html
    assert "Calls by tenant" in html
    globex_calls = len([n for n in range(3, EVENTS + 1, 3) if n % 5 == 0])
    assert re.search(rf"<title>2025-03-01 12:00 UTC, globex: {globex_calls}</title>", html)


async def test_the_ui_root_leads_to_sign_in_or_to_the_overview(client):
    assert (await client.get("/ui/", follow_redirects=False)).headers["location"] == "/ui/login"
    await sign_in(client)
    assert (await client.get("/ui", follow_redirects=False)).headers["location"] == "/ui/overview"

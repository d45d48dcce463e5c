"""The audit review page in a real browser: Debian's headless Chromium driven by Playwright.

Traffic goes through a real gateway process with the openai SDK first (allowed calls for two
tenants, a call denied for carrying an API key, a `<script>` prompt, a prompt with an email
address); then an officer signs in and reviews it. Each test saves screenshots of the pages
it visits (paths printed; run with -s to see them).
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import httpx
import pytest

from tests.e2e.ui.conftest import ACME_APP_KEY, AUDITOR_KEY, SCRIPT_PROMPT, Traffic, sign_in
from tests.processes import Running

try:
    from playwright.sync_api import expect
except ImportError:  # the `browser` fixture skips these tests, or fails them under CI=true
    expect = None

pytestmark = pytest.mark.e2e


def test_visitor_is_sent_to_sign_in_and_an_app_key_is_refused(page, shoot):
    page.goto("/ui/events?tenant=acme")
    expect(page).to_have_url(re.compile(r"/ui/login\?next=%2Fui%2Fevents%3Ftenant%3Dacme$"))
    shoot("sign-in")
    page.get_by_label("Auditor API key").fill(ACME_APP_KEY)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#login-error")).to_contain_text("does not have the auditor role")
    shoot("app-key-refused")
    assert not [c for c in page.context.cookies() if c["name"] == "gateway_ui_session"]
    page.goto("/ui/overview")
    expect(page).to_have_url(re.compile(r"/ui/login"))


def test_session_cookie_is_http_only_and_same_site_strict(page):
    sign_in(page)
    (cookie,) = [c for c in page.context.cookies() if c["name"] == "gateway_ui_session"]
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Strict"
    assert cookie["path"] == "/ui"
    assert "gateway_ui_session" not in page.evaluate("document.cookie")


def test_officer_filters_by_tenant_and_decision_and_reads_the_denial_reasons(page, shoot, traffic: Traffic):
    sign_in(page)
    page.get_by_label("Tenant").fill("acme")
    page.get_by_label("Decision").select_option("deny")
    page.get_by_role("button", name="Apply filters").click()
    page.wait_for_url(re.compile(r"decision=deny"))
    assert "tenant=acme" in page.url
    rows = page.locator("#events-table tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("denied")
    expect(rows.first).to_contain_text("policy.data.secret_detected")
    shoot("events-acme-denied")

    rows.first.get_by_role("link").first.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(traffic.denied)
    outcome = page.get_by_role("region", name="Outcome")
    expect(outcome).to_contain_text("policy.data.secret_detected")
    expect(outcome).to_contain_text("denied")
    expect(page.get_by_role("region", name="Request")).to_contain_text("No request event")
    assert "sk-proj-" not in page.content()
    shoot("denied-event")


def test_prompt_with_a_script_tag_is_displayed_as_text(page, shoot, traffic: Traffic, dialogs):
    sign_in(page, start=f"/ui/events?request_id={traffic.script}")
    rows = page.locator("#events-table tbody tr")
    expect(rows).to_have_count(2)
    rows.first.get_by_role("link").first.click()
    request = page.get_by_role("region", name="Request")
    expect(request.locator(".message pre.content")).to_have_text(SCRIPT_PROMPT)
    assert page.locator("main script").count() == 0
    assert page.locator("main pre b").count() == 0
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.content()
    assert dialogs == []
    shoot("script-prompt")


def test_verification_reports_every_chain_and_how_many_events_it_checked(page, shoot, ui_gateway: Running):
    sign_in(page, start="/ui/integrity")
    page.get_by_role("button", name="Run verification").click()
    status = page.locator("#verification-status")
    expect(status).to_contain_text("Intact")
    api = httpx.get(f"{ui_gateway.url}/audit/verify", headers={"authorization": f"Bearer {AUDITOR_KEY}"}).json()
    assert api["ok"] is True
    expect(status).to_contain_text(f"{api['checked']} events")
    expect(page.locator("table.chains tbody tr")).to_have_count(len(api["chains"]))
    shoot("integrity")


def test_export_downloads_the_events_of_the_current_filter(page, shoot):
    sign_in(page, start="/ui/events?tenant=initech-research")
    shoot("events-initech")
    shown = int(page.locator("#match-count strong").inner_text())

    with page.expect_download() as csv_download:
        page.locator("#export-csv").click()
    rows = list(csv.DictReader(Path(csv_download.value.path()).read_text(encoding="utf-8").splitlines()))
    assert csv_download.value.suggested_filename.endswith(".csv")
    assert len(rows) == shown > 0
    assert {r["tenant"] for r in rows} == {"initech-research"}

    with page.expect_download() as jsonl_download:
        page.locator("#export-jsonl").click()
    lines = [json.loads(line) for line in Path(jsonl_download.value.path()).read_text(encoding="utf-8").splitlines()]
    assert [e["event_id"] for e in lines] == [r["event_id"] for r in rows]


def test_overview_charts_calls_denials_and_pii_findings(page, shoot, traffic: Traffic):
    sign_in(page, start="/ui/overview?since=30m&bucket=minute")
    expect(page.locator("#total-calls")).to_have_text(str(len(traffic.allowed) + 3))
    expect(page.locator("#total-denied")).to_have_text("1")
    charts = page.locator("figure.chart")
    expect(charts).to_have_count(5)
    by_tenant = charts.filter(has_text="Calls by tenant")
    expect(by_tenant.locator("svg[role=img] rect").first).to_be_visible()
    expect(by_tenant.locator(".legend")).to_contain_text("acme")
    expect(by_tenant.locator(".legend")).to_contain_text("initech-research")
    expect(charts.filter(has_text="Calls by model").locator(".legend")).to_contain_text("echo-chat")
    expect(charts.filter(has_text="Denials by tenant").locator(".legend")).to_contain_text("acme")
    expect(charts.filter(has_text="PII findings").locator(".legend")).to_contain_text("EMAIL_ADDRESS")
    shoot("overview")


def test_sign_out_ends_the_session(page):
    sign_in(page)
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(r"/ui/login"))
    page.goto("/ui/events")
    expect(page).to_have_url(re.compile(r"/ui/login"))

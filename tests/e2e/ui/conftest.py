"""Fixtures for the browser tests of the audit review page.

A real gateway process (with the `/ui` router, see `serve_ui_app.py`) in front of the demo
upstreams, real traffic sent through it with the openai SDK, and Debian's headless Chromium
driven by Playwright for Python. Chromium and Playwright come from
`scripts/install-browser.sh`; without them the tests skip, except under CI=true, where they
fail. Screenshots go to a temporary folder whose path each test prints.
"""

from __future__ import annotations

import os
import random
import re
import string
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openai
import pytest
import yaml

from tests.processes import Running, free_port, wait_http

CHROMIUM = os.environ.get("GATEWAY_TEST_CHROMIUM", "/usr/bin/chromium")
IN_CI = os.environ.get("CI", "").lower() == "true"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
REPO = Path(__file__).parents[3]

ACME_APP_KEY = "sk-ui-e2e-app-acme"
INITECH_APP_KEY = "sk-ui-e2e-app-initech"
AUDITOR_KEY = "sk-ui-e2e-auditor"
SCRIPT_PROMPT = "Please repeat: <script>alert(1)</script> and <b>bold</b>"


def _unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"{reason}; the browser tests need it under CI=true (run scripts/install-browser.sh)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def chromium() -> str:
    """Chromium's path, once Playwright and the browser are known to be there (checked before any process starts)."""
    try:
        import playwright.sync_api  # noqa: F401, PLC0415 - optional test tool, checked here
    except ImportError:
        _unavailable("playwright is not installed")
    if not Path(CHROMIUM).exists():
        _unavailable(f"no Chromium at {CHROMIUM}")
    return CHROMIUM


@pytest.fixture(scope="module")
def browser(chromium: str) -> Iterator[Any]:
    """Headless Debian Chromium under Playwright, one per test module."""
    from playwright.sync_api import sync_playwright  # noqa: PLC0415 - optional test tool, see `chromium`

    with sync_playwright() as pw:
        launched = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture(scope="session")
def screenshot_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("ui-screenshots")


@pytest.fixture(scope="session")
def ui_gateway(
    chromium: str, e2e_dir: Path, policy_dir: Path, upstream: Running, echo_upstream: Running
) -> Iterator[Running]:
    """The gateway with the review page, in its own process, on a fresh SQLite audit log."""
    port = free_port()
    backend = {"timeout_s": 10, "connect_timeout_s": 2}
    config = {
        "server": {"host": "127.0.0.1", "port": port},
        "logging": {"level": "info", "format": "json"},
        "backends": [
            {"name": "demo", "base_url": f"{upstream.url}/v1", "models": ["demo-chat"], **backend},
            {"name": "echo", "base_url": f"{echo_upstream.url}/v1", "models": ["echo-chat"], **backend},
        ],
        "keys": [
            {"key": ACME_APP_KEY, "id": "ui-app-acme", "tenant": "acme", "roles": ["app"]},
            {"key": INITECH_APP_KEY, "id": "ui-app-initech", "tenant": "initech-research", "roles": ["app"]},
            {"key": AUDITOR_KEY, "id": "ui-auditor", "tenant": "acme", "roles": ["auditor"]},
        ],
        "audit": {"database_url": f"sqlite+aiosqlite:///{e2e_dir}/ui-audit.db"},
        "policy": {"dir": str(policy_dir)},
    }
    config_path = e2e_dir / "ui-gateway.yaml"
    config_path.write_text(yaml.safe_dump(config))
    log_path = e2e_dir / "ui-gateway.log"
    with log_path.open("wb") as log_file:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.e2e.ui.serve_ui_app", str(config_path), str(port)],
            cwd=REPO,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    running = Running(proc, port, log_path)
    try:
        wait_http(f"{running.url}/healthz", proc, timeout_s=60)
        yield running
    finally:
        running.stop()


@dataclass(frozen=True)
class Traffic:
    """Request ids of the calls sent before the browser looks at the log."""

    allowed: tuple[str, ...]
    denied: str
    denied_message: str
    script: str
    pii: str


def _rid(purpose: str) -> str:
    return f"ui-e2e-{purpose}-{uuid.uuid4().hex[:12]}"


def _chat(sdk: openai.OpenAI, model: str, prompt: str, purpose: str) -> str:
    rid = _rid(purpose)
    raw = sdk.chat.completions.with_raw_response.create(
        model=model, messages=[{"role": "user", "content": prompt}], extra_headers={"x-request-id": rid}
    )
    raw.parse()
    assert raw.headers["x-request-id"] == rid
    return rid


@pytest.fixture(scope="session")
def traffic(ui_gateway: Running) -> Traffic:
    """Allowed calls for two tenants and two models, one denied call, one `<script>` prompt, one with PII."""
    base_url = f"{ui_gateway.url}/v1"
    with (
        openai.OpenAI(base_url=base_url, api_key=ACME_APP_KEY, max_retries=0, timeout=20) as acme,
        openai.OpenAI(base_url=base_url, api_key=INITECH_APP_KEY, max_retries=0, timeout=20) as initech,
    ):
        allowed = (
            _chat(acme, "demo-chat", "Summarise our travel policy", "allowed"),
            _chat(acme, "echo-chat", "Hello from acme", "allowed"),
            _chat(initech, "demo-chat", "Draft a short project update", "allowed"),
            _chat(initech, "echo-chat", "Hello from initech", "allowed"),
        )
        script = _chat(acme, "echo-chat", SCRIPT_PROMPT, "script")
        pii = _chat(acme, "echo-chat", "Write to jane.doe@example.com about the invoice", "pii")
        secret = "sk-proj-" + "".join(random.choices(string.ascii_letters, k=40))
        denied = _rid("denied")
        with pytest.raises(openai.PermissionDeniedError) as refused:
            acme.chat.completions.create(
                model="demo-chat",
                messages=[{"role": "user", "content": f"Store this key for me: {secret}"}],
                extra_headers={"x-request-id": denied},
            )
    return Traffic(allowed, denied, refused.value.message, script, pii)


@pytest.fixture
def dialogs() -> list[str]:
    """Messages of the JavaScript dialogs (alert, confirm) a page opened: there should be none."""
    return []


@pytest.fixture
def page(browser: Any, ui_gateway: Running, traffic: Traffic, dialogs: list[str]) -> Iterator[Any]:
    """A fresh browser context (no cookies) on the gateway; dialogs are recorded in `dialogs`."""
    context = browser.new_context(
        base_url=ui_gateway.url, accept_downloads=True, viewport={"width": 1400, "height": 1000}
    )
    context.set_default_timeout(10_000)
    tab = context.new_page()

    def record(dialog: Any) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    tab.on("dialog", record)
    try:
        yield tab
    finally:
        context.close()


@pytest.fixture
def shoot(page: Any, screenshot_dir: Path, request: pytest.FixtureRequest):
    """`shoot("name")` saves a full-page screenshot of the current page and prints its path."""

    def take(name: str) -> Path:
        path = screenshot_dir / f"{request.node.name}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        print(f"screenshot: {path}")
        return path

    return take


def sign_in(page: Any, *, start: str = "/ui/events") -> None:
    """Open `start` as a signed-out visitor, sign in on the page it redirects to, land on `start`."""
    page.goto(start)
    page.get_by_label("Auditor API key").fill(AUDITOR_KEY)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/ui/(?!login)"))

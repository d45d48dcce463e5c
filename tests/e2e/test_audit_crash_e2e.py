"""Strict audit mode when things go wrong: a gateway killed under load, a database that goes away.

Crash: a gateway process (strict mode, one worker) serves 12 concurrent openai SDK callers,
half of them streaming, and is killed with SIGKILL mid-load. Every call the client saw
succeed (a non-streamed 200, or a stream that reached `data: [DONE]`) must have its
`request` and `response` events in the database, matched by the `x-request-id` the client
sent, and the chains must still verify. Run on SQLite and PostgreSQL.

Outage: a gateway reaches PostgreSQL through a TCP proxy the test cuts after start. While it
is cut, calls (streamed or not) get 503 `audit_unavailable` and the demo upstream receives
nothing; once it is restored, calls succeed again and the refused calls' events are written
(never dropped): an `error` event (503, `audit.unavailable`) after the `request` event the
writer had already accepted.
A SQLite file the gateway cannot open is a configuration error found at start: `serve`
migrates SQLite before listening, and refuses to start.
"""

from __future__ import annotations

import collections
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import httpx2
import openai
import pytest
import yaml
from sqlalchemy.engine import make_url

from tests.e2e.audit.databases import KINDS, AuditDb, audit_db
from tests.e2e.audit.launch import launch_all, selected_params, start_gateway, uses_fixture
from tests.e2e.audit.tcp_proxy import CuttableTcpProxy
from tests.processes import Running
from tests.unit.audit.databases import PG_URL

pytestmark = pytest.mark.e2e

APP_KEY = "sk-audit-crash-app-0b5e55ed0b5e55ed"
AUDITOR_KEY = "sk-audit-crash-auditor-a11ce5a11ce5"
CALLERS = 12
SUCCESSES_BEFORE_KILL = 60
FAST_RETRY = {"retry_initial_ms": 20, "retry_max_ms": 200, "commit_timeout_ms": 3000}


@dataclass(frozen=True)
class Backing:
    """What every gateway of this module shares: the demo upstream and the policy directory."""

    upstream: Running
    policy_dir: Path


def _config(backing: Backing, audit: dict[str, Any]) -> dict[str, Any]:
    """PII detection and rate limits are not under test here: off, for a fast start and no 429s."""
    return {
        "policy": {"dir": str(backing.policy_dir)},
        "backends": [
            {"name": "demo", "base_url": f"{backing.upstream.url}/v1", "models": ["demo-chat"], "timeout_s": 10}
        ],
        "keys": [
            {"key": APP_KEY, "id": "audit-crash-app", "tenant": "acme", "roles": ["app"]},
            {"key": AUDITOR_KEY, "id": "audit-crash-auditor", "tenant": "acme", "roles": ["auditor"]},
        ],
        "audit": {**audit, "mode": "strict"},
        "pii": {"enabled": False},
        "ratelimits": {"enabled": False},
    }


@dataclass(frozen=True)
class Crash:
    gateway: Running
    db: AuditDb


@dataclass(frozen=True)
class Outage:
    gateway: Running
    upstream: Running
    proxy: CuttableTcpProxy
    db: AuditDb


def _start_crash(key: str, stack: ExitStack, directory: Path, backing: Backing) -> Crash:
    kind = key.removeprefix("crash-")
    db = stack.enter_context(audit_db(kind, directory, key))
    gateway = start_gateway(directory, _config(backing, db.section), name=key)
    stack.callback(gateway.stop)
    return Crash(gateway, db)


def _start_outage(stack: ExitStack, directory: Path, backing: Backing) -> Outage:
    url = make_url(PG_URL)
    proxy = stack.enter_context(CuttableTcpProxy(url.host or "127.0.0.1", url.port or 5432))
    proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    db = stack.enter_context(audit_db("postgres", directory, "outage", database_url=proxied, **FAST_RETRY))
    gateway = start_gateway(directory, _config(backing, db.section), name="outage")
    stack.callback(gateway.stop)
    return Outage(gateway, backing.upstream, proxy, db)


@pytest.fixture(scope="module")
def backing(upstream: Running, policy_dir: Path) -> Backing:
    return Backing(upstream, policy_dir)


@pytest.fixture(scope="module")
def launched(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, backing: Backing
) -> Iterator[Callable[[str], Crash | Outage]]:
    """Every gateway the selected tests of this module need, started at once."""
    directory = tmp_path_factory.mktemp("audit-crash")
    keys = [f"crash-{kind}" for kind in selected_params(request, "crash_gateway", "db_kind")]
    if uses_fixture(request, "outage"):
        keys.append("outage")

    def start(key: str, stack: ExitStack) -> Crash | Outage:
        if key == "outage":
            return _start_outage(stack, directory, backing)
        return _start_crash(key, stack, directory, backing)

    with launch_all(keys, start) as get:
        yield get


@pytest.fixture(scope="module", params=KINDS)
def db_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def crash_gateway(db_kind: str, launched: Callable[[str], Crash | Outage]) -> Crash:
    crash = launched(f"crash-{db_kind}")
    assert isinstance(crash, Crash)
    return crash


@pytest.fixture
def outage(launched: Callable[[str], Crash | Outage]) -> Outage:
    stack = launched("outage")
    assert isinstance(stack, Outage)
    return stack


@dataclass(frozen=True)
class Result:
    request_id: str
    streamed: bool
    succeeded: bool


def _unary(client: openai.OpenAI, request_id: str) -> bool:
    client.chat.completions.create(
        model="demo-chat",
        messages=[{"role": "user", "content": "Hello"}],
        extra_headers={"x-request-id": request_id},
    )
    return True


def _streamed(client: openai.OpenAI, request_id: str) -> bool:
    """Through the SDK's raw stream, to see `data: [DONE]` itself (the SDK's iterator hides it)."""
    with client.chat.completions.with_streaming_response.create(
        model="demo-chat",
        messages=[{"role": "user", "content": "Tell me a story"}],
        stream=True,
        extra_headers={"x-request-id": request_id},
    ) as response:
        done = any(line == "data: [DONE]" for line in response.iter_lines())
    return response.status_code == 200 and done


def _caller(gateway: Running, n: int, stop: threading.Event, results: list[Result]) -> None:
    with openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=APP_KEY, max_retries=0, timeout=15) as client:
        i = 0
        while not stop.is_set():
            request_id = f"crash-{n}-{i}-{uuid.uuid4().hex[:6]}"
            streamed = (n + i) % 2 == 1
            try:
                succeeded = (_streamed if streamed else _unary)(client, request_id)
            except (openai.APIError, httpx2.HTTPError):
                # The SDK's transport (httpx2) raises its own errors from a raw stream cut short.
                succeeded = False
            results.append(Result(request_id, streamed, succeeded))
            i += 1


def test_every_call_the_client_saw_succeed_survives_sigkill(crash_gateway: Crash) -> None:
    gateway, db = crash_gateway.gateway, crash_gateway.db
    results: list[Result] = []
    stop = threading.Event()
    callers = [
        threading.Thread(target=_caller, args=(gateway, n, stop, results), name=f"caller-{n}") for n in range(CALLERS)
    ]
    for caller in callers:
        caller.start()
    deadline = time.monotonic() + 60
    while sum(r.succeeded for r in results) < SUCCESSES_BEFORE_KILL and time.monotonic() < deadline:
        time.sleep(0.01)
    gateway.proc.send_signal(signal.SIGKILL)
    stop.set()
    gateway.proc.wait(timeout=10)
    for caller in callers:
        caller.join(timeout=30)
    assert gateway.proc.returncode == -signal.SIGKILL

    succeeded = [r for r in results if r.succeeded]
    assert len(succeeded) >= SUCCESSES_BEFORE_KILL
    assert {r.streamed for r in succeeded} == {True, False}
    types = collections.defaultdict(set)
    for event in db.events():
        types[event["request_id"]].add(event["event_type"])
    missing = [r.request_id for r in succeeded if not {"request", "response"} <= types[r.request_id]]
    cut_off = len(results) - len(succeeded)
    assert missing == [], f"{len(missing)} of {len(succeeded)} acknowledged calls lack events ({cut_off} cut off)"
    assert db.chains_verify()


def _call(client: openai.OpenAI, request_id: str, *, stream: bool) -> None:
    if stream:
        with client.chat.completions.with_streaming_response.create(
            model="demo-chat",
            messages=[{"role": "user", "content": "Hello"}],
            stream=True,
            extra_headers={"x-request-id": request_id},
        ) as response:
            response.read()
    else:
        client.chat.completions.create(
            model="demo-chat",
            messages=[{"role": "user", "content": "Hello"}],
            extra_headers={"x-request-id": request_id},
        )


def _forwarded(upstream: Running) -> set[str]:
    """Request ids the demo upstream received (its request log keeps the headers)."""
    received = httpx.get(f"{upstream.url}/_demo/requests").json()["requests"]
    return {r["headers"].get("x-request-id") for r in received}


def _received_count(upstream: Running) -> int:
    """Calls the demo upstream has received so far (no other test runs while one test does)."""
    return int(httpx.get(f"{upstream.url}/_demo/stats").json()["requests"])


def _wait_ready(gateway: Running, timeout_s: float = 15.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        ready = httpx.get(f"{gateway.url}/readyz")
        if ready.status_code == 200 or time.monotonic() > deadline:
            body: dict[str, Any] = ready.json()
            return body
        time.sleep(0.05)


@pytest.mark.postgres
@pytest.mark.integration
def test_strict_calls_get_503_and_nothing_is_forwarded_while_the_database_is_down(outage: Outage) -> None:
    run = uuid.uuid4().hex[:6]
    with openai.OpenAI(base_url=f"{outage.gateway.url}/v1", api_key=APP_KEY, max_retries=0, timeout=15) as client:
        _call(client, f"before-{run}", stream=False)
        assert f"before-{run}" in _forwarded(outage.upstream)

        outage.proxy.cut()
        received_before = _received_count(outage.upstream)
        refused = {f"down-{run}-unary": False, f"down-{run}-stream": True}
        for request_id, stream in refused.items():
            with pytest.raises(openai.APIStatusError) as caught:
                _call(client, request_id, stream=stream)
            assert caught.value.status_code == 503
            assert caught.value.response.headers["x-request-id"] == request_id
            assert isinstance(caught.value.body, dict)
            assert caught.value.body["code"] == "audit_unavailable"
        assert _forwarded(outage.upstream).isdisjoint(refused)
        assert _received_count(outage.upstream) == received_before
        readiness = httpx.get(f"{outage.gateway.url}/readyz")
        assert readiness.status_code == 503
        assert readiness.json()["checks"]["audit_writer"] is False

        outage.proxy.restore()
        assert _wait_ready(outage.gateway)["checks"]["audit_writer"] is True
        _call(client, f"after-{run}", stream=True)
        assert f"after-{run}" in _forwarded(outage.upstream)

    events = outage.db.events()
    for request_id in refused:
        outcome = [e for e in events if e["request_id"] == request_id and e["event_type"] != "request"]
        assert [(e["event_type"], e["status_code"], e["error_code"]) for e in outcome] == [
            ("error", 503, "audit.unavailable")
        ]
    for request_id in (f"before-{run}", f"after-{run}"):
        assert sorted(e["event_type"] for e in events if e["request_id"] == request_id) == ["request", "response"]
    verified = httpx.get(f"{outage.gateway.url}/audit/verify", headers={"authorization": f"Bearer {AUDITOR_KEY}"})
    assert verified.json()["ok"] is True


def test_a_gateway_whose_sqlite_file_cannot_be_opened_refuses_to_start(tmp_path: Path, backing: Backing) -> None:
    """SQLite is a local file the gateway migrates before listening: a path it cannot open is a
    configuration error, reported at start (exit 2, one line naming the database), not 503s later."""
    database = tmp_path / "no-such-directory" / "audit.db"
    config = tmp_path / "gateway.yaml"
    config.write_text(yaml.safe_dump(_config(backing, {"database_url": f"sqlite+aiosqlite:///{database}"})))
    # A real process: what matters is that `gateway serve` exits instead of listening.
    done = subprocess.run(
        [sys.executable, "-m", "gateway", "serve", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert done.returncode == 2
    assert f"cannot migrate the audit database sqlite+aiosqlite:///{database}" in done.stderr
    # Not the unhandled SQLAlchemy traceback `serve` used to end with. (aiosqlite 0.22 may still
    # print "Event loop is closed" from its worker thread after a failed connect: its own race,
    # omnilib/aiosqlite#241, harmless to the exit code.)
    assert "sqlalchemy.exc.OperationalError" not in done.stderr
    assert "Uvicorn running" not in done.stdout + done.stderr

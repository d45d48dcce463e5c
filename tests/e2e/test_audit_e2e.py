"""The audit log end to end: a running gateway, the official openai SDK, a real database.

For each database (SQLite file, PostgreSQL schema) one gateway process (PII detection on,
strict audit mode) serves a fixed set of calls once per module: an allowed call with an
email address in the prompt, a streamed one, one denied by policy (an API key in the
prompt), one that fails (nothing listens on its backend's port), one for an unknown
model, one with a malformed body, one for a model the key may not use and one with a
wrong key. Each test then reads the log as an officer would (`GET /audit/export`, the
`gateway audit` CLI) and checks one promise of issue 5: every call has its events with
every documented field, content is stored redacted, the key itself is never stored, the
chain verifies, both exports agree, and application keys cannot read the log.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

import gateway
from gateway.audit.export import CSV_COLUMNS
from tests.e2e.audit.databases import KINDS, AuditDb, CliResult, audit_db, gateway_cli
from tests.e2e.audit.launch import launch_all, selected_params, start_gateway
from tests.processes import Running, free_port

pytestmark = pytest.mark.e2e

APP_KEY = "sk-audit-e2e-app-5c0ffee5c0ffee5c0ffee"
APP_KEY_ID = "audit-e2e-app"
LIMITED_KEY = "sk-audit-e2e-limited-0ddba11c0ffee0ddba11"
"""An application key that may use only `down-chat`."""
AUDITOR_KEY = "sk-audit-e2e-auditor-7e57ab1e7e57ab1e"
EMAIL = "jane.roe@example.com"
STREAM_EMAIL = "bob.stone@example.org"
SECRET = "sk-proj-" + "Qw" * 20
"""Shaped like an OpenAI project key: the shipped policy refuses prompts carrying secrets."""


@dataclass(frozen=True)
class Call:
    """One call as the client saw it."""

    request_id: str
    status: int
    answered_request_id: str | None
    body: dict[str, Any] = field(default_factory=dict)


@dataclass
class Observed:
    """Everything one database's gateway did and what an officer can read back."""

    kind: str
    gateway: Running
    db: AuditDb
    calls: dict[str, Call]
    http_jsonl: str
    http_csv: str
    cli_jsonl: str
    cli_csv: str
    cli_verify: CliResult

    @property
    def events(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.http_jsonl.splitlines()]

    def events_of(self, case: str) -> list[dict[str, Any]]:
        request_id = self.calls[case].request_id
        return [e for e in self.events if e["request_id"] == request_id]


def _config(policy_dir: Path, echo: Running, audit: dict[str, Any]) -> dict[str, Any]:
    closed = f"http://127.0.0.1:{free_port()}/v1"
    return {
        "backends": [
            {"name": "echo", "base_url": f"{echo.url}/v1", "models": ["echo-chat"], "timeout_s": 10},
            {"name": "refusing", "base_url": closed, "models": ["down-chat"], "connect_timeout_s": 1, "timeout_s": 5},
        ],
        "keys": [
            {"key": APP_KEY, "id": APP_KEY_ID, "tenant": "acme", "roles": ["app"]},
            {
                "key": LIMITED_KEY,
                "id": "audit-e2e-limited",
                "tenant": "acme",
                "roles": ["app"],
                "models": ["down-chat"],
            },
            {"key": AUDITOR_KEY, "id": "audit-e2e-auditor", "tenant": "acme", "roles": ["auditor"]},
        ],
        "audit": audit,
        "policy": {"dir": str(policy_dir)},
    }


def _rid(kind: str, case: str) -> str:
    return f"audit-e2e-{kind}-{case}-{uuid.uuid4().hex[:8]}"


def _refused(request_id: str, exc: openai.APIStatusError) -> Call:
    body = exc.body if isinstance(exc.body, dict) else {}
    return Call(request_id, exc.status_code, exc.response.headers.get("x-request-id"), body)


def _traffic(kind: str, gateway: Running) -> dict[str, Call]:
    """The calls every test in this module looks at, made once, one after the other."""
    calls: dict[str, Call] = {}
    with openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=APP_KEY, max_retries=0, timeout=30) as client:
        rid = _rid(kind, "allowed")
        raw = client.chat.completions.with_raw_response.create(
            model="echo-chat",
            messages=[{"role": "user", "content": f"Please send the summary to {EMAIL} by Friday."}],
            extra_headers={"x-request-id": rid},
        )
        answer = raw.parse()
        calls["allowed"] = Call(rid, raw.status_code, raw.headers.get("x-request-id"), answer.model_dump())

        rid = _rid(kind, "streamed")
        with client.chat.completions.with_streaming_response.create(
            model="echo-chat",
            messages=[{"role": "user", "content": f"Write a short greeting for {STREAM_EMAIL}."}],
            stream=True,
            stream_options={"include_usage": True},
            extra_headers={"x-request-id": rid},
        ) as streamed:
            lines = [line for line in streamed.iter_lines() if line.startswith("data: ")]
            chunks = [json.loads(line.removeprefix("data: ")) for line in lines if line != "data: [DONE]"]
            done = lines[-1] == "data: [DONE]"
        usage = next((c["usage"] for c in chunks if c.get("usage")), None)
        calls["streamed"] = Call(
            rid, streamed.status_code, streamed.headers.get("x-request-id"), {"usage": usage, "done": done}
        )

        for case, model, prompt in [
            ("denied", "echo-chat", f"Why does this key not work? {SECRET}"),
            ("failed", "down-chat", "Hello?"),
            ("unknown_model", "no-such-model", "Hello?"),
        ]:
            rid = _rid(kind, case)
            try:
                client.chat.completions.create(
                    model=model, messages=[{"role": "user", "content": prompt}], extra_headers={"x-request-id": rid}
                )
            except openai.APIStatusError as exc:
                calls[case] = _refused(rid, exc)
            else:
                pytest.fail(f"the {case} call was answered 200")
    # A body the SDK would not send: `messages` is not a list.
    rid = _rid(kind, "malformed")
    response = httpx.post(
        f"{gateway.url}/v1/chat/completions",
        json={"model": "echo-chat", "messages": f"Reply to {EMAIL}"},
        headers={"authorization": f"Bearer {APP_KEY}", "x-request-id": rid, "user-agent": "OpenAI/Python raw"},
        timeout=30,
    )
    calls["malformed"] = Call(rid, response.status_code, response.headers.get("x-request-id"), response.json()["error"])
    for case, key in (("not_permitted", LIMITED_KEY), ("unauthenticated", "sk-not-a-key-of-this-gateway")):
        rid = _rid(kind, case)
        with openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=key, max_retries=0, timeout=30) as other:
            try:
                other.chat.completions.create(
                    model="echo-chat", messages=[{"role": "user", "content": "Hi"}], extra_headers={"x-request-id": rid}
                )
            except openai.APIStatusError as exc:
                calls[case] = _refused(rid, exc)
            else:
                pytest.fail(f"the {case} call was answered 200")
    return calls


def _start(key: str, stack: ExitStack, *, directory: Path, policy_dir: Path, echo: Running) -> tuple[Running, AuditDb]:
    db = stack.enter_context(audit_db(key, directory, f"e2e-{key}"))
    gateway = start_gateway(directory, _config(policy_dir, echo, db.section), name=f"audit-e2e-{key}")
    stack.callback(gateway.stop)
    return gateway, db


@pytest.fixture(scope="module")
def launched(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, policy_dir: Path, echo_upstream: Running
) -> Iterator[Callable[[str], tuple[Running, AuditDb]]]:
    """Both databases' gateways, started at once (only those the selected tests need)."""
    directory = tmp_path_factory.mktemp("audit-e2e")
    kinds = selected_params(request, "observed", "db_kind")

    def start(key: str, stack: ExitStack) -> tuple[Running, AuditDb]:
        return _start(key, stack, directory=directory, policy_dir=policy_dir, echo=echo_upstream)

    with launch_all(kinds, start) as get:
        yield get


@pytest.fixture(scope="module", params=KINDS)
def db_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _http_export(gateway: Running, fmt: str) -> str:
    response = httpx.get(
        f"{gateway.url}/audit/export",
        params={"format": fmt},
        headers={"authorization": f"Bearer {AUDITOR_KEY}"},
        timeout=30,
    )
    response.raise_for_status()
    return response.text


@pytest.fixture(scope="module")
def observed(db_kind: str, launched: Callable[[str], tuple[Running, AuditDb]]) -> Observed:
    gateway, db = launched(db_kind)
    calls = _traffic(db_kind, gateway)
    config = str(db.config_path)
    # `--config` after the subcommand as operators type it, and before it as the docs show.
    verify = gateway_cli("audit", "verify", "--config", config)
    jsonl = gateway_cli("audit", "export", "--config", config, "--format", "jsonl")
    as_csv = gateway_cli("audit", "--config", config, "export", "--format", "csv")
    for done in (jsonl, as_csv):
        assert done.code == 0, done.err
    return Observed(
        kind=db_kind,
        gateway=gateway,
        db=db,
        calls=calls,
        http_jsonl=_http_export(gateway, "jsonl"),
        http_csv=_http_export(gateway, "csv"),
        cli_jsonl=jsonl.out,
        cli_csv=as_csv.out,
        cli_verify=verify,
    )


def _types(events: list[dict[str, Any]]) -> list[str]:
    return [e["event_type"] for e in events]


def _assert_who_and_what(event: dict[str, Any], call: Call, *, model: str) -> None:
    """The fields every event of a call carries: identity, caller, request, decision context."""
    assert uuid.UUID(event["event_id"]).version == 7
    assert datetime.fromisoformat(event["occurred_at"]).tzinfo is not None
    assert event["request_id"] == call.request_id
    assert event["chain_id"]
    assert isinstance(event["seq"], int)
    assert event["tenant"] == "acme"
    assert event["key_id"] == APP_KEY_ID
    assert event["roles"] == ["app"]
    assert event["endpoint"] == "chat"
    assert event["requested_model"] == model
    assert event["model"] == model
    assert event["policy_version"].startswith("sha256:")
    assert event["client_addr"] == "127.0.0.1"
    assert event["user_agent"].startswith("OpenAI/Python")
    assert event["gateway_version"] == gateway.__version__
    assert len(event["hash"]) == 64


def test_the_gateway_answers_with_the_request_id_the_client_sent(observed: Observed) -> None:
    """Events are matched to calls by this id, so it must be the client's own."""
    assert {case: c.answered_request_id == c.request_id for case, c in observed.calls.items()} == dict.fromkeys(
        observed.calls, True
    )


def test_an_allowed_call_has_a_request_event_then_a_response_event_with_every_field(observed: Observed) -> None:
    call = observed.calls["allowed"]
    assert call.status == 200
    request, response = observed.events_of("allowed")
    assert _types([request, response]) == ["request", "response"]
    for event in (request, response):
        _assert_who_and_what(event, call, model="echo-chat")
        assert event["decision"] == "allow"
        assert event["stream"] is False
        assert event["pii_request"] == {"EMAIL_ADDRESS": 1}
        assert "EMAIL_ADDRESS" in event["pii_actions"]
        assert "pii.redacted" in event["reasons"]
    assert request["chain_id"] == response["chain_id"]
    assert request["seq"] < response["seq"]
    assert {"policy", "pii.scan"} <= set(request["latency_ms"])
    assert request["status_code"] is None
    assert request["content_hash"] is not None

    usage = call.body["usage"]
    assert response["backend"] == "echo"
    assert response["status_code"] == 200
    assert response["error_code"] is None
    assert (response["prompt_tokens"], response["completion_tokens"]) == (
        usage["prompt_tokens"],
        usage["completion_tokens"],
    )
    assert response["tokens_estimated"] is False
    latency = response["latency_ms"]
    assert {"policy", "pii.scan", "audit", "upstream", "total"} <= set(latency)
    assert all(ms >= 0 for ms in latency.values())
    assert latency["total"] >= latency["upstream"]


def test_the_stored_prompt_is_the_redacted_one_that_was_forwarded(observed: Observed) -> None:
    request = observed.events_of("allowed")[0]
    stored = request["content"]["request"]["messages"][0]["content"]
    assert EMAIL not in stored
    assert "<EMAIL_ADDRESS" in stored
    assert stored.startswith("Please send the summary to ")
    # The caller still got the real address back (the pseudonym is restored on the way out):
    # only the audit copy and the upstream saw the redacted text.
    assert EMAIL in observed.calls["allowed"].body["choices"][0]["message"]["content"]


def test_no_email_address_or_secret_appears_anywhere_in_the_log(observed: Observed) -> None:
    for export in (observed.http_jsonl, observed.cli_jsonl, observed.http_csv, observed.cli_csv):
        assert EMAIL not in export
        assert STREAM_EMAIL not in export
        assert SECRET not in export


def test_the_response_event_keeps_the_answer_redacted(observed: Observed) -> None:
    """The answer as the upstream wrote it (the echo upstream repeats the redacted prompt): the
    caller got the real address back, the log keeps the placeholder, for unary and streamed calls."""
    for case, email in (("allowed", EMAIL), ("streamed", STREAM_EMAIL)):
        response = observed.events_of(case)[1]
        stored = response["content"]["answer"]
        assert "<EMAIL_ADDRESS" in stored, case
        assert email not in stored, case
        assert response["content_hash"] is not None


def test_a_streamed_call_is_recorded_as_streamed_with_its_usage(observed: Observed) -> None:
    call = observed.calls["streamed"]
    assert call.status == 200
    assert call.body["done"] is True
    events = observed.events_of("streamed")
    assert _types(events) == ["request", "response"]
    request, response = events
    for event in events:
        _assert_who_and_what(event, call, model="echo-chat")
        assert event["stream"] is True
        assert event["decision"] == "allow"
        assert event["pii_request"] == {"EMAIL_ADDRESS": 1}
    assert STREAM_EMAIL not in request["content"]["request"]["messages"][0]["content"]
    assert response["status_code"] == 200
    assert response["backend"] == "echo"
    usage = call.body["usage"]
    assert (response["prompt_tokens"], response["completion_tokens"]) == (
        usage["prompt_tokens"],
        usage["completion_tokens"],
    )
    assert {"upstream", "total"} <= set(response["latency_ms"])


def test_a_call_denied_by_policy_has_one_denied_event_without_content(observed: Observed) -> None:
    call = observed.calls["denied"]
    assert call.status == 403
    assert call.body["code"] == "policy_denied"
    events = observed.events_of("denied")
    assert _types(events) == ["denied"]
    (denied,) = events
    _assert_who_and_what(denied, call, model="echo-chat")
    assert denied["decision"] == "deny"
    assert "policy.data.secret_detected" in denied["reasons"]
    assert denied["status_code"] == 403
    assert denied["error_code"] == "policy.denied"
    assert sum(denied["pii_request"].values()) >= 1
    assert denied["backend"] is None
    assert denied["content"] is None
    assert denied["content_hash"] is None


def test_a_call_whose_backend_is_down_has_a_request_event_and_an_error_event(observed: Observed) -> None:
    call = observed.calls["failed"]
    assert call.status in (502, 503, 504)
    events = observed.events_of("failed")
    assert _types(events) == ["request", "error"]
    request, error = events
    for event in events:
        _assert_who_and_what(event, call, model="down-chat")
        assert event["decision"] == "allow"
        assert event["pii_request"] == {}
    assert error["status_code"] == call.status
    assert error["error_code"].startswith("upstream.")
    assert error["content"] is None
    assert {"policy", "audit", "total"} <= set(error["latency_ms"])
    assert request["content"]["request"]["model"] == "down-chat"


def test_an_unknown_model_is_refused_before_the_pipeline_with_one_error_event(observed: Observed) -> None:
    """The model is resolved before the governance pipeline runs; the refusal is still recorded."""
    call = observed.calls["unknown_model"]
    assert call.status == 404
    assert call.body["code"] == "model_not_found"
    events = observed.events_of("unknown_model")
    assert _types(events) == ["error"]
    (error,) = events
    assert error["requested_model"] == "no-such-model"
    assert error["model"] is None
    assert error["reasons"] == ["model.unknown"]
    assert (error["status_code"], error["error_code"]) == (404, "model.not_found")
    assert (error["tenant"], error["key_id"], error["decision"]) == ("acme", APP_KEY_ID, None)
    assert error["content"] is None


def test_a_model_the_key_may_not_use_gets_the_same_404_and_an_event_that_says_why(observed: Observed) -> None:
    call = observed.calls["not_permitted"]
    assert (call.status, call.body["code"]) == (404, "model_not_found")
    (error,) = observed.events_of("not_permitted")
    assert (error["event_type"], error["key_id"], error["model"]) == ("error", "audit-e2e-limited", "echo-chat")
    assert error["reasons"] == ["model.not_permitted"]
    assert (error["status_code"], error["error_code"], error["decision"]) == (404, "model.not_found", None)


def test_a_call_without_a_valid_key_gets_401_and_is_logged_not_audited(observed: Observed) -> None:
    call = observed.calls["unauthenticated"]
    assert (call.status, call.body["code"]) == (401, "invalid_api_key")
    assert observed.events_of("unauthenticated") == []
    logged = [line for line in observed.gateway.log().splitlines() if call.request_id in line]
    assert any("request.unauthenticated" in line for line in logged)
    assert "sk-not-a-key" not in observed.gateway.log()


def test_a_malformed_body_gets_400_and_one_error_event_without_content(observed: Observed) -> None:
    call = observed.calls["malformed"]
    assert call.status == 400
    assert call.body["type"] == "invalid_request_error"
    events = observed.events_of("malformed")
    assert _types(events) == ["error"]
    (error,) = events
    assert (error["requested_model"], error["model"]) == ("echo-chat", None)
    assert (error["status_code"], error["error_code"]) == (400, "request.invalid")
    assert (error["tenant"], error["key_id"], error["endpoint"]) == ("acme", APP_KEY_ID, "chat")
    assert error["content"] is None
    assert EMAIL not in json.dumps(error)


def test_every_event_belongs_to_a_call_and_the_chain_links_them_in_order(observed: Observed) -> None:
    events = observed.events
    ours = {c.request_id for c in observed.calls.values()}
    assert {e["request_id"] for e in events} <= ours
    assert len(events) == 2 + 2 + 1 + 2 + 1 + 1 + 1
    assert len({e["chain_id"] for e in events}) == 1
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert all(later["prev_hash"] == earlier["hash"] for earlier, later in itertools.pairwise(events))


def test_the_api_key_itself_is_never_stored(observed: Observed) -> None:
    assert {e["key_id"] for e in observed.events} == {APP_KEY_ID, "audit-e2e-limited"}
    for export in (observed.http_jsonl, observed.cli_jsonl, observed.http_csv, observed.cli_csv):
        assert APP_KEY not in export
        assert LIMITED_KEY not in export
        assert AUDITOR_KEY not in export


def test_gateway_audit_verify_passes_on_the_log_the_gateway_wrote(observed: Observed) -> None:
    verified = observed.cli_verify
    assert verified.code == 0, verified.out + verified.err
    assert f"OK ({len(observed.events)} events verified)" in verified.out
    response = httpx.get(f"{observed.gateway.url}/audit/verify", headers={"authorization": f"Bearer {AUDITOR_KEY}"})
    assert response.status_code == 200
    assert response.json()["ok"] is True


def test_the_cli_jsonl_export_equals_the_http_export(observed: Observed) -> None:
    cli = [json.loads(line) for line in observed.cli_jsonl.splitlines()]
    assert cli == observed.events
    assert [e["event_id"] for e in cli] == [e["event_id"] for e in observed.db.events()]


def test_the_csv_exports_have_every_column_and_one_row_per_event(observed: Observed) -> None:
    http_rows = list(csv.DictReader(io.StringIO(observed.http_csv)))
    cli_rows = list(csv.DictReader(io.StringIO(observed.cli_csv)))
    assert observed.http_csv.splitlines()[0].split(",") == list(CSV_COLUMNS)
    assert cli_rows == http_rows
    assert [r["event_id"] for r in http_rows] == [e["event_id"] for e in observed.events]
    request = next(r for r in http_rows if r["request_id"] == observed.calls["allowed"].request_id)
    assert json.loads(request["pii_request"]) == {"EMAIL_ADDRESS": 1}
    assert EMAIL not in request["content"]
    assert "<EMAIL_ADDRESS" in json.loads(request["content"])["request"]["messages"][0]["content"]


def test_an_app_key_gets_403_from_the_audit_api_and_an_auditor_key_reads_it(observed: Observed) -> None:
    url = observed.gateway.url
    for path in ("/audit/events", "/audit/export", "/audit/verify"):
        refused = httpx.get(f"{url}{path}", headers={"authorization": f"Bearer {APP_KEY}"})
        assert refused.status_code == 403, path
    request_id = observed.calls["allowed"].request_id
    allowed = httpx.get(
        f"{url}/audit/events",
        params={"request_id": request_id},
        headers={"authorization": f"Bearer {AUDITOR_KEY}"},
    )
    assert allowed.status_code == 200
    assert sorted(e["event_type"] for e in allowed.json()["data"]) == ["request", "response"]

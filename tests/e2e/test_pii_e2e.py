# ruff: noqa: RUF001 - Chinese full-width punctuation is part of the test prompts
"""PII and secret redaction end to end: the official openai SDK, a running gateway, the echo upstream.

The demo upstream in echo mode answers with the last user message (and, when tools are offered,
with a tool call whose arguments carry that message), so what it received is what the model
would have seen, and its answer shows what the gateway gives back. `GET /_demo/requests` on the
upstream lists the bodies it received; each carries the gateway's `x-request-id`, which ties it
to one call.

Gateways started here (all with the shipped policies, the test models added to the catalog):

- `main`: `pii.default_actions` pseudonymize every entity type. Two backends on the same echo
  upstream: `onprem` (tag `location: on-prem`) and `external` (`location: external`). The shipped
  policy says nothing about PII for tenant `acme` (data class `internal`) on an on-prem backend,
  so the configuration defaults apply (pseudonymize); for an external backend it redacts every
  PII type with the class's `redact_action` (`mask`). Secrets are always denied by the policy.
- `closed` / `open`: `pii.timeout_s` far below what a 5,000-word prompt takes to analyse, with
  `failure: closed` and `failure: open`: a real analyzer timing out, no mocks.

Logging runs at `debug` so the no-leak check covers every line the processes write.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from gateway.pii.settings import DEFAULT_ENTITIES
from tests.processes import Running, free_port, start_gateway, start_upstream

pytestmark = pytest.mark.e2e

APP_KEY = "sk-pii-e2e-app"
ONPREM = "pii-echo"
EXTERNAL = "pii-echo-external"
EMBED = "pii-embed"

NAME = "John Smith"
EMAIL = "john.smith@example.com"
PHONE = "+1 415-555-0134"
CARD = "4111 1111 1111 1111"
CN_NAME = "张伟"
CN_ID = "11010519491231002X"
CN_MOBILE = "13812345678"
API_KEY = "sk-proj-TestOnlyNotARealKey0123456789abcd"

PROMPT = (
    f"Hi, my name is {NAME}. Email me at {EMAIL} or call {PHONE}. My card number is {CARD}. "
    f"我叫{CN_NAME}，身份证号码{CN_ID}，手机{CN_MOBILE}。"
)
# What must never reach the upstream or a log line: each value and its telling parts.
VALUES = (NAME, "Smith", EMAIL, "415-555-0134", CARD, CARD.replace(" ", ""), CN_NAME, CN_ID, CN_MOBILE, API_KEY)
MASKS = ("<PERSON>", "<EMAIL_ADDRESS>", "<PHONE_NUMBER>", "<CREDIT_CARD>", "<CN_RESIDENT_ID>")

PEOPLE = (
    ("Alice Johnson", "alice.johnson@example.org"),
    ("Bob Martinez", "bob.martinez@example.net"),
    ("Carol Nguyen", "carol.nguyen@example.com"),
    ("David Okafor", "d.okafor@example.org"),
    ("Emma Schmidt", "emma.schmidt@example.net"),
    ("Farah Khan", "farah.khan@example.com"),
)

CUSTOMER_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "send_email",
        "description": "Send an email.",
        "parameters": {
            "type": "object",
            "properties": {"to": {"type": "string"}, "body": {"type": "string"}},
            "required": ["to", "body"],
        },
    },
}

# About 5,000 words: the analyzer needs well over a second for them, the failure gateways allow 0.25 s.
HUGE_PROMPT = f"Dear {NAME}, your account {EMAIL} is ready. " + " ".join(
    f"Step {i}: the deployment pipeline builds the service, runs the checks and pushes the image." for i in range(350)
)
FAILING_TIMEOUT_S = 0.25


@dataclass(frozen=True)
class Gateways:
    upstream: Running
    main: Running
    closed: Running
    open: Running

    @property
    def all(self) -> tuple[Running, ...]:
        return (self.main, self.closed, self.open)


def _policy_copy(tmp: Path) -> Path:
    """The shipped policies with the test models in the license catalog, as a policy author adds them."""
    target = tmp / "policies"
    shutil.copytree(Path(__file__).parents[2] / "policies", target)
    catalog_path = target / "data" / "models.json"
    catalog = json.loads(catalog_path.read_text())
    for model, kind in ((ONPREM, "chat"), (EXTERNAL, "chat"), (EMBED, "embedding")):
        catalog["models"][model] = {"license": "demo", "modalities": ["text"], "kind": kind}
    catalog_path.write_text(json.dumps(catalog, indent=2))
    return target


def _config(
    tmp: Path, name: str, upstream: Running, policy_dir: Path, pii: dict[str, Any], *, log_level: str = "debug"
) -> dict[str, Any]:
    backend = {"base_url": f"{upstream.url}/v1", "timeout_s": 10, "connect_timeout_s": 2}
    return {
        "server": {"host": "127.0.0.1", "port": free_port()},
        "backends": [
            {**backend, "name": "onprem", "models": [ONPREM, EMBED], "tags": {"location": "on-prem"}},
            {**backend, "name": "external", "models": [EXTERNAL], "tags": {"location": "external"}},
        ],
        "keys": [{"key": APP_KEY, "id": "pii-e2e-app", "tenant": "acme", "roles": ["app"]}],
        "audit": {"database_url": f"sqlite+aiosqlite:///{tmp}/{name}-audit.db"},
        "policy": {"dir": str(policy_dir)},
        "pii": pii,
        "logging": {"level": log_level, "format": "json"},
    }


@pytest.fixture(scope="module")
def gateways(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateways]:
    tmp = tmp_path_factory.mktemp("pii-e2e")
    policy_dir = _policy_copy(tmp)
    upstream = start_upstream(tmp, "--mode", "echo", "--chunk-delay-ms", "2", name="pii-echo-upstream")
    pseudonymize_all = {
        "default_actions": dict.fromkeys(DEFAULT_ENTITIES, "pseudonymize"),
        "default_action": "pseudonymize",
    }
    failing = {"timeout_s": FAILING_TIMEOUT_S}
    configs = {
        "main": _config(tmp, "main", upstream, policy_dir, pseudonymize_all),
        "closed": _config(tmp, "closed", upstream, policy_dir, {**failing, "failure": "closed"}),
        # At debug, aiosqlite logs the audit INSERT parameters, and fail-open stores the prompt
        # unscanned; the operator's level (info) is what this deployment is checked at.
        "open": _config(tmp, "open", upstream, policy_dir, {**failing, "failure": "open"}, log_level="info"),
    }
    started: dict[str, Running] = {}
    try:
        # Each gateway loads the spaCy model at start-up; start them side by side.
        with ThreadPoolExecutor(len(configs)) as pool:
            futures = {name: pool.submit(_start_gateway, tmp, name, config) for name, config in configs.items()}
            errors = []
            for name, future in futures.items():
                try:
                    started[name] = future.result()
                except Exception as exc:
                    errors.append(exc)
            if errors:
                raise errors[0]
        yield Gateways(upstream, started["main"], started["closed"], started["open"])
    finally:
        for proc in started.values():
            proc.stop()
        upstream.stop()


def _start_gateway(tmp: Path, name: str, config: dict[str, Any]) -> Running:
    return start_gateway(tmp, config, name=name)


def _client(gateway: Running) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=APP_KEY, max_retries=0, timeout=30)


@pytest.fixture
def client(gateways: Gateways) -> Iterator[openai.OpenAI]:
    with _client(gateways.main) as sdk:
        yield sdk


def _received(upstream: Running, request_id: str) -> list[dict[str, Any]]:
    """The bodies the upstream received for one gateway call."""
    received = httpx.get(f"{upstream.url}/_demo/requests").json()["requests"]
    return [r["body"] for r in received if r["headers"].get("x-request-id") == request_id]


def _sent_text(upstream: Running, request_id: str) -> str:
    bodies = _received(upstream, request_id)
    assert len(bodies) == 1, f"the upstream received {len(bodies)} bodies for {request_id}"
    return json.dumps(bodies[0], ensure_ascii=False)


def _leaked(text: str, values: tuple[str, ...] = VALUES) -> list[str]:
    """The values found in `text`, as written or JSON-escaped (`\\u5f20\\u4f1f` for 张伟)."""
    return [value for value in values if value in text or json.dumps(value)[1:-1] in text]


def _chat(client: openai.OpenAI, model: str, messages: list[dict[str, Any]], **extra: Any) -> tuple[str, Any]:
    """A non-streamed chat call: its request id and the parsed completion."""
    raw = client.chat.completions.with_raw_response.create(model=model, messages=messages, **extra)
    return raw.headers["x-request-id"], raw.parse()


def _stream(client: openai.OpenAI, model: str, messages: list[dict[str, Any]], **extra: Any) -> tuple[str, list[Any]]:
    """A streamed chat call: its request id and every chunk."""
    raw = client.chat.completions.with_raw_response.create(model=model, messages=messages, stream=True, **extra)
    return raw.headers["x-request-id"], list(raw.parse())


def _content(chunks: list[Any]) -> str:
    return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


def _tool_arguments(chunks: list[Any]) -> str:
    return "".join(
        call.function.arguments or ""
        for c in chunks
        if c.choices
        for call in c.choices[0].delta.tool_calls or []
        if call.function is not None
    )


def _user(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


def test_upstream_sees_placeholders_and_the_client_gets_the_original_values_back(client: openai.OpenAI, gateways):
    request_id, answer = _chat(client, ONPREM, _user(PROMPT))

    sent = _sent_text(gateways.upstream, request_id)
    assert _leaked(sent) == []
    for placeholder in ("<PERSON_1>", "<EMAIL_ADDRESS_1>", "<PHONE_NUMBER_1>", "<CREDIT_CARD_1>", "<CN_RESIDENT_ID_1>"):
        assert placeholder in sent
    assert answer.choices[0].message.content == PROMPT


def test_streamed_answer_has_its_placeholders_restored(client: openai.OpenAI, gateways):
    request_id, chunks = _stream(client, ONPREM, _user(PROMPT), stream_options={"include_usage": True})

    assert _leaked(_sent_text(gateways.upstream, request_id)) == []
    pieces = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    assert len(pieces) > 1, "the answer came in one piece"
    assert _content(chunks) == PROMPT
    assert chunks[-1].usage is not None


def test_external_backend_gets_masks_from_the_policy_and_so_does_the_client(client: openai.OpenAI, gateways):
    request_id, answer = _chat(client, EXTERNAL, _user(PROMPT))

    sent = json.loads(_sent_text(gateways.upstream, request_id))["messages"][0]["content"]
    assert _leaked(sent) == []
    assert all(mask in sent for mask in MASKS)
    assert "_1>" not in sent, "the policy's mask must win over the configured pseudonymize"
    assert answer.choices[0].message.content == sent


def test_streamed_answer_keeps_the_masks(client: openai.OpenAI, gateways):
    request_id, chunks = _stream(client, EXTERNAL, _user(PROMPT))

    sent = json.loads(_sent_text(gateways.upstream, request_id))["messages"][0]["content"]
    assert _leaked(sent) == []
    text = _content(chunks)
    assert text == sent
    assert all(mask in text for mask in MASKS)


def test_api_key_in_the_prompt_is_denied_by_policy_and_never_forwarded(client: openai.OpenAI, gateways):
    prompt = f"Why does this fail? client = OpenAI(api_key='{API_KEY}')"
    for stream in (False, True):
        with pytest.raises(openai.PermissionDeniedError) as info:
            client.chat.completions.create(model=ONPREM, messages=_user(prompt), stream=stream)
        assert info.value.code == "policy_denied"
        assert "policy.data.secret_detected" in info.value.message
        assert API_KEY not in info.value.message
        assert _received(gateways.upstream, info.value.response.headers["x-request-id"]) == []


def test_secret_in_a_tool_result_is_denied_too(client: openai.OpenAI, gateways):
    messages = [
        {"role": "user", "content": "Read the deployment config."},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "read_file", "arguments": '{"path": ".env"}'}}
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": f"OPENAI_API_KEY={API_KEY}\nDEBUG=false"},
        {"role": "user", "content": "What does the config set?"},
    ]
    with pytest.raises(openai.PermissionDeniedError) as info:
        client.chat.completions.create(model=ONPREM, messages=messages)
    assert "policy.data.secret_detected" in info.value.message
    assert _received(gateways.upstream, info.value.response.headers["x-request-id"]) == []


def test_tool_call_arguments_and_tool_results_are_redacted_before_the_upstream(client: openai.OpenAI, gateways):
    messages = [
        {"role": "user", "content": "Find the customer who wrote about the refund."},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "find_customer", "arguments": json.dumps({"email": EMAIL})},
                }
            ],
        },
        {
            "role": "tool",
            "tool_call_id": "call_1",
            "content": json.dumps({"name": NAME, "email": EMAIL, "phone": PHONE, "card": CARD}),
        },
        {"role": "user", "content": "Summarise the customer record."},
    ]
    request_id, answer = _chat(client, ONPREM, messages)

    body = _received(gateways.upstream, request_id)[0]
    assert _leaked(json.dumps(body, ensure_ascii=False)) == []
    arguments = json.loads(body["messages"][1]["tool_calls"][0]["function"]["arguments"])
    tool_result = json.loads(body["messages"][2]["content"])
    # One value, one placeholder, across tool-call arguments and tool results of the request.
    assert arguments == {"email": "<EMAIL_ADDRESS_1>"}
    assert tool_result["email"] == "<EMAIL_ADDRESS_1>"
    assert tool_result["name"] == "<PERSON_1>"
    assert answer.choices[0].message.content == "Summarise the customer record."


def test_tool_call_arguments_in_the_answer_get_the_callers_values_back(client: openai.OpenAI, gateways):
    prompt = f"Send {NAME} at {EMAIL} a note that the card {CARD} was blocked."
    request_id, answer = _chat(client, ONPREM, _user(prompt), tools=[CUSTOMER_TOOL])

    assert _leaked(_sent_text(gateways.upstream, request_id)) == []
    call = answer.choices[0].message.tool_calls[0]
    assert json.loads(call.function.arguments) == {"to": prompt, "body": prompt}

    request_id, chunks = _stream(client, ONPREM, _user(prompt), tools=[CUSTOMER_TOOL])
    assert _leaked(_sent_text(gateways.upstream, request_id)) == []
    assert json.loads(_tool_arguments(chunks)) == {"to": prompt, "body": prompt}


def test_legacy_completion_prompt_is_pseudonymized_and_restored(client: openai.OpenAI, gateways):
    raw = client.completions.with_raw_response.create(model=ONPREM, prompt=PROMPT)

    assert _leaked(_sent_text(gateways.upstream, raw.headers["x-request-id"])) == []
    assert raw.parse().choices[0].text == PROMPT


def test_embeddings_input_is_redacted_before_the_upstream(client: openai.OpenAI, gateways):
    raw = client.embeddings.with_raw_response.create(model=EMBED, input=[PROMPT, f"Contact: {EMAIL}"])

    sent = _received(gateways.upstream, raw.headers["x-request-id"])[0]["input"]
    assert _leaked(json.dumps(sent, ensure_ascii=False)) == []
    assert sent[1] == "Contact: <EMAIL_ADDRESS_1>"
    assert len(raw.parse().data) == 2


@pytest.mark.anyio
@pytest.mark.parametrize("stream", [False, True], ids=["unary", "stream"])
async def test_concurrent_requests_never_see_each_others_values(gateways: Gateways, stream: bool):
    async def ask(sdk: openai.AsyncOpenAI, name: str, email: str) -> str:
        prompt = f"My name is {name} and my email is {email}. Please confirm both."
        if not stream:
            answer = await sdk.chat.completions.create(model=ONPREM, messages=_user(prompt))
            return answer.choices[0].message.content or ""
        chunks = await sdk.chat.completions.create(model=ONPREM, messages=_user(prompt), stream=True)
        return "".join([c.choices[0].delta.content or "" async for c in chunks if c.choices])

    async with openai.AsyncOpenAI(
        base_url=f"{gateways.main.url}/v1", api_key=APP_KEY, max_retries=0, timeout=30
    ) as sdk:
        answers = await asyncio.gather(*(ask(sdk, name, email) for name, email in PEOPLE))

    for (name, email), answer in zip(PEOPLE, answers, strict=True):
        assert answer == f"My name is {name} and my email is {email}. Please confirm both."
        others = tuple(value for other in PEOPLE if other != (name, email) for value in other)
        assert _leaked(answer, others) == []


def test_analyzer_timeout_refuses_the_call_when_failing_closed(gateways: Gateways):
    with _client(gateways.closed) as sdk:
        for stream in (False, True):
            with pytest.raises(openai.InternalServerError) as info:
                sdk.chat.completions.create(model=ONPREM, messages=_user(HUGE_PROMPT), stream=stream)
            assert info.value.status_code == 503
            assert info.value.code == "pii_unavailable"
            assert _received(gateways.upstream, info.value.response.headers["x-request-id"]) == []
    assert '"event": "pii.timeout"' in gateways.closed.log()


def test_analyzer_timeout_forwards_unscanned_when_failing_open(gateways: Gateways):
    messages = [{"role": "system", "content": HUGE_PROMPT}, *_user("Reply with OK.")]
    with _client(gateways.open) as sdk:
        raw = sdk.chat.completions.with_raw_response.create(model=ONPREM, messages=messages)
    request_id = raw.headers["x-request-id"]

    assert raw.parse().choices[0].message.content == "Reply with OK."
    # Fail-open means exactly this: the prompt went out as the caller wrote it.
    assert EMAIL in _sent_text(gateways.upstream, request_id)
    completed = [
        json.loads(line)
        for line in gateways.open.log().splitlines()
        if request_id in line and '"request.completed"' in line
    ]
    assert completed
    assert "pii.unscanned" in completed[0]["reasons"]


def test_audit_log_keeps_only_redacted_content(client: openai.OpenAI, gateways: Gateways):
    client.chat.completions.create(model=ONPREM, messages=_user(PROMPT))
    list(client.chat.completions.create(model=EXTERNAL, messages=_user(PROMPT), stream=True))
    # A call refused because the prompt could not be scanned: its record holds no prompt either.
    with _client(gateways.closed) as sdk, pytest.raises(openai.InternalServerError):
        sdk.chat.completions.create(model=ONPREM, messages=_user(HUGE_PROMPT))

    main_rows, closed_rows = _audit_rows(gateways.main), _audit_rows(gateways.closed)

    assert any("<EMAIL_ADDRESS_1>" in row for row in main_rows), "the pseudonymized prompt is kept"
    assert any("<EMAIL_ADDRESS>" in row for row in main_rows), "the masked prompt is kept"
    assert closed_rows
    assert [row for row in main_rows + closed_rows if _leaked(row)] == []


def _audit_rows(gateway: Running) -> list[str]:
    """Every column of every audit event the gateway wrote, as text."""
    database = gateway.log_path.with_name(f"{gateway.log_path.stem}-audit.db")
    with contextlib.closing(sqlite3.connect(database)) as db:
        return [" | ".join(map(str, row)) for row in db.execute("SELECT * FROM audit_events")]


def test_no_pii_value_appears_in_any_gateway_log_line(client: openai.OpenAI, gateways: Gateways):
    # Calls of every kind first, so the check holds even when this test runs alone.
    client.chat.completions.create(model=ONPREM, messages=_user(PROMPT))
    list(client.chat.completions.create(model=EXTERNAL, messages=_user(PROMPT), stream=True))
    with pytest.raises(openai.PermissionDeniedError):
        client.chat.completions.create(model=ONPREM, messages=_user(f"my key is {API_KEY}"))
    with _client(gateways.closed) as sdk, pytest.raises(openai.InternalServerError):
        sdk.chat.completions.create(model=ONPREM, messages=_user(HUGE_PROMPT))

    for gateway in gateways.all:
        log = gateway.log()
        assert '"event": "pii.detected"' in log or '"event": "pii.timeout"' in log
        leaking = [line for line in log.splitlines() if _leaked(line, VALUES)]
        assert leaking == [], f"{len(leaking)} log lines of {gateway.log_path.name} carry a PII value"


def test_pii_eval_command_prints_the_table_and_fails_its_gate_on_false_positives(tmp_path: Path):
    text = f"Write to {EMAIL} or to the team at support@example.org."
    start = text.index(EMAIL)
    # Only the first address is labelled: the second is a false positive by this corpus's labels.
    spans = [{"start": start, "end": start + len(EMAIL), "entity_type": "EMAIL_ADDRESS"}]
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text(json.dumps({"id": "one", "text": text, "spans": spans}) + "\n")

    result = subprocess.run(
        [sys.executable, "-m", "gateway.pii.evaluation", str(corpus), "--check"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 1, result.stdout + result.stderr
    assert "EMAIL_ADDRESS" in result.stdout
    assert "FAILED precision 0.500 < 0.900" in result.stdout
    assert EMAIL not in result.stdout, "without --show-errors no corpus text is printed"

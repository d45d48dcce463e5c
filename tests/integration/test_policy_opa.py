"""`OpaPolicyEngine` against a loopback server that speaks OPA's REST data API.

There is no OPA binary on this machine, so the server below mimics `POST /v1/data/<path>` and
evaluates with regorus (the differential test ties regorus to real OPA). It also answers 500 the
way OPA does on an evaluation error, and can stall, to check that the adapter neither retries
nor waits past its timeout.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import anyio
import pytest
from aiohttp import web

from gateway.errors import PolicyDenied, PolicyEngineUnavailable
from gateway.policy.decision import UNDEFINED, Undefined
from gateway.policy.embedded import EmbeddedPolicyEngine, EvaluationError, compile_policy, evaluate_json, thread_engine
from gateway.policy.opa import OpaPolicyEngine
from gateway.policy.runtime import build_policy_runtime
from gateway.policy.samples import random_inputs
from gateway.policy.settings import PolicySettings
from gateway.policy.sources import read_policy_sources
from gateway.policy.step import build_policy_input
from tests.unit.policy.contexts import BACKEND_TAGS, make_context

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

POLICIES = Path(__file__).resolve().parents[2] / "policies"


@dataclass
class FakeOpa:
    """Mode switches and a request log for the fake server."""

    mode: str = "normal"
    hits: list[str] = field(default_factory=list)
    url: str = ""


@pytest.fixture
async def opa() -> AsyncIterator[FakeOpa]:
    policy = compile_policy(read_policy_sources(POLICIES))
    state = FakeOpa()

    async def data(request: web.Request) -> web.Response:
        state.hits.append(request.match_info["path"])
        if state.mode == "error":
            body = {
                "code": "internal_error",
                "message": "eval_conflict_error: complete rules must not produce multiple outputs",
            }
            return web.json_response(body, status=500)
        if state.mode == "stall":
            await anyio.sleep(2)
        payload = await request.json()
        rule = "data." + request.match_info["path"].replace("/", ".")
        try:
            value = evaluate_json(thread_engine(policy), json.dumps(payload["input"]), rule)
        except EvaluationError as exc:
            if "not a valid rule path" not in str(exc):
                raise
            value = UNDEFINED
        if isinstance(value, Undefined):
            return web.json_response({})  # OPA answers 200 without "result" for an undefined document
        return web.json_response({"result": value})

    app = web.Application()
    app.router.add_post("/v1/data/{path:.*}", data)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    state.url = f"http://127.0.0.1:{port}"
    try:
        yield state
    finally:
        await runner.cleanup()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


async def test_opa_engine_decides_like_the_embedded_engine(opa, session):
    sources = read_policy_sources(POLICIES)
    embedded = EmbeddedPolicyEngine(compile_policy(sources))
    remote = OpaPolicyEngine(session, base_url=opa.url, timeout_s=2, version=lambda: sources.version)
    for policy_input in random_inputs(sources.data, seed=99, count=150):
        document = policy_input.to_json()
        assert (await remote.decide(document)).decision == (await embedded.decide(document)).decision
    assert set(opa.hits) == {"gateway/decision"}


async def test_evaluation_error_is_unavailable_at_once_without_retry(opa, session):
    opa.mode = "error"
    remote = OpaPolicyEngine(session, base_url=opa.url, timeout_s=2)
    started = time.perf_counter()
    with pytest.raises(PolicyEngineUnavailable):
        await remote.decide(build_policy_input(make_context(), BACKEND_TAGS).to_json())
    assert len(opa.hits) == 1
    assert time.perf_counter() - started < 0.5


async def test_stalled_server_times_out_as_unavailable(opa, session):
    opa.mode = "stall"
    remote = OpaPolicyEngine(session, base_url=opa.url, timeout_s=0.2)
    started = time.perf_counter()
    with pytest.raises(PolicyEngineUnavailable, match="did not answer in time"):
        await remote.decide(build_policy_input(make_context(), BACKEND_TAGS).to_json())
    assert time.perf_counter() - started < 1.5


async def test_undefined_decision_document_is_a_denial(opa, session):
    remote = OpaPolicyEngine(session, base_url=opa.url, decision_path="gateway/nothing_here", timeout_s=2)
    result = await remote.decide(build_policy_input(make_context(), BACKEND_TAGS).to_json())
    assert result.decision.reason_codes == ("policy.decision_undefined",)


async def test_unreachable_server_is_unavailable(session):
    with anyio.fail_after(5):
        remote = OpaPolicyEngine(session, base_url="http://127.0.0.1:9", timeout_s=1)
        with pytest.raises(PolicyEngineUnavailable, match="unreachable"):
            await remote.decide(build_policy_input(make_context(), BACKEND_TAGS).to_json())


async def test_runtime_with_opa_engine_denies_through_the_step_and_fails_closed(opa, session):
    runtime = build_policy_runtime(
        PolicySettings(dir=POLICIES, engine="opa", opa_url=opa.url, run_tests_on_reload=False), session=session
    )
    step = runtime.step(BACKEND_TAGS)
    ctx = await step(
        make_context(model="llama-3.1-8b", attributes={"commercial": True, "monthly_active_users": 800_000_000})
    )
    assert isinstance(ctx.denial, PolicyDenied)
    assert ctx.denial.reasons == ("policy.license.mau_exceeded",)
    assert ctx.policy_version == runtime.version
    opa.mode = "error"
    with pytest.raises(PolicyEngineUnavailable):
        await step(make_context())

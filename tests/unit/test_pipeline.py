from __future__ import annotations

from dataclasses import dataclass, replace

import pytest

from gateway.auth import Principal
from gateway.errors import PolicyDenied
from gateway.pipeline import CallRequest, Context, run
from gateway.tokens import estimate_prompt_tokens


def _ctx() -> Context:
    request = CallRequest(request_id="r", endpoint="chat", requested_model="m", model="m", body={"messages": []})
    principal = Principal(key_id="k", tenant="t", roles=frozenset({"app"}))
    return Context(request=request, principal=principal, body=request.body, backends=("b",))


@dataclass(frozen=True)
class _Tag:
    name: str

    async def __call__(self, ctx: Context, /) -> Context:
        return replace(ctx, reasons=(*ctx.reasons, self.name))


@dataclass(frozen=True)
class _Deny:
    name: str = "deny"

    async def __call__(self, ctx: Context, /) -> Context:
        return ctx.deny(PolicyDenied(("no",)), "policy.test")


@pytest.mark.anyio
async def test_steps_run_in_order_and_record_timings() -> None:
    ctx = await run([_Tag("one"), _Tag("two")], _ctx())
    assert ctx.reasons == ("one", "two")
    assert set(ctx.timings_ms) == {"one", "two"}


@pytest.mark.anyio
async def test_a_denial_stops_later_steps() -> None:
    ctx = await run([_Tag("one"), _Deny(), _Tag("never")], _ctx())
    assert ctx.is_final
    assert "never" not in ctx.reasons
    assert ctx.reasons[-2:] == ("policy.test", "policy.denied")


def test_max_tokens_prefers_max_completion_tokens() -> None:
    request = CallRequest(
        request_id="r",
        endpoint="chat",
        requested_model="m",
        model="m",
        body={"max_completion_tokens": 9, "max_tokens": 3},
    )
    assert request.max_tokens == 9


def test_token_estimate_counts_cjk_characters_as_tokens() -> None:
    latin = estimate_prompt_tokens({"messages": [{"role": "user", "content": "a" * 400}]})
    cjk = estimate_prompt_tokens({"messages": [{"role": "user", "content": "中" * 100}]})
    assert latin == 100 + 4
    assert cjk == 100 + 4
    assert estimate_prompt_tokens({"prompt": ["abcd", "efgh"]}) == 2

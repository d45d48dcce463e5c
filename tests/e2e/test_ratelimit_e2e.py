"""Rate limits and token quotas through running gateways, driven by the official openai SDK (issue 6).

One gateway with in-process counters (`memory://`), and two gateway processes sharing a real
Redis under a key prefix of their own. Per-minute windows are fixed and start at a per-scope
offset, so each test that needs a window in a known state takes a key from a pool whose
offsets are five seconds apart: the key whose window has most time left (to fill it), or the
one whose window ends in a few seconds (to watch the SDK wait for the reset). No test waits
more than about nine seconds for a window.

Redis comes from GATEWAY_TEST_REDIS_URL (default redis://127.0.0.1:6379/0); under CI=true a
missing Redis fails the Redis tests instead of skipping them.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
import uuid
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
import redis
from openai.types.chat import ChatCompletionMessageParam
from redis.exceptions import RedisError

from gateway.ratelimit.estimate import estimate_call_tokens
from gateway.ratelimit.rules import Limit, LimitKind, Scope, Window, window_of
from tests.e2e.gateways import (
    audit_events,
    backend,
    bodies_mentioning,
    copy_policies,
    processes_running,
    wait_for,
)
from tests.processes import Running

pytestmark = pytest.mark.e2e

REDIS_URL = os.environ.get("GATEWAY_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
IN_CI = os.environ.get("CI", "").lower() == "true"

MODEL = "demo-chat"
TENANT = "rl-co"
AUDITOR = "sk-rl-auditor"
BUDGET_KEY = "sk-rl-budget"
BUDGET_TOKENS_PER_DAY = 60
STREAM_KEY = "sk-rl-stream"
STREAM_TOKENS_PER_DAY = 100_000
SHARED_LIMIT = 5
RATELIMIT_HEADERS = tuple(
    f"x-ratelimit-{what}-{kind}" for what in ("limit", "remaining", "reset") for kind in ("requests", "tokens")
)


def _key_ids_by_phase(prefix: str) -> list[str]:
    """Key ids whose minute windows start 0, 5, ..., 55 s into the minute (found by trying names)."""
    wanted = dict.fromkeys(range(0, 60, 5), "")
    number = 0
    while not all(wanted.values()):
        key_id = f"{prefix}-{number}"
        offset = int(_window(key_id, 0.0).start) % 60
        if offset in wanted and not wanted[offset]:
            wanted[offset] = key_id
        number += 1
    return list(wanted.values())


def _window(key_id: str, now: float) -> Window:
    return window_of(Limit(Scope("key", key_id), LimitKind.REQUESTS_PER_MINUTE, 1), now)


def seconds_left(key_id: str) -> float:
    now = time.time()
    return _window(key_id, now).end - now


POOLS = {
    "filled": (_key_ids_by_phase("rl-filled"), 2),  # requests per minute of each key
    "retried": (_key_ids_by_phase("rl-retried"), 1),
    "shared": (_key_ids_by_phase("rl-shared"), SHARED_LIMIT),
}


class KeyPicker:
    """Hands out pool keys by how much of their current window is left, each key once."""

    def __init__(self) -> None:
        self._taken: set[str] = set()

    def _take(self, key_id: str) -> str:
        self._taken.add(key_id)
        return key_id

    def most_time_left(self, pool: str) -> str:
        return self._take(max(self._free(pool), key=seconds_left))

    def ending_soon(self, pool: str, *, at_least_s: float) -> str:
        return self._take(min((k for k in self._free(pool) if seconds_left(k) >= at_least_s), key=seconds_left))

    def _free(self, pool: str) -> list[str]:
        return [k for k in POOLS[pool][0] if k not in self._taken]


@pytest.fixture(scope="module")
def keys() -> KeyPicker:
    return KeyPicker()


def secret(key_id: str) -> str:
    return f"sk-{key_id}"


def _config(tmp: Path, name: str, upstream: Running, policies: Path, **ratelimits: Any) -> dict[str, Any]:
    pooled = [(key_id, rpm) for ids, rpm in POOLS.values() for key_id in ids]
    keys: list[dict[str, Any]] = [{"key": secret(key_id), "id": key_id, "tenant": TENANT} for key_id, _ in pooled]
    keys += [
        {"key": BUDGET_KEY, "id": "rl-budget", "tenant": TENANT},
        {"key": STREAM_KEY, "id": "rl-stream", "tenant": TENANT},
        {"key": AUDITOR, "id": "rl-auditor", "tenant": TENANT, "roles": ["auditor"]},
    ]
    return {
        "backends": [backend("demo", upstream, [MODEL], tags={"location": "on-prem"})],
        "keys": keys,
        "pii": {"enabled": False},
        "policy": {"dir": str(policies), "reload": False, "run_tests_on_reload": False},
        "audit": {"database_url": f"sqlite+aiosqlite:///{tmp}/{name}-audit.db"},
        "ratelimits": {
            # The tenant's own limits stay far away, so the key limits below are what each test meets.
            "default": {"requests_per_minute": 10_000, "tokens_per_minute": 10_000_000},
            "keys": {
                **{key_id: {"requests_per_minute": rpm} for key_id, rpm in pooled},
                "rl-budget": {"tokens_per_day": BUDGET_TOKENS_PER_DAY},
                "rl-stream": {"tokens_per_day": STREAM_TOKENS_PER_DAY},
            },
            **ratelimits,
        },
    }


@pytest.fixture(scope="module")
def tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("ratelimit-e2e")


@pytest.fixture(scope="module")
def policies(tmp: Path) -> Path:
    return copy_policies(tmp / "policies")


@pytest.fixture(scope="module")
def gateway(tmp: Path, policies: Path, upstream: Running) -> Iterator[Running]:
    """A gateway counting in its own memory, on the e2e session's demo upstream."""
    with processes_running(tmp, gateways={"memory": lambda _: _config(tmp, "memory", upstream, policies)}) as running:
        yield running["memory"]


@pytest.fixture(scope="module")
def redis_url() -> str:
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        client.ping()
    except (RedisError, OSError) as exc:
        if IN_CI:
            pytest.fail(f"Redis at {REDIS_URL} is required under CI=true: {exc!r}")
        pytest.skip(f"no Redis at {REDIS_URL}: {exc!r}")
    finally:
        client.close()
    return REDIS_URL


@pytest.fixture(scope="module")
def key_prefix(redis_url: str) -> Iterator[str]:
    prefix = f"gateway-e2e-{uuid.uuid4().hex[:12]}"
    yield prefix
    client = redis.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(match=f"{prefix}:*"))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


@pytest.fixture(scope="module")
def shared(
    tmp: Path, policies: Path, upstream: Running, redis_url: str, key_prefix: str
) -> Iterator[tuple[Running, Running]]:
    """Two gateway processes whose limits live in the same Redis under the same prefix."""

    def shared_config(name: str) -> Any:
        return lambda _: _config(tmp, name, upstream, policies, storage=redis_url, key_prefix=key_prefix)

    with processes_running(
        tmp, gateways={"redis-a": shared_config("redis-a"), "redis-b": shared_config("redis-b")}
    ) as running:
        yield running["redis-a"], running["redis-b"]


def sdk(gateway: Running, key: str, **options: Any) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=key, **{"max_retries": 0, "timeout": 20, **options})


def create(client: openai.OpenAI, text: str = "hello", **extra: Any) -> Any:
    """A chat call returning the raw response, so its headers can be read."""
    return client.chat.completions.with_raw_response.create(
        model=MODEL, messages=[{"role": "user", "content": text}], max_tokens=8, **extra
    )


def assert_ratelimit_headers(headers: Mapping[str, str]) -> None:
    missing = [name for name in RATELIMIT_HEADERS if name not in headers]
    assert missing == [], f"missing {missing} in {dict(headers)}"


def error_of(exc: openai.APIStatusError) -> dict[str, Any]:
    body = exc.body
    assert isinstance(body, dict)
    return body


# --- one process, memory storage ---------------------------------------------------------------


def test_the_request_after_the_limit_raises_rate_limit_error_with_retry_after(
    gateway: Running, keys: KeyPicker
) -> None:
    key_id = keys.most_time_left("filled")
    with sdk(gateway, secret(key_id)) as client:
        first = create(client)
        with client.chat.completions.with_streaming_response.create(
            model=MODEL, messages=[{"role": "user", "content": "hello"}], stream=True
        ) as streamed:
            second_headers, second_status = streamed.headers, streamed.status_code
            assert list(streamed.parse())  # read to the end
        with pytest.raises(openai.RateLimitError) as caught:
            create(client)
    assert first.http_response.status_code == second_status == 200
    for headers, remaining in ((first.headers, "1"), (second_headers, "0")):
        assert_ratelimit_headers(headers)
        assert headers["x-ratelimit-limit-requests"] == "2"
        assert headers["x-ratelimit-remaining-requests"] == remaining
    denied = caught.value
    assert denied.status_code == 429
    assert_ratelimit_headers(denied.response.headers)
    assert denied.response.headers["x-ratelimit-remaining-requests"] == "0"
    error = error_of(denied)
    assert error["code"] == "rate_limit_exceeded"
    assert error["type"] == "requests"
    retry_after = int(denied.response.headers["retry-after"])
    assert 1 <= retry_after <= 60
    assert math.ceil(int(denied.response.headers["retry-after-ms"]) / 1000) == retry_after
    assert retry_after >= seconds_left(key_id) - 1  # the window's real end, not a guess
    assert denied.response.headers["x-should-retry"] == "true"


def test_the_sdk_retrying_by_default_succeeds_after_the_wait(
    gateway: Running, upstream: Running, keys: KeyPicker
) -> None:
    key_id = keys.ending_soon("retried", at_least_s=4.0)
    statuses: list[int] = []
    tag = f"retry-{uuid.uuid4().hex[:8]}"
    hooks = {"response": [lambda response: statuses.append(response.status_code)]}
    with (
        openai.DefaultHttpxClient(event_hooks=hooks) as http,
        sdk(gateway, secret(key_id), max_retries=2, http_client=http) as client,
    ):
        create(client, tag)
        started = time.monotonic()
        window_end = time.time() + seconds_left(key_id)
        answer = create(client, tag)
        waited = time.monotonic() - started
    assert answer.http_response.status_code == 200
    assert statuses == [200, 429, 200]
    assert time.time() >= window_end  # the SDK slept until the window had reset, then got through
    assert waited < 10
    assert len(bodies_mentioning(upstream, tag)) == 2  # the refused attempt never reached the backend


def calls_until_refused(client: openai.OpenAI, *, limit: int) -> tuple[int, openai.RateLimitError]:
    """Call until a 429; how many calls got through, and the refusal."""
    for admitted in range(limit):
        try:
            client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hello"}], max_tokens=30)
        except openai.RateLimitError as exc:
            return admitted, exc
    pytest.fail(f"{limit} calls were admitted")


def test_an_exhausted_daily_budget_answers_insufficient_quota_without_retry(gateway: Running) -> None:
    statuses: list[int] = []
    hooks = {"response": [lambda response: statuses.append(response.status_code)]}
    with (
        openai.DefaultHttpxClient(event_hooks=hooks) as http,
        sdk(gateway, BUDGET_KEY, max_retries=2, http_client=http) as client,
    ):
        admitted, denied = calls_until_refused(client, limit=BUDGET_TOKENS_PER_DAY)
    assert admitted >= 1  # each call uses 23 tokens (1 prompt, 22 answer) and reserves 36 of the 60
    assert denied.status_code == 429
    assert error_of(denied)["code"] == "insufficient_quota"
    assert denied.response.headers["x-should-retry"] == "false"
    assert "retry-after" not in denied.response.headers
    assert_ratelimit_headers(denied.response.headers)
    assert statuses == [200] * admitted + [429]  # the SDK did not retry


def test_rate_limit_denials_are_audited(gateway: Running, keys: KeyPicker) -> None:
    key_id = keys.most_time_left("filled")
    with sdk(gateway, secret(key_id)) as client:
        create(client)
        create(client)
        with pytest.raises(openai.RateLimitError) as caught:
            create(client)
    request_id = caught.value.response.headers["x-request-id"]
    events = wait_for(lambda: audit_events(gateway, AUDITOR, request_id=request_id) or None, timeout_s=5)
    assert [e["event_type"] for e in events] == ["denied"]
    (event,) = events
    assert event["decision"] == "deny"
    assert event["key_id"] == key_id
    assert event["status_code"] == 429
    assert "ratelimit.requests_per_minute" in event["reasons"]


# --- two processes, one Redis --------------------------------------------------------------------


@pytest.mark.redis
def test_two_gateway_processes_sharing_redis_enforce_one_combined_limit(
    shared: tuple[Running, Running], keys: KeyPicker
) -> None:
    key_id = keys.most_time_left("shared")
    assert seconds_left(key_id) > 20

    def call(gateway: Running) -> int:
        with sdk(gateway, secret(key_id)) as client:
            try:
                create(client)
            except openai.RateLimitError:
                return 429
            return 200

    with ThreadPoolExecutor(max_workers=2 * SHARED_LIMIT) as pool:
        statuses = list(pool.map(call, [gw for _ in range(SHARED_LIMIT) for gw in shared]))
    assert sorted(statuses) == [200] * SHARED_LIMIT + [429] * SHARED_LIMIT


@pytest.mark.redis
def test_a_streamed_call_is_charged_the_tokens_the_backend_reported(
    shared: tuple[Running, Running], upstream: Running, redis_url: str, key_prefix: str
) -> None:
    tag = f"stream-{uuid.uuid4().hex[:8]}"
    messages: list[ChatCompletionMessageParam] = [{"role": "user", "content": f"{tag} " + " ".join(["word"] * 40)}]
    with sdk(shared[0], STREAM_KEY) as client:
        chunks = list(client.chat.completions.create(model=MODEL, messages=messages, stream=True))
    assert all(chunk.usage is None for chunk in chunks)  # the client did not ask for usage
    (forwarded,) = bodies_mentioning(upstream, tag)
    assert forwarded["stream_options"] == {"include_usage": True}  # the gateway asked for it
    # The demo upstream is deterministic: the same call, unstreamed, reports the same usage.
    unstreamed = {name: value for name, value in forwarded.items() if name != "stream_options"}
    replay = httpx.post(f"{upstream.url}/v1/chat/completions", json={**unstreamed, "stream": False}, timeout=10)
    reported = int(replay.json()["usage"]["total_tokens"])
    reserved = estimate_call_tokens("chat", {"messages": messages}, default_completion_tokens=1024).total_tokens
    assert reserved != reported  # so a counter at `reported` was settled, not left at the estimate
    day = window_of(Limit(Scope("key", "rl-stream"), LimitKind.TOKENS_PER_DAY, 1), time.time())
    counter = f"{key_prefix}:tokens_per_day/key/rl-stream/{day.index}"
    store = redis.Redis.from_url(redis_url)
    try:

        def charged() -> int | None:
            value = store.get(counter)
            return int(value) if value is not None and int(value) == reported else None

        with contextlib.suppress(TimeoutError):  # settlement runs when the stream has ended
            wait_for(charged, timeout_s=5)
        assert int(store.get(counter) or 0) == reported
    finally:
        store.close()
    # The other process sees the same counter: its next response's headers start from it.
    next_tag = f"next-{tag}"
    with sdk(shared[1], STREAM_KEY) as other:
        response = create(other, next_tag)
    (next_body,) = bodies_mentioning(upstream, next_tag)
    next_reserved = estimate_call_tokens("chat", next_body, default_completion_tokens=1024).total_tokens
    assert response.headers["x-ratelimit-limit-tokens"] == str(STREAM_TOKENS_PER_DAY)
    assert int(response.headers["x-ratelimit-remaining-tokens"]) == STREAM_TOKENS_PER_DAY - reported - next_reserved

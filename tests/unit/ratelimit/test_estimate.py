from __future__ import annotations

from gateway.ratelimit.estimate import estimate_call_tokens
from gateway.tokens import estimate_prompt_tokens

CHAT = {"model": "m", "messages": [{"role": "user", "content": "Summarise the quarterly report in three lines."}]}


def test_reservation_is_prompt_estimate_plus_max_tokens() -> None:
    estimate = estimate_call_tokens("chat", {**CHAT, "max_tokens": 300}, default_completion_tokens=1024)
    assert estimate.prompt_tokens == estimate_prompt_tokens(CHAT)
    assert estimate.completion_tokens == 300
    assert estimate.total_tokens == estimate.prompt_tokens + 300


def test_max_completion_tokens_wins_over_max_tokens() -> None:
    body = {**CHAT, "max_tokens": 300, "max_completion_tokens": 50}
    assert estimate_call_tokens("chat", body, default_completion_tokens=1024).completion_tokens == 50


def test_default_completion_reserve_applies_when_the_client_sets_no_maximum() -> None:
    assert estimate_call_tokens("chat", CHAT, default_completion_tokens=777).completion_tokens == 777


def test_several_choices_reserve_a_completion_each() -> None:
    body = {**CHAT, "max_tokens": 100, "n": 3}
    assert estimate_call_tokens("chat", body, default_completion_tokens=1024).completion_tokens == 300


def test_embeddings_reserve_no_completion() -> None:
    body = {"model": "e", "input": ["one sentence", "another sentence"], "max_tokens": 99}
    estimate = estimate_call_tokens("embedding", body, default_completion_tokens=1024)
    assert estimate.completion_tokens == 0
    assert estimate.prompt_tokens > 0


def test_token_id_inputs_count_one_token_per_id() -> None:
    flat = estimate_call_tokens("embedding", {"input": [1, 2, 3, 4]}, default_completion_tokens=1)
    nested = estimate_call_tokens("embedding", {"input": [[1, 2], [3, 4, 5]]}, default_completion_tokens=1)
    assert flat.prompt_tokens == 4
    assert nested.prompt_tokens == 5


def test_longer_prompts_reserve_more() -> None:
    short = estimate_call_tokens("completion", {"prompt": "hi"}, default_completion_tokens=16)
    long = estimate_call_tokens("completion", {"prompt": "hi " * 400}, default_completion_tokens=16)
    assert long.prompt_tokens > short.prompt_tokens + 200


def test_nonsense_maximums_fall_back_to_the_default() -> None:
    for bad in (0, -5, True, "100", 1.5):
        body = {**CHAT, "max_tokens": bad}
        assert estimate_call_tokens("chat", body, default_completion_tokens=64).completion_tokens == 64

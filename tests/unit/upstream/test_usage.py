"""Usage values parsed from backends' `usage` objects (gateway/upstream/usage.py)."""

from __future__ import annotations

import pytest

from gateway.upstream.usage import Usage, parse_usage


def test_openai_usage_with_details_is_parsed():
    usage = parse_usage(
        {
            "prompt_tokens": 9,
            "completion_tokens": 3,
            "total_tokens": 12,
            "prompt_tokens_details": {"cached_tokens": 0},
        }
    )
    assert usage == Usage(9, 3, 12, estimated=False)


def test_missing_total_is_the_sum():
    assert parse_usage({"prompt_tokens": 4, "completion_tokens": 6}) == Usage(4, 6, 10)


def test_embedding_usage_without_completion_tokens_counts_zero():
    assert parse_usage({"prompt_tokens": 7, "total_tokens": 7}) == Usage(7, 0, 7)


@pytest.mark.parametrize("value", [None, {}, [], "12", {"prompt_tokens": -1}, {"prompt_tokens": True}])
def test_usage_without_token_counts_is_none(value):
    assert parse_usage(value) is None


def test_whole_float_counts_are_accepted():
    assert parse_usage({"prompt_tokens": 5.0, "completion_tokens": 2}) == Usage(5, 2, 7)


def test_to_wire_is_openais_usage_object():
    assert Usage(1, 2, 3, estimated=True).to_wire() == {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}

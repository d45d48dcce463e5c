"""Embedding responses converted to the client's encoding_format (gateway/upstream/embeddings.py)."""

from __future__ import annotations

import base64
import copy
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.upstream.embeddings import (
    EmbeddingFormatError,
    base64_to_floats,
    floats_to_base64,
    normalize_embeddings,
)

VLLM_FLOATS = {
    "id": "embd-4c1f0d6a2e8b4f7a9c3d5e1f2a4b6c8d",
    "object": "list",
    "created": 1737965500,
    "model": "BAAI/bge-m3",
    "data": [
        {"index": 0, "object": "embedding", "embedding": [0.0123, -0.5, 1.25, 3.0e-8]},
        {"index": 1, "object": "embedding", "embedding": [-0.75, 0.0, 2.5, -1.0]},
    ],
    "usage": {"prompt_tokens": 7, "total_tokens": 7, "completion_tokens": 0, "prompt_tokens_details": None},
}


def float32(values):
    """The floats a float32 round trip yields: what clients get from OpenAI's base64."""
    return np.asarray(values, dtype="<f4").tolist()


def test_floats_become_little_endian_float32_base64_when_client_asks_base64():
    out = normalize_embeddings(VLLM_FLOATS, "base64")
    for item, original in zip(out["data"], VLLM_FLOATS["data"], strict=True):
        decoded = np.frombuffer(base64.b64decode(item["embedding"]), dtype="<f4")
        assert decoded.tolist() == float32(original["embedding"])
        assert item["index"] == original["index"]
    assert out["usage"] == VLLM_FLOATS["usage"]


def test_base64_becomes_floats_when_client_asks_float_or_nothing():
    encoded = {
        **VLLM_FLOATS,
        "data": [
            {**item, "embedding": base64.b64encode(np.asarray(item["embedding"], dtype="<f4").tobytes()).decode()}
            for item in VLLM_FLOATS["data"]
        ],
    }
    for wanted in ("float", None):
        out = normalize_embeddings(encoded, wanted)
        assert [item["embedding"] for item in out["data"]] == [
            float32(item["embedding"]) for item in VLLM_FLOATS["data"]
        ]


@pytest.mark.parametrize("wanted", ["float", None, "binary"])
def test_response_already_in_the_asked_form_is_returned_as_is(wanted):
    assert normalize_embeddings(VLLM_FLOATS, wanted) is VLLM_FLOATS


def test_base64_response_is_returned_as_is_when_client_asks_base64():
    body = {"object": "list", "data": [{"index": 0, "object": "embedding", "embedding": floats_to_base64([1.0])}]}
    assert normalize_embeddings(body, "base64") is body


def test_input_body_is_not_mutated():
    snapshot = copy.deepcopy(VLLM_FLOATS)
    normalize_embeddings(VLLM_FLOATS, "base64")
    assert snapshot == VLLM_FLOATS


def test_body_without_data_list_is_returned_as_is():
    body = {"object": "list", "data": None}
    assert normalize_embeddings(body, "base64") is body


def test_invalid_base64_is_reported():
    with pytest.raises(EmbeddingFormatError):
        base64_to_floats("not base64 at all!")


def test_base64_of_a_partial_float32_is_reported():
    with pytest.raises(EmbeddingFormatError):
        base64_to_floats(base64.b64encode(b"\x00\x00\x80").decode())


def test_non_numeric_embedding_values_are_reported():
    with pytest.raises(EmbeddingFormatError):
        normalize_embeddings({"data": [{"embedding": [1.0, "x"]}]}, "base64")


_float32s = st.lists(st.floats(width=32, allow_nan=False), max_size=64)


@given(_float32s)
def test_float32_values_survive_a_base64_round_trip(values):
    assert base64_to_floats(floats_to_base64(values)) == values


@given(st.lists(st.floats(width=32), max_size=16))
def test_base64_matches_numpys_little_endian_float32(values):
    ours = np.frombuffer(base64.b64decode(floats_to_base64(values)), dtype="<f4").tolist()
    assert len(ours) == len(values)
    for got, want in zip(ours, values, strict=True):
        assert got == want or (math.isnan(got) and math.isnan(want))

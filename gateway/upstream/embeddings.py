"""Embedding responses in the encoding the client asked for.

Pure. OpenAI's `encoding_format="base64"` means each `embedding` is the base64 of its
little-endian float32 values; the Python SDK asks for base64 by default and decodes it.
Many backends ignore the parameter (always floats) or support only one form, so the gateway
converts. Not a validator of the rest of the response.
"""

from __future__ import annotations

import base64
import binascii
import sys
from array import array
from typing import Any

_FLOAT32 = "f"
if array(_FLOAT32).itemsize != 4:  # pragma: no cover - every platform CPython supports has 4-byte C floats
    raise ImportError("array('f') is not float32 on this platform")
_NEEDS_SWAP = sys.byteorder != "little"


class EmbeddingFormatError(ValueError):
    """A backend's embedding is neither a list of numbers nor base64 of float32 values."""


def floats_to_base64(values: list[float]) -> str:
    """Base64 of `values` as little-endian float32 (OpenAI's `encoding_format="base64"`).

    Raises:
        EmbeddingFormatError: A value is not a number.
    """
    try:
        packed = array(_FLOAT32, values)
    except TypeError as exc:
        raise EmbeddingFormatError("embedding holds a value that is not a number") from exc
    if _NEEDS_SWAP:  # pragma: no cover - big-endian hosts only
        packed.byteswap()
    return base64.b64encode(packed.tobytes()).decode("ascii")


def base64_to_floats(text: str) -> list[float]:
    """The float32 values of an OpenAI base64 embedding, as Python floats.

    Raises:
        EmbeddingFormatError: Not base64, or not a whole number of float32 values.
    """
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise EmbeddingFormatError("embedding is not valid base64") from exc
    if len(raw) % 4:
        raise EmbeddingFormatError(f"embedding has {len(raw)} bytes, not a multiple of 4 (float32)")
    values: array[float] = array(_FLOAT32)
    values.frombytes(raw)
    if _NEEDS_SWAP:  # pragma: no cover - big-endian hosts only
        values.byteswap()
    return values.tolist()


def normalize_embeddings(body: dict[str, Any], encoding_format: str | None) -> dict[str, Any]:
    """The embeddings response in the client's `encoding_format` ("float" when None).

    Returns `body` itself when every item already has the asked form (or the format is
    unknown); otherwise a new body with new item dicts, leaving `body` unchanged.

    Raises:
        EmbeddingFormatError: The backend's embedding cannot be converted.
    """
    wanted = encoding_format or "float"
    if wanted not in {"float", "base64"}:
        return body
    data = body.get("data")
    if not isinstance(data, list):
        return body
    converted: list[Any] | None = None
    for i, item in enumerate(data):
        new_item = _convert_item(item, wanted)
        if new_item is item:
            continue
        if converted is None:
            converted = list(data)
        converted[i] = new_item
    if converted is None:
        return body
    return {**body, "data": converted}


def _convert_item(item: object, wanted: str) -> object:
    if not isinstance(item, dict):
        return item
    embedding = item.get("embedding")
    if wanted == "base64" and isinstance(embedding, list):
        return {**item, "embedding": floats_to_base64(embedding)}
    if wanted == "float" and isinstance(embedding, str):
        return {**item, "embedding": base64_to_floats(embedding)}
    return item

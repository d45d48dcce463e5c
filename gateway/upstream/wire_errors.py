"""Backend error bodies and Retry-After values, made safe for OpenAI clients.

Pure: bytes and strings in, OpenAI's `{"error": {"message", "type", "param", "code"}}` out.
Backends disagree on error shapes (vLLM's `{"object": "error", ...}`, FastAPI/TGI's
`{"detail": ...}`, TGI's and Ollama's `{"error": "text"}`, llama.cpp's bare
`{"code", "message", "type"}`, an nginx HTML page, nothing at all); every OpenAI SDK only
understands one. This module does not decide the status code the client sees nor build the
gateway's own errors (that is `gateway/api/errors.py`).

Type by status: 400, 404, 413, 422 and other 4xx map to `invalid_request_error`, 401 to
`authentication_error`, 403 to `permission_error`, 429 to `rate_limit_error` (code
`rate_limit_exceeded`), 5xx to `server_error`, the type OpenAI itself sends for its 500s
and the one `gateway.errors` uses.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import msgspec

_MAX_MESSAGE_CHARS = 1000
_TITLE = re.compile(rb"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_SPACES = re.compile(r"\s+")
_HTTP_BAD_REQUEST = 400
_HTTP_SERVER_ERROR = 500
_HTTP_MAX = 599


def error_type_for_status(status: int) -> str:
    """OpenAI's error `type` for an HTTP status."""
    if status == 401:
        return "authentication_error"
    if status == 403:
        return "permission_error"
    if status == 429:
        return "rate_limit_error"
    if status >= _HTTP_SERVER_ERROR:
        return "server_error"
    if status >= _HTTP_BAD_REQUEST:
        return "invalid_request_error"
    return "api_error"


def _default_code(status: int) -> str | None:
    return "rate_limit_exceeded" if status == 429 else None


def _shorten(text: str) -> str:
    text = _SPACES.sub(" ", text).strip()
    return text if len(text) <= _MAX_MESSAGE_CHARS else text[: _MAX_MESSAGE_CHARS - 1] + "…"


def error_body(
    status: int, message: str, *, type_: object = None, param: object = None, code: object = None
) -> dict[str, Any]:
    """OpenAI's error body; a `type_` that is no non-empty string is derived from `status`."""
    return {
        "error": {
            "message": message,
            "type": type_ if isinstance(type_, str) and type_ else error_type_for_status(status),
            "param": param if isinstance(param, str) else None,
            "code": _wire_code(code) if code is not None else _default_code(status),
        }
    }


def _wire_code(code: object) -> str | None:
    # OpenAI's code is a string or null; typed SDKs (Go, .NET) fail on vLLM's numeric 400.
    if isinstance(code, str):
        return code or None
    if isinstance(code, bool) or not isinstance(code, int | float):
        return None
    return str(code)


def _no_message(status: int) -> str:
    return f"Upstream returned HTTP {status} with no error message"


def _detail_message(detail: object) -> tuple[str, str | None]:
    """Message and param of a FastAPI-style `detail` (string, validation list or object)."""
    if isinstance(detail, str):
        return detail, None
    if isinstance(detail, list):
        parts: list[str] = []
        param: str | None = None
        for item in detail:
            if not isinstance(item, dict):
                parts.append(str(item))
                continue
            loc = item.get("loc")
            where = ".".join(str(p) for p in loc if p != "body") if isinstance(loc, list) else ""
            param = param or where or None
            msg = item.get("msg", item.get("message", ""))
            parts.append(f"{where}: {msg}" if where else str(msg))
        return "; ".join(parts), param
    if isinstance(detail, dict):
        for key in ("message", "msg", "error"):
            if isinstance(detail.get(key), str):
                return detail[key], None
    return msgspec.json.encode(detail).decode(), None


def error_body_from_json(obj: object, status: int) -> dict[str, Any] | None:
    """OpenAI's error body from a decoded backend error, or None if `obj` is no known error shape.

    Known shapes: `{"error": {...}}` (kept, missing keys filled), `{"error": "text"}`,
    `{"detail": ...}`, and objects with a `message` (vLLM < 0.6, llama.cpp stream errors).
    Extra keys of an error object are kept.
    """
    if not isinstance(obj, dict):
        return None
    error = obj.get("error")
    if isinstance(error, dict):
        message = error.get("message")
        if not isinstance(message, str) or not message:
            message = _no_message(status)
        return _with_extras(
            error_body(status, message, type_=error.get("type"), param=error.get("param"), code=error.get("code")),
            error,
        )
    if isinstance(error, str) and error:
        return error_body(status, error, code=obj.get("code"))
    if "detail" in obj:
        message, param = _detail_message(obj["detail"])
        return error_body(status, message or _no_message(status), param=param)
    message = obj.get("message")
    if isinstance(message, str) and message:
        return _with_extras(
            error_body(status, message, type_=obj.get("type"), param=obj.get("param"), code=obj.get("code")), obj
        )
    return None


def _with_extras(wrapped: dict[str, Any], source: dict[str, Any]) -> dict[str, Any]:
    """Keep a backend's extra error keys (llama.cpp's `n_ctx`): clients ignore what they don't know."""
    error = wrapped["error"]
    error.update({k: v for k, v in source.items() if k not in error and k != "object"})
    return wrapped


def stream_error_status(obj: object) -> int:
    """The HTTP status a streamed error object implies: its numeric `code` if 4xx/5xx, else 500."""
    candidates = [obj]
    if isinstance(obj, dict) and isinstance(obj.get("error"), dict):
        candidates.insert(0, obj["error"])
    for candidate in candidates:
        code = candidate.get("code") if isinstance(candidate, dict) else None
        if isinstance(code, int) and not isinstance(code, bool) and _HTTP_BAD_REQUEST <= code <= _HTTP_MAX:
            return code
    return _HTTP_SERVER_ERROR


def openai_error_body(status: int, body: bytes, content_type: str | None) -> dict[str, Any]:
    """Turn any backend error response into OpenAI's error body.

    The body is tried as JSON whatever the content type says (backends mislabel both ways).
    An HTML page contributes its <title> only; other text is whitespace-collapsed and cut
    to 1000 characters. A valid OpenAI error is kept, with its extra keys, and a numeric
    `code` becomes a string.
    """
    stripped = body.strip()
    if not stripped:
        return error_body(status, f"Upstream returned HTTP {status} with no body")
    if stripped[:1] in (b"{", b"["):
        try:
            decoded = msgspec.json.decode(stripped)
        except msgspec.DecodeError:
            decoded = None
        converted = error_body_from_json(decoded, status)
        if converted is not None:
            return converted
    is_html = (content_type is not None and "html" in content_type.lower()) or stripped[:1] == b"<"
    if is_html:
        title = _TITLE.search(stripped)
        text = title.group(1).decode(errors="replace") if title else ""
        summary = f": {_shorten(text)}" if text.strip() else " (HTML body omitted)"
        return error_body(status, f"Upstream returned HTTP {status}{summary}")
    return error_body(status, f"Upstream returned HTTP {status}: {_shorten(stripped.decode(errors='replace'))}")


def sane_retry_after(value: str | None, *, max_s: int = 60, now: datetime | None = None) -> int | None:
    """A Retry-After header value as whole seconds in 1..max_s, or None to omit it.

    Accepts delta-seconds (an integer, or a float rounded up) and HTTP-dates (relative to
    `now`, default the current UTC time). "0" and dates already past give 1. Absent,
    unparseable, negative and over-`max_s` values give None: the npm SDK sleeps for whatever
    it is told and the Python SDK ignores values over 60 s, so passing them on helps no one.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        until = _seconds_until(text, now)
        if until is None:
            return None
        seconds = max(until, 0.0)
    if not math.isfinite(seconds) or seconds < 0:
        return None
    whole = max(1, math.ceil(seconds))
    return whole if whole <= max_s else None


def _seconds_until(http_date: str, now: datetime | None) -> float | None:
    try:
        when = parsedate_to_datetime(http_date)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT; parsedate gives naive for "-0000"
        when = when.replace(tzinfo=UTC)
    return (when - (now or datetime.now(tz=UTC))).total_seconds()

"""Backend error bodies and Retry-After values made safe for OpenAI clients (wire_errors.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from gateway.upstream.wire_errors import (
    error_body_from_json,
    error_type_for_status,
    openai_error_body,
    sane_retry_after,
    stream_error_status,
)

ERROR_KEYS = {"message", "type", "param", "code"}


def convert(status: int, body: object, content_type: str | None = "application/json") -> dict:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    result = openai_error_body(status, raw, content_type)
    assert set(result) == {"error"}
    assert set(result["error"]) >= ERROR_KEYS
    assert isinstance(result["error"]["message"], str)
    assert result["error"]["message"]
    return result["error"]


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (400, "invalid_request_error"),
        (404, "invalid_request_error"),
        (413, "invalid_request_error"),
        (422, "invalid_request_error"),
        (401, "authentication_error"),
        (403, "permission_error"),
        (429, "rate_limit_error"),
        (500, "server_error"),
        (503, "server_error"),
    ],
)
def test_error_type_follows_the_status(status, expected):
    assert error_type_for_status(status) == expected
    assert convert(status, b"")["type"] == expected


def test_valid_openai_error_is_kept():
    body = {
        "error": {
            "message": "Rate limit reached for gpt-4o-mini",
            "type": "requests",
            "param": None,
            "code": "rate_limit_exceeded",
        }
    }
    assert convert(429, body) == body["error"]


def test_openai_error_missing_keys_are_filled():
    error = convert(404, {"error": {"message": "The model `x` does not exist"}})
    assert error == {
        "message": "The model `x` does not exist",
        "type": "invalid_request_error",
        "param": None,
        "code": None,
    }


def test_vllm_error_keeps_its_type_and_gets_a_string_code():
    body = {
        "error": {
            "object": "error",
            "message": "This model's maximum context length is 4096 tokens.",
            "type": "BadRequestError",
            "param": None,
            "code": 400,
        }
    }
    error = convert(400, body)
    assert error["message"] == body["error"]["message"]
    assert error["type"] == "BadRequestError"
    assert error["code"] == "400"
    assert "object" not in error


def test_old_vllm_top_level_error_object_is_converted():
    body = {
        "object": "error",
        "message": "The model `gpt-4` does not exist.",
        "type": "NotFoundError",
        "param": None,
        "code": 404,
    }
    error = convert(404, body)
    assert error["message"] == body["message"]
    assert error["type"] == "NotFoundError"


def test_llamacpp_error_with_extra_keys_keeps_them():
    body = {"error": {"code": 503, "message": "Loading model", "type": "unavailable_error"}}
    error = convert(503, body)
    assert error["message"] == "Loading model"
    assert error["type"] == "unavailable_error"
    assert error["code"] == "503"


def test_fastapi_detail_string_is_the_message():
    assert convert(401, {"detail": "Not authenticated"})["message"] == "Not authenticated"


def test_fastapi_validation_detail_list_names_the_field():
    body = {
        "detail": [
            {"type": "missing", "loc": ["body", "messages"], "msg": "Field required", "input": {}},
            {"type": "float_type", "loc": ["body", "temperature"], "msg": "Input should be a valid number"},
        ]
    }
    error = convert(422, body)
    assert "messages: Field required" in error["message"]
    assert "temperature: Input should be a valid number" in error["message"]
    assert error["param"] == "messages"
    assert error["type"] == "invalid_request_error"


def test_detail_object_message_is_used():
    assert convert(400, {"detail": {"message": "bad prompt"}})["message"] == "bad prompt"


def test_tgi_error_string_is_the_message():
    body = {
        "error": "Input validation error: `inputs` tokens + `max_new_tokens` must be <= 4096",
        "error_type": "validation",
    }
    error = convert(422, body)
    assert error["message"] == body["error"]
    assert error["type"] == "invalid_request_error"


def test_ollama_error_string_is_the_message():
    assert convert(404, {"error": "model 'llama9' not found"})["message"] == "model 'llama9' not found"


def test_rate_limit_without_code_gets_rate_limit_exceeded():
    error = convert(429, {"error": "Too many requests"})
    assert error["type"] == "rate_limit_error"
    assert error["code"] == "rate_limit_exceeded"


def test_plain_text_body_is_quoted_in_the_message():
    error = convert(500, b"Internal Server Error\n", "text/plain")
    assert error["message"] == "Upstream returned HTTP 500: Internal Server Error"
    assert error["type"] == "server_error"


def test_json_labelled_as_text_is_still_understood():
    assert convert(400, b'{"detail": "bad"}', "text/plain")["message"] == "bad"


def test_html_error_page_contributes_only_its_title():
    page = (
        b"<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1>"
        b"</center><hr><center>nginx</center></body></html>"
    )
    error = convert(502, page, "text/html")
    assert error["message"] == "Upstream returned HTTP 502: 502 Bad Gateway"


def test_html_without_title_is_omitted():
    assert "HTML body omitted" in convert(502, b"<h1>oops</h1>", None)["message"]


def test_empty_body_says_so():
    assert convert(500, b"  \n", None)["message"] == "Upstream returned HTTP 500 with no body"


def test_long_text_is_cut():
    assert len(convert(500, b"x" * 10_000, "text/plain")["message"]) < 1100


def test_invalid_json_falls_back_to_text():
    assert convert(400, b'{"error": ', "application/json")["message"] == 'Upstream returned HTTP 400: {"error":'


def test_unknown_json_shape_is_quoted_as_text():
    assert "unexpected" in convert(500, {"status": "unexpected"})["message"]


def test_non_utf8_body_does_not_fail():
    assert convert(500, b"\xff\xfe bad bytes", "text/plain")["message"].startswith("Upstream returned HTTP 500")


def test_error_object_without_message_gets_one():
    assert "HTTP 500" in convert(500, {"error": {"type": "server_error"}})["message"]


def test_unrecognised_object_is_not_an_error_shape():
    assert error_body_from_json({"choices": []}, 500) is None
    assert error_body_from_json(["x"], 500) is None


@pytest.mark.parametrize(
    ("obj", "status"),
    [
        ({"error": {"code": 400, "message": "m"}}, 400),
        ({"code": 503, "message": "m"}, 503),
        ({"error": {"code": "bad", "message": "m"}}, 500),
        ({"code": 200}, 500),
        ("text", 500),
    ],
)
def test_stream_error_status_comes_from_a_numeric_code(obj, status):
    assert stream_error_status(obj) == status


NOW = datetime(2025, 1, 27, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", None),
        ("20", 20),
        (" 7 ", 7),
        ("0", 1),
        ("0.2", 1),
        ("1.5", 2),
        ("60", 60),
        ("61", None),
        ("3600", None),
        ("-1", None),
        ("nan", None),
        ("inf", None),
        ("soon", None),
    ],
)
def test_retry_after_delta_seconds(value, expected):
    assert sane_retry_after(value, now=NOW) == expected


def test_retry_after_http_date_is_seconds_from_now():
    later = format_datetime(NOW + timedelta(seconds=30), usegmt=True)
    assert sane_retry_after(later, now=NOW) == 30


def test_retry_after_http_date_in_the_past_means_one_second():
    earlier = format_datetime(NOW - timedelta(minutes=5), usegmt=True)
    assert sane_retry_after(earlier, now=NOW) == 1


def test_retry_after_http_date_too_far_is_dropped():
    assert sane_retry_after(format_datetime(NOW + timedelta(hours=1), usegmt=True), now=NOW) is None


def test_retry_after_respects_a_custom_maximum():
    assert sane_retry_after("90", max_s=120) == 90
    assert sane_retry_after("90", max_s=30) is None


def test_retry_after_http_date_defaults_to_the_current_time():
    soon = format_datetime(datetime.now(tz=UTC) + timedelta(seconds=20), usegmt=True)
    assert sane_retry_after(soon) in range(15, 22)


def test_status_below_400_gets_a_generic_api_error_type():
    assert error_type_for_status(302) == "api_error"


def test_detail_list_with_plain_items_is_joined():
    assert convert(422, {"detail": ["first", "second"]})["message"] == "first; second"


def test_detail_of_another_type_is_rendered_as_json():
    assert convert(400, {"detail": 42})["message"] == "42"


def test_boolean_error_code_is_dropped():
    assert convert(400, {"error": {"message": "m", "code": True}})["code"] is None


def test_unparseable_http_date_is_none():
    assert sane_retry_after("Mon, 99 Foo 2025 99:99:99 GMT", now=NOW) is None

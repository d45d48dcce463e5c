from __future__ import annotations

import pytest

from gateway.pii.findings import Finding
from gateway.pii.recognizers.lookalikes import drop_look_alikes, tidy_email


def kept(text: str, value: str, entity: str, score: float = 0.6) -> bool:
    start = text.index(value)
    return bool(drop_look_alikes(text, [Finding(entity, start, start + len(value), score)]))


@pytest.mark.parametrize(
    ("text", "value", "entity"),
    [
        ("uuid 123e4567-e89b-12d3-a456-426614174000", "4266141740", "PHONE_NUMBER"),
        ("commit 3f786850e387550fdab836ed7e6dc881de23001b", "786850", "PHONE_NUMBER"),
        ("at 2024-01-15T10:30:00Z", "2024-01-15", "PHONE_NUMBER"),
        ("version 10.0.0.1 is out", "10.0.0.1", "IP_ADDRESS"),
        ("Order ORD-2026-877869 shipped", "2026-877869", "PHONE_NUMBER"),
        ("订单号4111111111111111已发货", "4111111111111111", "CREDIT_CARD"),
        ("order number: 4111111111111111", "4111111111111111", "CREDIT_CARD"),
    ],
)
def test_technical_tokens_and_order_numbers_are_dropped(text, value, entity):
    assert not kept(text, value, entity)


def test_bare_digit_run_scored_without_context_is_dropped_unless_a_phone_word_is_near():
    assert not kept("ref 2065550100", "2065550100", "PHONE_NUMBER", score=0.4)
    assert kept("phone 2065550100", "2065550100", "PHONE_NUMBER", score=0.4)


@pytest.mark.parametrize(
    ("text", "value", "entity"),
    [
        ("server 192.168.1.20 is down", "192.168.1.20", "IP_ADDRESS"),
        ("my card 4111111111111111 was charged", "4111111111111111", "CREDIT_CARD"),
        ("api_key=3f786850e387550fdab836ed7e6dc881", "3f786850e387550fdab836ed7e6dc881", "SECRET"),
    ],
)
def test_real_pii_and_secrets_are_kept(text, value, entity):
    assert kept(text, value, entity)


def test_email_match_does_not_start_inside_a_table_cell_before_it():
    text = "Ada Lovelace|ada@example.com"
    tidied = tidy_email(text, Finding("EMAIL_ADDRESS", 4, len(text), 1.0))
    assert text[tidied.start : tidied.end] == "ada@example.com"

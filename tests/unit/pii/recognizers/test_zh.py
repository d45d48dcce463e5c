# ruff: noqa: RUF001 - Chinese full-width punctuation is part of the test texts
from __future__ import annotations

import pytest

from gateway.pii.recognizers.zh import ChineseIdScanner

scanner = ChineseIdScanner()


def found(text: str) -> list[tuple[str, str]]:
    return [(f.entity_type, text[f.start : f.end]) for f in scanner.scan(text) if f.score >= 0.4]


def test_resident_id_with_valid_check_digit_is_found():
    assert found("身份证号：11010519491231002X，请核对") == [("CN_RESIDENT_ID", "11010519491231002X")]


def test_resident_id_written_in_groups_is_found():
    assert ("CN_RESIDENT_ID", "110105 19491231 002X") in found("ID: 110105 19491231 002X")


def test_resident_id_with_wrong_check_digit_is_not_found():
    assert found("身份证号：110105194912310021") == []


def test_old_resident_id_needs_context():
    assert found("身份证 110105491231002") == [("CN_RESIDENT_ID", "110105491231002")]
    assert found("订单 110105491231002") == []


@pytest.mark.parametrize(
    "phone",
    ["13812345678", "138 1234 5678", "138-1234-5678", "+86 13812345678", "+8613812345678", "0086 138 1234 5678"],
)
def test_mainland_mobile_numbers_are_found_in_their_written_forms(phone):
    assert found(f"手机{phone}，谢谢") == [("PHONE_NUMBER", phone)]


@pytest.mark.parametrize("text", ["12812345678", "订单号238123456789", "v138123456780", "10812345678"])
def test_digit_runs_that_are_not_mobiles_are_not_found(text):
    assert [kind for kind, _ in found(text) if kind == "PHONE_NUMBER"] == []


def test_unionpay_card_with_valid_luhn_is_found_without_context():
    assert found("卡号 6222 6002 6000 1072 444") == [("CREDIT_CARD", "6222 6002 6000 1072 444")]
    assert found("6212345678901232") == [("CREDIT_CARD", "6212345678901232")]


def test_card_with_invalid_luhn_is_not_found():
    assert found("银行卡 6212345678901233") == []


def test_other_network_card_needs_context():
    assert found("银行卡 4111111111111111") == [("CREDIT_CARD", "4111111111111111")]
    assert found("编号 4111111111111111") == []


def test_credit_code_with_valid_check_character_is_found():
    assert found("统一社会信用代码：91350100M000100Y43") == [("CN_USCC", "91350100M000100Y43")]


def test_credit_code_with_wrong_check_character_is_not_found():
    assert found("统一社会信用代码：91350100M000100Y44") == []


def test_passport_with_context_scores_high_and_bare_shape_scores_low():
    [with_context] = [f for f in scanner.scan("护照号码E12345678") if f.entity_type == "CN_PASSPORT"]
    [bare] = [f for f in scanner.scan("E12345678") if f.entity_type == "CN_PASSPORT"]
    assert with_context.score > bare.score


@pytest.mark.parametrize("text", ["我的港澳通行证号码是C12345678", "往来台湾通行证 L12345678", "回乡证 H1234567890"])
def test_travel_permits_with_context_are_found(text):
    assert [kind for kind, _ in found(text)] == ["CN_TRAVEL_PERMIT"]


def test_travel_permit_shape_without_context_is_not_found():
    assert found("model C12345678 is out of stock") == []

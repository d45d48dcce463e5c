from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.pii.recognizers.checksums import cn_resident_id_ok, luhn_ok, uscc_ok

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def _id_with_check(body: str) -> str:
    """An 18-character ID number with its GB 11643 check character, computed independently."""
    remainder = sum(int(c) * w for c, w in zip(body, _WEIGHTS, strict=True)) % 11
    return body + "10X98765432"[remainder]


@pytest.mark.parametrize("number", ["4111111111111111", "6212345678901232", "6222600260001072444", "5555555555554444"])
def test_luhn_accepts_valid_card_numbers(number):
    assert luhn_ok(number)


@pytest.mark.parametrize("number", ["4111111111111112", "6212345678901233", "12a4", "", "\uff14\uff11\uff11\uff11"])
def test_luhn_rejects_wrong_check_digits_and_non_digits(number):
    assert not luhn_ok(number)


def test_resident_id_with_x_check_character_is_valid():
    assert cn_resident_id_ok("11010519491231002X")
    assert cn_resident_id_ok("11010519491231002x")


@given(st.integers(min_value=1950, max_value=2010), st.integers(1, 12), st.integers(1, 28), st.integers(0, 999))
def test_resident_id_with_computed_check_digit_is_valid(year, month, day, sequence):
    assert cn_resident_id_ok(_id_with_check(f"110105{year}{month:02d}{day:02d}{sequence:03d}"))


def test_resident_id_with_wrong_check_digit_is_invalid():
    good = _id_with_check("11010519900307457")
    wrong = "0" if good[-1] != "0" else "1"
    assert not cn_resident_id_ok(good[:-1] + wrong)


@pytest.mark.parametrize(
    "body",
    [
        "11010519900230457",  # 30 February
        "11010518800101001",  # born before 1900
        "99010519900307457",  # no such province
    ],
)
def test_resident_id_with_impossible_date_or_region_is_invalid(body):
    assert not cn_resident_id_ok(_id_with_check(body))


def test_resident_id_born_in_the_future_is_invalid():
    assert not cn_resident_id_ok(_id_with_check("11010520990101001"), today=dt.date(2026, 1, 1))


def test_old_fifteen_digit_id_needs_a_valid_date():
    assert cn_resident_id_ok("110105491231002")
    assert not cn_resident_id_ok("110105491331002")


def test_uscc_with_right_check_character_is_valid():
    assert uscc_ok("91350100M000100Y43")


@pytest.mark.parametrize("code", ["91350100M000100Y44", "91350100M000100Y4", "91350100M000I00Y43"])
def test_uscc_with_wrong_check_length_or_alphabet_is_invalid(code):
    assert not uscc_ok(code)

# ruff: noqa: RUF001 - Chinese full-width punctuation is part of the test texts
from __future__ import annotations

import pytest

from gateway.pii.recognizers.dates import DateOfBirthScanner

scanner = DateOfBirthScanner()


def dates(text: str) -> list[str]:
    return [text[f.start : f.end] for f in scanner.scan(text)]


@pytest.mark.parametrize(
    ("text", "date"),
    [
        ("patient: ahmed el-sayed, dob 1984-03-12, mrn 4481923", "1984-03-12"),
        ("Date of birth: 03/12/1984", "03/12/1984"),
        ("She was born on March 12, 1984 in Lagos.", "March 12, 1984"),
        ("D.O.B. 12 Mar 1984", "12 Mar 1984"),
        ("出生日期：1990年3月7日", "1990年3月7日"),
        ("我的生日是1990-03-07", "1990-03-07"),
    ],
)
def test_dates_after_birth_words_are_found(text, date):
    assert dates(text) == [date]


@pytest.mark.parametrize(
    "text",
    ["Released on 2024-01-15", "deadline 03/12/2025", "The build from 2023-10-02 fails", "会议时间改到2024年5月1日"],
)
def test_other_dates_are_not_dates_of_birth(text):
    assert dates(text) == []

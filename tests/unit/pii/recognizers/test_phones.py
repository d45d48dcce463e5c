from __future__ import annotations

import pytest

from gateway.pii.recognizers.phones import PhoneShapeScanner

scanner = PhoneShapeScanner()


def phones(text: str) -> list[str]:
    return [text[f.start : f.end] for f in scanner.scan(text)]


@pytest.mark.parametrize(
    "phone",
    [
        "500-708-0636x08377",
        "268.859.5748",
        "+1-647-357-7104x6563",
        "(206)555-0100",
        "+44 20 7946 0958",
        "0049 30 1234567",
    ],
)
def test_written_phone_shapes_are_found(phone):
    assert phones(f"reach me at {phone} today") == [phone]


@pytest.mark.parametrize(
    "text", ["ORD-2026-877869", "2024-01-15", "192.168.1.1", "version 1.2.3", "4155550100", "1.234.5678"]
)
def test_dates_versions_addresses_and_bare_digits_are_not_phone_shapes(text):
    assert phones(text) == []


def test_phone_word_before_the_number_raises_the_score():
    [plain] = scanner.scan("see 415.555.0100")
    [called] = scanner.scan("call 415.555.0100")
    assert called.score > plain.score

"""Check digits of the identifiers our recognizers report.

Pure functions, one per scheme. A pattern alone flags every 18-digit order number as an
identity card; the check digit is what turns a shape into a finding. Each function takes
the identifier with separators already removed and returns whether it is well-formed and
its check character is right. Not a validator of whether the identifier was ever issued.
"""

from __future__ import annotations

import datetime as dt

_ID18_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID18_CHECK = "10X98765432"
# GB 32100-2015 character set: digits and upper-case letters without I, O, Z, S, V.
_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_LUHN_DOUBLED = (0, 2, 4, 6, 8, 1, 3, 5, 7, 9)
_ID_PROVINCE_PREFIXES = frozenset(
    [
        "11",
        "12",
        "13",
        "14",
        "15",
        "21",
        "22",
        "23",
        "31",
        "32",
        "33",
        "34",
        "35",
        "36",
        "37",
        "41",
        "42",
        "43",
        "44",
        "45",
        "46",
        "50",
        "51",
        "52",
        "53",
        "54",
        "61",
        "62",
        "63",
        "64",
        "65",
        "71",
        "81",
        "82",
        "83",
        "91",
    ]
)
_EARLIEST_BIRTH_YEAR = 1900


def luhn_ok(digits: str) -> bool:
    """Whether a string of digits passes the Luhn (mod 10) check used by payment cards."""
    if not digits.isdigit() or not digits.isascii():
        return False
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        total += _LUHN_DOUBLED[value] if position % 2 else value
    return total % 10 == 0


def _valid_date(year: int, month: int, day: int, *, today: dt.date) -> bool:
    try:
        born = dt.date(year, month, day)
    except ValueError:
        return False
    return year >= _EARLIEST_BIRTH_YEAR and born <= today


def cn_resident_id_ok(value: str, *, today: dt.date | None = None) -> bool:
    """Whether `value` is a PRC resident identity card number.

    18 characters: 6-digit region code, 8-digit birth date, 3-digit sequence and a GB 11643
    MOD 11-2 check character (`X` for 10). The old 15-digit form has a 6-digit birth date
    (19YYMMDD) and no check digit, so for it the date (and region) is all we can check.
    """
    today = today or dt.datetime.now(tz=dt.UTC).date()
    value = value.upper()
    if value[:2] not in _ID_PROVINCE_PREFIXES:
        return False
    if len(value) == 18:
        body, check = value[:17], value[17]
        if not body.isdigit() or not body.isascii():
            return False
        if not _valid_date(int(body[6:10]), int(body[10:12]), int(body[12:14]), today=today):
            return False
        total = sum(int(char) * weight for char, weight in zip(body, _ID18_WEIGHTS, strict=True))
        return _ID18_CHECK[total % 11] == check
    if len(value) == 15 and value.isdigit() and value.isascii():
        return _valid_date(1900 + int(value[6:8]), int(value[8:10]), int(value[10:12]), today=today)
    return False


def uscc_ok(value: str) -> bool:
    """Whether `value` is a Unified Social Credit Code (GB 32100-2015), check character included."""
    value = value.upper()
    if len(value) != 18 or any(char not in _USCC_ALPHABET for char in value):
        return False
    total = sum(_USCC_ALPHABET.index(char) * weight for char, weight in zip(value[:17], _USCC_WEIGHTS, strict=True))
    expected = (31 - total % 31) % 31
    return _USCC_ALPHABET[expected] == value[17]

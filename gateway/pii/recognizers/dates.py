# ruff: noqa: RUF001 - Chinese full-width punctuation is part of the patterns
"""Dates of birth: a date right after a birth word (`DOB`, `born on`, `出生日期`).

Pure. Dates in general are not reported (`DATE_TIME` is off by default: timestamps, release
dates and deadlines fill prompts and are not personal), but a date of birth is one of the
classic quasi-identifiers. This scanner reports a date only when a birth word stands at
most a few characters before it, as `DATE_OF_BIRTH`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from gateway.pii.findings import Finding

_MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"
_DATE = (
    r"(?:\d{4}[-/.]\d{1,2}[-/.]\d{1,2}"
    r"|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}"
    rf"|{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}"
    rf"|\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH},?\s+\d{{4}}"
    r"|\d{4}\s*年\s*\d{1,2}\s*月(?:\s*\d{1,2}\s*[日号])?)"
)
_BIRTH = (
    r"(?:\bd\.?o\.?b\.?|\bdate\s+of\s+birth|\bbirth\s*date|\bbirthdate|\bborn(?:\s+on)?|\bbirthday(?:\s+is)?"
    r"|出生日期|出生年月日?|出生于|生日|出生)"
)
_DATE_OF_BIRTH = re.compile(rf"{_BIRTH}[\s:：=,\-\"'是为]{{0,6}}({_DATE})(?![\d])", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class DateOfBirthScanner:
    """Dates introduced as someone's date of birth."""

    score: float = 0.85
    """Score of a date right after a birth word."""

    @property
    def entities(self) -> tuple[str, ...]:
        return ("DATE_OF_BIRTH",)

    def scan(self, text: str, /) -> list[Finding]:
        return [Finding("DATE_OF_BIRTH", m.start(1), m.end(1), self.score) for m in _DATE_OF_BIRTH.finditer(text)]

"""Phone numbers by their written shape.

Presidio's phone recognizer asks `phonenumbers` whether a number is valid in one of a few
regions: it misses numbers with unassigned area codes and most foreign numbers (people who
paste a phone number into a prompt do not check its area code), and its matcher costs more
than NER on a short prompt. This scanner replaces it and reports the shapes people write:

- North American: `(415) 555-0100`, `415.555.0100`, `+1-415-555-0100 x123`;
- international with `+` or `00` and separators: `+44 20 7946 0958`, `0049 30 1234567`;
- national with a trunk `0` and separators: `020 7946 0958`, `01 23 45 67 89`;
- a bare run of 10-11 digits only right after a phone word (`tel: 4155550100`), since
  without one it is as likely an order number.

Chinese mobiles and landlines are in `zh.py`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from gateway.pii.findings import Finding
from gateway.pii.recognizers.base import context_pattern, has_context

_NANP = re.compile(
    r"(?<![\w+.\-/])(?:\+1[ .-]?|1[ .-]|001[ .-])?(?:\(\d{3}\)[ .-]?|\d{3}[ .-])\d{3}[ .-]\d{4}"
    r"(?:[ ]?(?:x|ext\.?|#)[ ]?\d{1,5})?(?![\w\-/]|\.\d)"
)
_NATIONAL = re.compile(r"(?<![\w+.\-/])\(?0\d{1,4}\)?[ .-]\d{2,8}(?:[ .-]\d{2,4}){0,3}(?![\w\-/]|\.\d)")
_BARE = re.compile(r"(?<![\w+.\-/])\d{10,11}(?![\w\-/]|\.\d)")
_INTERNATIONAL = re.compile(r"(?<![\w+])(?:\+|00)[1-9]\d{0,2}(?:[ .-]?\(?\d{1,5}\)?){2,6}(?![\w\-/]|\.\d)")
_CONTEXT = context_pattern(
    [
        "phone",
        "tel",
        "telephone",
        "mobile",
        "cell",
        "call",
        "fax",
        "contact",
        "whatsapp",
        "sms",
        "text",
        "number",
        "line",
        "电话",
        "手机",
        "联系",
    ]
)
_CONTEXT_RIGHT_BEFORE = re.compile(
    r"(?:phone|tel|telephone|mobile|cell|fax|call|whatsapp|sms|电话|手机)\W{0,6}(?:no\.?|number|#)?\W{0,3}$",
    re.IGNORECASE,
)
_SSN_SHAPE = re.compile(r"\d{3}-\d{2}-\d{4}")
_MIN_DIGITS = 8
_MIN_NATIONAL_DIGITS = 9
_MAX_DIGITS = 15


@dataclass(frozen=True, slots=True)
class PhoneShapeScanner:
    """North American and international phone numbers written with separators."""

    score: float = 0.6
    """Score of a phone-shaped number with no phone word nearby."""
    context_score: float = 0.85
    """Score when a phone word (`phone`, `call`, `tel`, ...) stands within 30 characters before."""

    @property
    def entities(self) -> tuple[str, ...]:
        return ("PHONE_NUMBER",)

    def scan(self, text: str, /) -> list[Finding]:
        found = []
        for pattern in (_NANP, _INTERNATIONAL, _NATIONAL):
            for m in pattern.finditer(text):
                digits = sum(char.isdigit() for char in m.group())
                least = _MIN_NATIONAL_DIGITS if pattern is _NATIONAL else _MIN_DIGITS
                if not least <= digits <= _MAX_DIGITS + 5 or _SSN_SHAPE.fullmatch(m.group()):
                    continue  # too short or long (an extension may follow), or a social security number
                end = _trimmed_end(text, m.start(), m.end())
                context = has_context(_CONTEXT, text, m.start(), end, before=30)
                found.append(Finding("PHONE_NUMBER", m.start(), end, self.context_score if context else self.score))
        found.extend(
            Finding("PHONE_NUMBER", m.start(), m.end(), self.score)
            for m in _BARE.finditer(text)
            if _CONTEXT_RIGHT_BEFORE.search(text[max(0, m.start() - 16) : m.start()])
        )
        return found


def _trimmed_end(text: str, start: int, end: int) -> int:
    """The match's end without trailing separators or a `)` it never opened: `(+44 20 7946 0958)`."""
    while end > start:
        last = text[end - 1]
        unopened = last == ")" and text.count("(", start, end) < text.count(")", start, end)
        if last not in " .-(" and not unopened:
            break
        end -= 1
    return end

"""Chinese (PRC) identifiers: identity cards, mobiles, bank cards, credit codes, passports, permits.

Pure pattern scanners with check digits and character-window context. No Chinese NER model
is available offline (spaCy's `zh_core_web_*` are downloads), and these identifiers are
structured anyway: a shape plus a check digit (GB 11643 identity cards, GB 32100 credit
codes, Luhn for cards) is more precise than any model. Where a format has no check digit
(15-digit identity cards, passports, travel permits) a context word such as 身份证, 护照 or
通行证 must be near; bare shapes like `E12345678` score below the default threshold.

Entity types reported:

- `CN_RESIDENT_ID`: resident identity card, 18 digits with MOD 11-2 check (or `X`), or the
  old 15-digit form with a valid birth date (context required).
- `PHONE_NUMBER`: mainland mobiles `1[3-9]x xxxx xxxx` with optional `+86`/`0086`, spaces or
  dashes; landlines `0xx-xxxxxxxx` (the same type as other phones, so one policy covers both).
- `CREDIT_CARD`: bank cards (16-19 digits, Luhn) starting with UnionPay `62`, or with another
  card-network prefix next to a card context word (银行卡, 卡号, card). Debit cards are reported under the same
  type as credit cards: for policy both are payment card numbers.
- `CN_USCC`: Unified Social Credit Code of an organisation (18 characters, GB 32100 check).
- `CN_PASSPORT`: PRC passports (`E` + 8 digits, `E` + letter + 7 digits, `G` + 8 digits, ...).
- `CN_TRAVEL_PERMIT`: Hong Kong/Macau permits (`C`/`W` + 8 digits), Taiwan permits, home-return
  permits (`H`/`M` + 8-10 digits); only next to a context word.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from gateway.pii.findings import Finding
from gateway.pii.recognizers.base import context_pattern, has_context
from gateway.pii.recognizers.checksums import cn_resident_id_ok, luhn_ok, uscc_ok

# Not preceded/followed by an ASCII letter or digit; CJK neighbours are fine ("手机13812345678").
_L = r"(?<![0-9A-Za-z_])"
_R = r"(?![0-9A-Za-z_])"

_ID18 = re.compile(
    _L + r"(\d{6})[ -]?((?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01]))[ -]?(\d{3}[\dXx])" + _R
)
_ID15 = re.compile(_L + r"\d{8}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}" + _R)
_MOBILE = re.compile(r"(?<![0-9A-Za-z_.+])(?:(?:\+|00)86[ -]?|\(\+?86\)[ -]?)?1[3-9]\d(?:[ -]?\d{4}){2}" + _R)
_LANDLINE = re.compile(r"(?<![0-9A-Za-z_.])(?:\(0\d{2,3}\)[ -]?|0\d{2,3}-)[2-9]\d{6,7}" + _R)
_CARD = re.compile(_L + r"\d(?:[ -]?\d){15,18}" + _R)
_USCC = re.compile(r"(?<![0-9A-Za-z])[1-9ANY][1-9]\d{6}[0-9A-HJ-NPQRTUWXY]{10}(?![0-9A-Za-z])")
_PASSPORT = re.compile(r"(?<![0-9A-Za-z])(?:[EG]\d{8}|E[A-HJ-NP-Z]\d{7}|(?:[DPS]E?)\d{7})(?![0-9A-Za-z])")
_PERMIT = re.compile(r"(?<![0-9A-Za-z])(?:[CWLT]\d{8}|C[A-HJ-NP-Z]\d{7}|[HM]\d{8}(?:\d{2})?)(?![0-9A-Za-z])")
_TW_COMPATRIOT = re.compile(_L + r"\d{8}(?:\d{2})?" + _R)

_ID_CONTEXT = context_pattern(
    [
        "身份證",
        "身份证",
        "身份号",
        "证件号",
        "公民身份",
        "id card",
        "identity",
        "id number",
        "id no",
        "resident id",
        "idcard",
    ]
)
_PHONE_CONTEXT = context_pattern(
    [
        "電話",
        "手機",
        "聯繫",
        "聯絡",
        "手机",
        "电话",
        "联系",
        "致电",
        "拨打",
        "号码",
        "tel",
        "phone",
        "mobile",
        "call",
        "cell",
        "whatsapp",
        "wechat",
        "微信",
    ]
)
_CARD_CONTEXT = context_pattern(
    [
        "银行卡",
        "卡号",
        "储蓄卡",
        "借记卡",
        "信用卡",
        "银联",
        "账号",
        "账户",
        "card",
        "account",
        "unionpay",
        "bank",
        "iban",
    ]
)
_USCC_CONTEXT = context_pattern(
    ["信用代码", "社会信用", "税号", "纳税人识别号", "营业执照", "uscc", "credit code", "tax id"]
)
_PASSPORT_CONTEXT = context_pattern(["护照", "passport"])
_PERMIT_CONTEXT = context_pattern(
    ["通行证", "港澳", "台湾", "台胞", "回乡证", "往来", "permit", "travel document", "exit-entry"]
)
_TW_CONTEXT = context_pattern(["台胞证", "台湾居民来往大陆通行证"])

# Prefixes of card networks: UnionPay 62 and 81, Visa 4, Mastercard 51-55 and 2221-2720,
# Amex 34/37, JCB 35, Discover 60/64/65, Diners 36/38.
_CARD_PREFIX = re.compile(r"62|81|4|5[1-5]|2[2-7]|3[4-8]|6[045]")


def _digits(value: str) -> str:
    return value.replace(" ", "").replace("-", "")


@dataclass(frozen=True, slots=True)
class ChineseIdScanner:
    """PRC identity cards, phones, bank cards, credit codes, passports and travel permits."""

    context_chars: int = 24
    """How far before a match (in characters) a context word may stand."""

    @property
    def entities(self) -> tuple[str, ...]:
        return ("CN_RESIDENT_ID", "PHONE_NUMBER", "CREDIT_CARD", "CN_USCC", "CN_PASSPORT", "CN_TRAVEL_PERMIT")

    def scan(self, text: str, /) -> list[Finding]:
        findings: list[Finding] = []
        findings += self._resident_ids(text)
        findings += self._phones(text)
        findings += self._cards(text)
        findings += self._credit_codes(text)
        findings += self._documents(text)
        return findings

    def _near(self, pattern: re.Pattern[str], text: str, start: int, end: int) -> bool:
        return has_context(pattern, text, start, end, before=self.context_chars, after=8)

    def _resident_ids(self, text: str) -> list[Finding]:
        found = [
            Finding("CN_RESIDENT_ID", m.start(), m.end(), 1.0)
            for m in _ID18.finditer(text)
            if cn_resident_id_ok("".join(m.groups()))
        ]
        found.extend(
            Finding("CN_RESIDENT_ID", m.start(), m.end(), 0.85)
            for m in _ID15.finditer(text)
            if cn_resident_id_ok(m.group()) and self._near(_ID_CONTEXT, text, m.start(), m.end())
        )
        return found

    def _phones(self, text: str) -> list[Finding]:
        found = []
        for m in _MOBILE.finditer(text):
            value = m.group()
            formatted = not value.isdigit()
            context = self._near(_PHONE_CONTEXT, text, m.start(), m.end())
            score = 0.85 if context else 0.75 if formatted else 0.6
            found.append(Finding("PHONE_NUMBER", m.start(), m.end(), score))
        for m in _LANDLINE.finditer(text):
            context = self._near(_PHONE_CONTEXT, text, m.start(), m.end())
            found.append(Finding("PHONE_NUMBER", m.start(), m.end(), 0.85 if context else 0.5))
        return found

    def _cards(self, text: str) -> list[Finding]:
        found = []
        for m in _CARD.finditer(text):
            digits = _digits(m.group())
            if not 16 <= len(digits) <= 19 or not luhn_ok(digits):
                continue
            if digits.startswith("62"):
                score = 0.95
            elif self._near(_CARD_CONTEXT, text, m.start(), m.end()) and _CARD_PREFIX.match(digits):
                score = 0.9
            else:
                continue  # other networks without context: presidio's card recognizer decides
            found.append(Finding("CREDIT_CARD", m.start(), m.end(), score))
        return found

    def _credit_codes(self, text: str) -> list[Finding]:
        found = []
        for m in _USCC.finditer(text):
            if not uscc_ok(m.group()):
                continue
            context = self._near(_USCC_CONTEXT, text, m.start(), m.end())
            has_letter = not m.group().isdigit()
            if context or has_letter:
                found.append(Finding("CN_USCC", m.start(), m.end(), 0.95 if context else 0.85))
        return found

    def _documents(self, text: str) -> list[Finding]:
        found = []
        for m in _PASSPORT.finditer(text):
            context = self._near(_PASSPORT_CONTEXT, text, m.start(), m.end())
            if context or m.group()[0] in "EG":
                found.append(Finding("CN_PASSPORT", m.start(), m.end(), 0.9 if context else 0.45))
        found.extend(
            Finding("CN_TRAVEL_PERMIT", m.start(), m.end(), 0.85)
            for m in _PERMIT.finditer(text)
            if self._near(_PERMIT_CONTEXT, text, m.start(), m.end())
        )
        found.extend(
            Finding("CN_TRAVEL_PERMIT", m.start(), m.end(), 0.8)
            for m in _TW_COMPATRIOT.finditer(text)
            if self._near(_TW_CONTEXT, text, m.start(), m.end())
        )
        return found

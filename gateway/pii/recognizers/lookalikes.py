# ruff: noqa: RUF001 - Chinese full-width punctuation is part of the patterns
"""Findings that only look like PII: hashes, UUIDs, versions, timestamps, order numbers.

Pure. Pattern recognizers see shapes: a phone number inside a git hash, an IP address
that is `version 10.0.0.1`, a Luhn-valid 16-digit order number, `ORD-2026-877869`. These
functions drop such findings after recognition and fix a known edge error of presidio's
email pattern. Credentials are never dropped here: a hex string next to `api_key=` is a secret.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from gateway.pii.findings import Finding
from gateway.pii.recognizers.secrets import SECRET_ENTITIES

# Technical tokens that look like PII to a pattern (a phone inside a hash, an IP that is a
# version). Findings inside them are dropped unless they are credentials.
_TECHNICAL = re.compile(
    r"(?<![\w-])[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}(?![\w-])"  # UUID
    r"|(?<![\w-])(?-i:(?=[0-9a-f]*[a-f])(?=[0-9a-f]*\d)(?:[0-9a-f]{7,12}|[0-9a-f]{32}|[0-9a-f]{40}|[0-9a-f]{56}"
    r"|[0-9a-f]{64}|[0-9a-f]{96}|[0-9a-f]{128}))(?![\w-])"  # hex digests and git shas, lower case
    r"|(?<![\w-])(?-i:(?=[0-9A-F]*[A-F])(?=[0-9A-F]*\d)(?:[0-9A-F]{32}|[0-9A-F]{40}|[0-9A-F]{64}))(?![\w-])"
    r"|(?<![\w.])v?\d{1,4}\.\d{1,3}\.\d{1,3}(?:[-+][0-9A-Za-z.-]+)?(?![\w.])"  # semantic version
    r"|\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?"  # timestamp
    r"|\b\d{4}-\d{2}-\d{2}\b|\b\d{2}:\d{2}:\d{2}(?:[.,]\d+)?\b",
    re.IGNORECASE,
)
_VERSION_CONTEXT = re.compile(
    r"\b(?:version|ver|release|build|v|python|node|java|go|rust|kernel|chrome|firefox)\W{0,3}$", re.IGNORECASE
)
_PHONE_CONTEXT = re.compile(
    r"phone|call|tel|mobile|cell|fax|contact|text me|sms|whatsapp|电话|手机|联系", re.IGNORECASE
)
_DIGITS_ONLY = re.compile(r"\d+")
_CONTEXT_FREE_PHONE_SCORE = 0.5  # presidio scores a phone with no context word 0.4
# Numbers introduced as order, invoice or tracking numbers are not cards or phones, even when
# a random 16-digit order number happens to pass the Luhn check.
_NUMERIC_IDS = frozenset({"CREDIT_CARD", "PHONE_NUMBER", "US_SSN", "US_ITIN", "US_PASSPORT", "US_BANK_NUMBER"})
_ORDER_CONTEXT = re.compile(
    r"(?:\b(?:order|invoice|tracking|ticket|ref(?:erence)?|sku|po|shipment|parcel|transaction|txn)"
    r"(?:\s*(?:no\.?|number|num|id|#))?|订单号?|单号|运单号?|快递单号|发票号?|编号|工单号?|流水号)\s*[:：#=]?\s*#?$",
    re.IGNORECASE,
)
_CARD_CONTEXT = re.compile(r"card|visa|master|amex|银行卡|信用卡|卡号", re.IGNORECASE)
_EMBEDDED = re.compile(r"[A-Za-z0-9][-_/#.]$")


def tidy_email(text: str, finding: Finding) -> Finding:
    """Fix known edge errors of presidio's patterns.

    The email pattern accepts `|` and other RFC-legal but unusual characters in the local part,
    so in `Ada Lovelace|ada@example.com` (a pipe-separated table) it starts at `Lovelace`.
    """
    if finding.entity_type != "EMAIL_ADDRESS":
        return finding
    at = text.find("@", finding.start, finding.end)
    if at == -1:
        return finding
    local = text[finding.start : at]
    cut = max(local.rfind(char) for char in "|,;:<>()[]\"' \t/")
    if cut == -1:
        return finding
    return Finding(finding.entity_type, finding.start + cut + 1, finding.end, finding.score)


def _is_look_alike(text: str, finding: Finding, technical: list[tuple[int, int]]) -> bool:
    """Whether a finding is a hash, UUID, version, timestamp or bare digit run rather than PII."""
    if finding.entity_type in SECRET_ENTITIES or finding.entity_type == "DATE_OF_BIRTH":
        return False  # a hex secret or an ISO date of birth is what it looks like
    if any(start <= finding.start and finding.end <= end for start, end in technical):
        return True
    before = text[max(0, finding.start - 40) : finding.start]
    if finding.entity_type == "IP_ADDRESS":
        return bool(_VERSION_CONTEXT.search(before[-12:]))
    if finding.entity_type in _NUMERIC_IDS and _ORDER_CONTEXT.search(before[-24:]):
        return not _CARD_CONTEXT.search(before[-24:])
    if finding.entity_type != "PHONE_NUMBER":
        return False
    # ORD-2026-877869 is the tail of an identifier; a bare run of digits is an order number
    # or a timestamp unless a phone word is near.
    bare = finding.score < _CONTEXT_FREE_PHONE_SCORE and _DIGITS_ONLY.fullmatch(text[finding.start : finding.end])
    return bool(_EMBEDDED.search(before[-2:])) or (bool(bare) and not _PHONE_CONTEXT.search(before))


def drop_look_alikes(text: str, findings: Iterable[Finding]) -> list[Finding]:
    """`findings` without those that are technical tokens or numbers introduced as order numbers."""
    technical = [m.span() for m in _TECHNICAL.finditer(text)]
    return [finding for finding in findings if not _is_look_alike(text, finding, technical)]

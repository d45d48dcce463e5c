"""One call to the PII detector, with a timeout and the failure translated for the gateway.

Shared by the prompt step and the answer guard. Any failure of the detector (an exception,
a timeout, a wrong number of results) becomes `PiiDetectorUnavailable`; whether that fails
the call or is tolerated is the caller's decision. Nothing here logs text.
"""

from __future__ import annotations

from collections.abc import Sequence

import anyio

from gateway.errors import PiiDetectorUnavailable
from gateway.pii.findings import Finding, PiiDetector


async def scan_texts(
    detector: PiiDetector, texts: Sequence[str], *, timeout_s: float | None = None
) -> list[tuple[Finding, ...]]:
    """Findings for each text, in order, with spans clipped to their text.

    Raises `PiiDetectorUnavailable` (chained to the cause) when the detector fails, times out
    or answers for a different number of texts.
    """
    if not texts:
        return []
    try:
        with anyio.fail_after(timeout_s):
            results = await detector.find(list(texts))
    except PiiDetectorUnavailable:
        raise
    except Exception as exc:
        raise PiiDetectorUnavailable("PII detection is unavailable") from exc
    if len(results) != len(texts):
        raise PiiDetectorUnavailable("PII detection is unavailable")
    return [_clip(found, len(text)) for found, text in zip(results, texts, strict=True)]


def _clip(findings: tuple[Finding, ...], length: int) -> tuple[Finding, ...]:
    if all(0 <= f.start < f.end <= length for f in findings):
        return tuple(findings)
    clipped: list[Finding] = []
    for f in findings:
        start, end = max(f.start, 0), min(f.end, length)
        if start < end:
            clipped.append(Finding(f.entity_type, start, end, f.score))
    return tuple(clipped)

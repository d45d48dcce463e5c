from __future__ import annotations

import pytest

from gateway.errors import PiiDetectorUnavailable
from gateway.pii.findings import Finding
from gateway.pii.scan import scan_texts
from tests.unit.pii.fakes import FailingDetector, RegexDetector

pytestmark = pytest.mark.anyio


async def test_findings_are_returned_per_text_in_order():
    found = await scan_texts(RegexDetector(), ["mail a@b.io", "nothing", "Bob"])

    assert [[f.entity_type for f in group] for group in found] == [["EMAIL_ADDRESS"], [], ["PERSON"]]


async def test_spans_outside_the_text_are_clipped_or_dropped():
    class Sloppy(RegexDetector):
        async def find(self, texts, /):
            return [(Finding("A", -2, 3, 1.0), Finding("B", 4, 50, 1.0), Finding("C", 9, 12, 1.0))]

    (found,) = await scan_texts(Sloppy(), ["abcdefg"])

    assert [(f.entity_type, f.start, f.end) for f in found] == [("A", 0, 3), ("B", 4, 7)]


async def test_the_detectors_own_unavailable_error_passes_through():
    error = PiiDetectorUnavailable("PII detection took longer than 2s")

    with pytest.raises(PiiDetectorUnavailable) as caught:
        await scan_texts(FailingDetector(error), ["x"])

    assert caught.value is error


async def test_any_other_failure_becomes_unavailable_with_its_cause():
    with pytest.raises(PiiDetectorUnavailable) as caught:
        await scan_texts(FailingDetector(ValueError("bad")), ["x"])

    assert isinstance(caught.value.__cause__, ValueError)
    assert "bad" not in caught.value.message


async def test_no_texts_means_no_detector_call():
    detector = RegexDetector()

    assert await scan_texts(detector, []) == []
    assert detector.calls == 0

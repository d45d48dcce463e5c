"""Detection quality on the labelled corpus in tests/data (see tests/data/make_pii_corpus.py).

Runs the real detector (spaCy NER on) over every record once and holds the numbers the
gateway promises: at most 1% of gold PII characters leak overall and 2% in Chinese text,
and at least 90% of findings are real PII. `python -m gateway.pii.evaluation` prints the
full table, including the false positives and misses behind a failure.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.pii.analyzer import build_detector
from gateway.pii.evaluation import Report, evaluate, load_corpus
from gateway.pii.settings import PiiSettings

pytestmark = [pytest.mark.integration]

CORPUS = Path(__file__).parents[1] / "data" / "pii_corpus.jsonl"


@pytest.fixture(scope="module")
def report() -> Report:
    examples = load_corpus(CORPUS)
    detector = build_detector(PiiSettings(cache_size=0))
    return evaluate(examples, [detector.analyze(example.text) for example in examples])


def test_corpus_covers_english_chinese_mixed_and_negative_texts():
    examples = load_corpus(CORPUS)
    assert {example.lang for example in examples} == {"en", "zh", "mixed"}
    assert sum(1 for example in examples if not example.spans) >= 50
    assert 300 <= len(examples) <= 600


def test_at_most_one_percent_of_pii_characters_leak(report):
    assert report.leak_rate <= 0.01


def test_at_most_two_percent_of_pii_characters_leak_in_chinese_text(report):
    assert report.leak_rate_for("zh", "mixed") <= 0.02


def test_at_least_ninety_percent_of_findings_are_pii(report):
    assert report.precision >= 0.90
    assert report.typed_precision >= 0.90

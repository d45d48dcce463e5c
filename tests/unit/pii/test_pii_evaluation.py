from __future__ import annotations

import json

import pytest

from gateway.pii.evaluation import Example, GoldSpan, evaluate, format_report, load_corpus
from gateway.pii.findings import Finding


def example(text: str, *spans: tuple[int, int, str], lang: str = "en") -> Example:
    return Example(id=text[:8], text=text, spans=tuple(GoldSpan(*span) for span in spans), lang=lang)


def test_perfect_findings_have_full_precision_recall_and_no_leak():
    gold = example("Ada at ada@example.com", (0, 3, "PERSON"), (7, 22, "EMAIL_ADDRESS"))
    report = evaluate([gold], [[Finding("PERSON", 0, 3, 0.9), Finding("EMAIL_ADDRESS", 7, 22, 1.0)]])
    assert (report.precision, report.recall, report.leak_rate) == (1.0, 1.0, 0.0)


def test_leak_rate_counts_uncovered_gold_characters():
    gold = example("Grace Hopper", (0, 12, "PERSON"))
    report = evaluate([gold], [[Finding("PERSON", 0, 5, 0.9)]])
    assert report.leaked_chars == 7
    assert report.leak_rate == pytest.approx(7 / 12)


def test_leak_is_type_agnostic_but_per_type_precision_is_not():
    gold = example("4111111111111111", (0, 16, "CREDIT_CARD"))
    report = evaluate([gold], [[Finding("PHONE_NUMBER", 0, 16, 0.5)]])
    assert report.leak_rate == 0.0
    assert report.precision == 1.0
    assert report.per_type["PHONE_NUMBER"].precision == 0.0
    assert report.per_type["CREDIT_CARD"].recall == 0.0


def test_finding_on_a_negative_example_is_a_false_positive():
    report = evaluate([example("build 1.2.3")], [[Finding("IP_ADDRESS", 6, 11, 0.6)]])
    assert report.precision == 0.0
    assert [(fp.entity_type, fp.start) for fp in report.false_positives] == [("IP_ADDRESS", 6)]


def test_leak_rate_is_reported_per_language():
    english = example("Ada", (0, 3, "PERSON"))
    chinese = example("张伟", (0, 2, "PERSON"), lang="zh")
    report = evaluate([english, chinese], [[], [Finding("PERSON", 0, 2, 0.85)]])
    assert report.leak_rate_for("en") == 1.0
    assert report.leak_rate_for("zh") == 0.0


def test_predictions_must_match_examples_one_to_one():
    with pytest.raises(ValueError, match="one prediction list"):
        evaluate([example("x")], [])


def test_corpus_spans_outside_their_text_are_rejected(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps({"text": "abc", "spans": [{"start": 1, "end": 9, "entity_type": "PERSON"}]}) + "\n")
    with pytest.raises(ValueError, match="outside the text"):
        load_corpus(path)


def test_corpus_records_load_with_their_language_and_spans(tmp_path):
    path = tmp_path / "ok.jsonl"
    record = {"id": "r1", "lang": "zh", "text": "张伟", "spans": [{"start": 0, "end": 2, "entity_type": "PERSON"}]}
    path.write_text(json.dumps(record, ensure_ascii=False) + "\n\n")
    [loaded] = load_corpus(path)
    assert (loaded.id, loaded.lang, loaded.spans) == ("r1", "zh", (GoldSpan(0, 2, "PERSON"),))


def test_report_table_names_every_type_and_the_leak_rate():
    report = evaluate([example("Ada", (0, 3, "PERSON"))], [[Finding("PERSON", 0, 3, 0.9)]])
    table = format_report(report)
    assert "PERSON" in table
    assert "leak rate" in table

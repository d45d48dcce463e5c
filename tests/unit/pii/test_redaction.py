from __future__ import annotations

import itertools
import json
import re

from hypothesis import given
from hypothesis import strategies as st

from gateway.pii.findings import Finding
from gateway.pii.pseudonyms import Pseudonymizer
from gateway.pii.redaction import (
    AnswerRedactor,
    blocked_types,
    hash_token,
    normalize_actions,
    redact,
    resolve_overlaps,
    unknown_actions,
)
from tests.unit.pii.fakes import RegexDetector

KEY = b"k" * 32
TEXT = "Mail alice@example.com or call 555-123-4567, Alice Jones."
DETECTOR = RegexDetector()


def _findings(text: str = TEXT) -> tuple[Finding, ...]:
    return DETECTOR.find_sync(text)


def test_mask_replaces_values_with_the_entity_type():
    result = redact(TEXT, _findings(), {"EMAIL_ADDRESS": "mask", "PHONE_NUMBER": "mask", "PERSON": "mask"})

    assert result.text == "Mail <EMAIL_ADDRESS> or call <PHONE_NUMBER>, <PERSON>."
    assert sorted(result.applied) == [("EMAIL_ADDRESS", "mask"), ("PERSON", "mask"), ("PHONE_NUMBER", "mask")]


def test_entity_types_without_an_action_are_left_alone():
    result = redact(TEXT, _findings(), {"EMAIL_ADDRESS": "mask"})

    assert result.text == "Mail <EMAIL_ADDRESS> or call 555-123-4567, Alice Jones."


def test_pseudonymize_gives_stable_placeholders_that_restore():
    p = Pseudonymizer()
    text = "Alice Jones wrote to Bob; Bob answered Alice Jones."

    result = redact(text, _findings(text), {"PERSON": "pseudonymize"}, pseudonymizer=p)

    assert result.text == "<PERSON_1> wrote to <PERSON_2>; <PERSON_2> answered <PERSON_1>."
    assert p.restore(result.text) == text


def test_hash_is_keyed_and_correlates_equal_values():
    text = "alice@example.com, bob@example.com, alice@example.com"
    result = redact(text, _findings(text), {"EMAIL_ADDRESS": "hash"}, hash_key=KEY)
    tokens = result.text.split(", ")

    assert tokens[0] == tokens[2] != tokens[1]
    assert re.fullmatch(r"<EMAIL_ADDRESS:[0-9a-f]{12}>", tokens[0])
    assert hash_token("EMAIL_ADDRESS", "alice@example.com", b"other key") != tokens[0]
    assert "alice" not in result.text


def test_hash_without_a_key_masks_rather_than_leaking():
    result = redact(TEXT, _findings(), {"EMAIL_ADDRESS": "hash"}, hash_key=None)

    assert "<EMAIL_ADDRESS>" in result.text
    assert "alice" not in result.text


def test_block_is_reported_by_type_and_masks_if_redacted_anyway():
    actions = normalize_actions({"EMAIL_ADDRESS": "block", "PERSON": "block", "PHONE_NUMBER": "mask"})

    assert blocked_types([_findings(), ()], actions) == ("EMAIL_ADDRESS", "PERSON")
    assert "<EMAIL_ADDRESS>" in redact(TEXT, _findings(), actions).text


def test_unknown_actions_fail_closed_to_mask_and_allow_means_nothing():
    raw = {"EMAIL_ADDRESS": "shred", "PERSON": "allow", "PHONE_NUMBER": " Hash ", "CREDIT_CARD": "none"}

    assert normalize_actions(raw) == {"EMAIL_ADDRESS": "mask", "PHONE_NUMBER": "hash"}
    assert unknown_actions(raw) == {"EMAIL_ADDRESS": "shred"}
    assert normalize_actions({" email_address": "mask"}) == {"EMAIL_ADDRESS": "mask"}


def test_overlaps_keep_the_higher_score_then_the_longer_span():
    findings = [
        Finding("PERSON", 0, 10, 0.5),
        Finding("EMAIL_ADDRESS", 5, 20, 0.9),
        Finding("URL", 12, 30, 0.9),
        Finding("DOMAIN", 25, 28, 0.4),
        Finding("LOCATION", 30, 34, 0.3),
    ]

    kept = resolve_overlaps(findings)

    # URL beats the equally scored, shorter EMAIL_ADDRESS; PERSON then no longer overlaps anything kept.
    assert [f.entity_type for f in kept] == ["PERSON", "URL", "LOCATION"]
    equal_scores = resolve_overlaps([Finding("A", 0, 4, 0.8), Finding("B", 2, 9, 0.8)])
    assert [f.entity_type for f in equal_scores] == ["B"]


def test_findings_are_clipped_to_the_text():
    kept = resolve_overlaps([Finding("A", -3, 2, 1.0), Finding("B", 4, 99, 1.0), Finding("C", 5, 5, 1.0)], 6)

    assert [(f.start, f.end) for f in kept] == [(0, 2), (4, 6)]


def test_answer_redactor_masks_blocked_types_and_restores_request_pseudonyms():
    p = Pseudonymizer()
    p.placeholder_for("PERSON", "Alice Jones")
    redactor = AnswerRedactor({"PERSON": "pseudonymize", "EMAIL_ADDRESS": "block"}, p)
    answer = "Dear <PERSON_1>, Bob says hi from bob@example.com."

    out = redactor.apply(answer, _findings(answer))

    assert out == "Dear Alice Jones, <PERSON_2> says hi from <EMAIL_ADDRESS>."
    assert redactor.counts == {"PERSON": 1, "EMAIL_ADDRESS": 1}


def test_answer_redactor_ignores_findings_on_its_own_placeholders():
    p = Pseudonymizer()
    p.placeholder_for("PERSON", "Bob")
    redactor = AnswerRedactor({"PERSON": "mask"}, p)

    out = redactor.apply("Hi <PERSON_1>", [Finding("PERSON", 3, 13, 0.9)])

    assert out == "Hi Bob"
    assert redactor.counts == {}


_PLAIN = st.text(alphabet="abc xyz.,", max_size=12)
_VALUE = st.text(alphabet="0123456789#", min_size=1, max_size=8)
_TYPES = st.sampled_from(["EMAIL_ADDRESS", "PERSON", "PHONE_NUMBER"])


@st.composite
def _text_with_entities(draw):
    """A text of plain runs and digit runs; findings cover some digit runs (maybe overlapping)."""
    parts = draw(st.lists(st.tuples(_PLAIN, _VALUE, _TYPES), max_size=6))
    tail = draw(_PLAIN)
    text, findings, cursor = "", [], 0
    for plain, value, entity_type in parts:
        text += plain + value
        start = cursor + len(plain)
        findings.append(Finding(entity_type, start, start + len(value), draw(st.floats(0.1, 1.0))))
        cursor = len(text)
    text += tail
    extra = draw(st.lists(st.tuples(st.integers(0, len(text)), st.integers(0, 6), _TYPES), max_size=3))
    findings += [Finding(t, s, min(s + n, len(text)), 0.05) for s, n, t in extra]
    return text, findings


@given(_text_with_entities())
def test_text_outside_findings_is_unchanged_and_masked_values_are_gone(case):
    text, findings = case
    actions = {"EMAIL_ADDRESS": "mask", "PERSON": "mask", "PHONE_NUMBER": "mask"}

    result = redact(text, findings, actions)
    kept = resolve_overlaps(findings, len(text))

    outside = "".join(text[a:b] for a, b in _gaps(kept, len(text)))
    assert re.sub(r"<[A-Z_]+>", "", result.text) == outside
    for f in kept:
        if set(text[f.start : f.end]) <= set("0123456789#"):
            assert text[f.start : f.end] not in re.sub(r"<[A-Z_]+>", " ", result.text)


@given(_text_with_entities())
def test_pseudonymize_then_restore_gives_back_the_original(case):
    text, findings = case
    p = Pseudonymizer()

    result = redact(
        text, findings, dict.fromkeys(("EMAIL_ADDRESS", "PERSON", "PHONE_NUMBER"), "pseudonymize"), pseudonymizer=p
    )

    assert p.restore(result.text) == text


@given(st.lists(st.tuples(st.integers(-5, 40), st.integers(0, 15), st.floats(0, 1)), max_size=12))
def test_resolved_findings_never_overlap_and_every_dropped_one_lost_to_a_stronger_one(raw):
    findings = [Finding(f"T{i}", s, s + n, score) for i, (s, n, score) in enumerate(raw)]

    kept = resolve_overlaps(findings, 30)

    assert all(a.end <= b.start for a, b in itertools.pairwise(kept))
    assert all(0 <= f.start < f.end <= 30 for f in kept)
    for f in findings:
        start, end = max(f.start, 0), min(f.end, 30)
        if start >= end or any(k.entity_type == f.entity_type for k in kept):
            continue
        rivals = [k for k in kept if k.start < end and start < k.end]
        assert rivals
        assert any((k.score, k.end - k.start) >= (f.score, end - start) for k in rivals)


def _gaps(kept, length):
    cursor = 0
    for f in kept:
        yield cursor, f.start
        cursor = f.end
    yield cursor, length


def test_redacting_json_arguments_keeps_them_valid_json():
    arguments = '{"to": "Alice Jones", "note": "call\\n555-123-4567\\\\"}'
    findings = [
        Finding("PERSON", arguments.index('"Alice'), arguments.index('Jones"') + 6, 0.9),
        Finding("PHONE_NUMBER", arguments.index("n555"), arguments.index("4567") + 5, 0.9),
    ]

    result = redact(arguments, findings, {"PERSON": "mask", "PHONE_NUMBER": "mask"}, kind="json")

    assert json.loads(result.text) == {"to": "<PERSON>", "note": "call<PHONE_NUMBER>\\"}

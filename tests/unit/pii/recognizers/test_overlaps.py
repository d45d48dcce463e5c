from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from gateway.pii.findings import Finding
from gateway.pii.recognizers.overlaps import merge_same_type, resolve_overlaps

findings = st.builds(
    lambda kind, start, length, score: Finding(kind, start, start + length, score),
    st.sampled_from(["PERSON", "EMAIL_ADDRESS", "PHONE_NUMBER"]),
    st.integers(0, 60),
    st.integers(0, 20),
    st.floats(0.0, 1.0),
)


@given(st.lists(findings, max_size=12))
def test_resolved_findings_never_overlap(items):
    resolved = resolve_overlaps(items)
    for left, right in itertools.pairwise(resolved):
        assert left.end <= right.start


@given(st.lists(findings, max_size=12))
def test_resolving_keeps_every_covered_character_covered(items):
    before = {i for f in items for i in range(f.start, f.end)}
    after = {i for f in resolve_overlaps(items) for i in range(f.start, f.end)}
    assert before == after


def test_higher_score_wins_an_overlap_and_the_loser_keeps_its_uncovered_part():
    resolved = resolve_overlaps([Finding("PERSON", 0, 10, 0.6), Finding("EMAIL_ADDRESS", 5, 20, 1.0)])
    assert resolved == (Finding("PERSON", 0, 5, 0.6), Finding("EMAIL_ADDRESS", 5, 20, 1.0))


def test_equal_scores_prefer_the_longer_span():
    resolved = resolve_overlaps([Finding("LOCATION", 4, 9, 0.85), Finding("ADDRESS", 0, 30, 0.85)])
    assert resolved == (Finding("ADDRESS", 0, 30, 0.85),)


def test_overlapping_findings_of_one_type_merge_into_their_union_with_the_best_score():
    assert merge_same_type([Finding("PERSON", 0, 8, 0.6), Finding("PERSON", 4, 12, 0.85)]) == [
        Finding("PERSON", 0, 12, 0.85)
    ]


def test_empty_spans_are_dropped():
    assert resolve_overlaps([Finding("PERSON", 3, 3, 1.0)]) == ()


def test_preferred_types_win_an_overlap_whatever_their_score():
    token = Finding("API_KEY", 8, 48, 0.95)
    email = Finding("EMAIL_ADDRESS", 8, 59, 1.0)
    assert resolve_overlaps([token, email], prefer=frozenset({"API_KEY"})) == (
        token,
        Finding("EMAIL_ADDRESS", 48, 59, 1.0),
    )

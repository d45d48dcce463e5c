from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from gateway.pii.recognizers.ner_spans import capitalise_words, ner_findings

WANTED = frozenset({"PERSON", "LOCATION"})


def spans(text: str, label: str, value: str, *, normalised: bool = False) -> list[tuple[str, str]]:
    start = text.index(value)
    found = ner_findings(
        text, [(label, start, start + len(value))], wanted=WANTED, cased=capitalise_words(text) if normalised else None
    )
    return [(f.entity_type, text[f.start : f.end]) for f in found]


@given(st.text())
def test_capitalised_copy_has_the_same_length(text):
    assert len(capitalise_words(text)) == len(text)


def test_capitalised_copy_keeps_function_words_lower_case():
    assert capitalise_words("please ask john smith to call") == "please Ask John Smith to Call"
    assert capitalise_words("TELL MARIA GARCIA THE NEWS") == "Tell Maria Garcia the News"


def test_person_span_is_trimmed_of_greetings_and_line_breaks():
    assert spans("Tell Ahmed Al-Farsi", "PERSON", "Tell Ahmed Al-Farsi") == [("PERSON", "Ahmed Al-Farsi")]
    assert spans("Customer: Ada Cibin\nEmail: x", "PERSON", "Cibin\nEmail") == [("PERSON", "Cibin")]


def test_field_names_identifiers_and_lower_case_words_are_not_people():
    assert spans("Email: ada@example.com", "PERSON", "Email") == []
    assert spans("the order_id field", "PERSON", "order_id") == []
    assert spans("TODO fix this", "PERSON", "TODO") == []
    assert spans("Invalid card number", "PERSON", "Invalid card") == []


def test_name_shaped_organisation_is_reported_as_a_person():
    assert spans("escalated to Helena Hidalgo (tier 2)", "ORG", "Helena Hidalgo") == [("PERSON", "Helena Hidalgo")]
    assert spans("deployed on Google Cloud", "ORG", "Google Cloud") == []


def test_software_names_are_not_places():
    assert spans("Python 3.11 on Ubuntu", "GPE", "Python") == []
    assert spans("I live in Texas", "GPE", "Texas") == [("LOCATION", "Texas")]


def test_single_words_from_a_capitalised_copy_are_not_trusted_as_names():
    assert spans("ask safari", "PERSON", "safari", normalised=True) == []
    assert spans("ask john smith", "PERSON", "john smith", normalised=True) == [("PERSON", "john smith")]

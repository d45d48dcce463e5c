from __future__ import annotations

import json

from gateway.pii.pseudonyms import Pseudonymizer, entity_label, mask_token, plain_value


def test_same_value_gets_the_same_placeholder_and_others_count_up_per_type():
    p = Pseudonymizer()

    first = p.placeholder_for("PERSON", "Alice Jones")
    second = p.placeholder_for("PERSON", "Bob")
    again = p.placeholder_for("PERSON", "Alice Jones")
    email = p.placeholder_for("EMAIL_ADDRESS", "a@b.co")

    assert (first, second, again, email) == ("<PERSON_1>", "<PERSON_2>", "<PERSON_1>", "<EMAIL_ADDRESS_1>")
    assert p.count == 3


def test_restore_replaces_only_this_requests_restorable_placeholders():
    p = Pseudonymizer()
    p.placeholder_for("PERSON", "Alice Jones")
    p.placeholder_for("PERSON", "Eve", restorable=False)

    restored = p.restore("<PERSON_1> met <PERSON_2> and <PERSON_9> at <EMAIL_ADDRESS_1>.")

    assert restored == "Alice Jones met <PERSON_2> and <PERSON_9> at <EMAIL_ADDRESS_1>."
    assert p.is_restorable("<PERSON_1>")
    assert not p.is_restorable("<PERSON_2>")


def test_restore_into_json_escapes_the_value():
    p = Pseudonymizer()
    p.placeholder_for("LOCATION", 'Main St "Unit 4"\nSpringfield')

    arguments = p.restore('{"address": "<LOCATION_1>"}', kind="json")

    assert json.loads(arguments) == {"address": 'Main St "Unit 4"\nSpringfield'}


def test_placeholders_typed_by_the_caller_are_never_handed_out():
    p = Pseudonymizer()
    p.reserve(["please keep <PERSON_1> literally", "nothing here"])

    assert p.placeholder_for("PERSON", "Bob") == "<PERSON_2>"
    assert p.restore("<PERSON_1> and <PERSON_2>") == "<PERSON_1> and Bob"


def test_repr_shows_no_values():
    p = Pseudonymizer()
    p.placeholder_for("PERSON", "Alice Jones")

    assert "Alice" not in repr(p)
    assert "1" in repr(p)


def test_placeholder_spans_find_only_known_placeholders():
    p = Pseudonymizer()
    p.placeholder_for("PERSON", "Bob")
    text = "x <PERSON_1> y <PERSON_7>"

    assert p.placeholder_spans(text) == [(2, 12)]


def test_entity_labels_are_token_safe():
    assert entity_label("EMAIL_ADDRESS") == "EMAIL_ADDRESS"
    assert entity_label("zh-phone") == "ZH_PHONE"
    assert entity_label("1PASSWORD") == "PII_1PASSWORD"
    assert mask_token("credit card") == "<CREDIT_CARD>"


def test_plain_value_unescapes_values_cut_from_json():
    assert plain_value(r"Jo \"JJ\" Smith", "json") == 'Jo "JJ" Smith'
    assert plain_value(r"Jo \"JJ\" Smith", "text") == r"Jo \"JJ\" Smith"
    assert plain_value("broken \\", "json") == "broken \\"

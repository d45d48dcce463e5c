from __future__ import annotations

import pytest

from gateway.policy.decision import (
    INPUT_SCHEMA,
    UNDEFINED,
    BackendCandidate,
    PolicyInput,
    Reason,
    parse_decision,
)

ALLOWED = {
    "allow": True,
    "reasons": [],
    "redact": ["EMAIL_ADDRESS"],
    "pii_action": {"EMAIL_ADDRESS": "pseudonymize"},
    "backends": ["a", "b"],
    "max_tokens": 4096,
    "store_content": "none",
}


def test_valid_decision_is_read_field_by_field():
    decision = parse_decision(ALLOWED)
    assert decision.allow is True
    assert decision.redact == ("EMAIL_ADDRESS",)
    assert decision.pii_action == {"EMAIL_ADDRESS": "pseudonymize"}
    assert decision.backends == ("a", "b")
    assert decision.max_tokens == 4096
    assert decision.store_content == "none"


def test_decision_round_trips_through_its_json_form():
    assert parse_decision(parse_decision(ALLOWED).to_json()) == parse_decision(ALLOWED)


def test_undefined_decision_is_a_denial_that_says_so():
    decision = parse_decision(UNDEFINED)
    assert decision.allow is False
    assert decision.reason_codes == ("policy.decision_undefined",)


@pytest.mark.parametrize(
    ("document", "mentions"),
    [
        (None, "expected an object"),
        ([], "expected an object"),
        ({"backends": []}, "`allow` must be a boolean"),
        ({"allow": "yes", "backends": []}, "`allow` must be a boolean"),
        ({"allow": True}, "`backends` is missing"),
        ({"allow": True, "backends": "a"}, "`backends` must be an array of strings"),
        ({"allow": True, "backends": [], "reasons": {}}, "`reasons` must be an array"),
        ({"allow": False, "backends": [], "reasons": [{"message": "x"}]}, "`reasons[0]`"),
        ({"allow": False, "backends": [], "reasons": ["Not A Code"]}, "dotted lower-case reason code"),
        ({"allow": True, "backends": [], "redact": [1]}, "`redact` must be an array of strings"),
        ({"allow": True, "backends": [], "pii_action": {"PERSON": "shred"}}, "`pii_action.PERSON`"),
        ({"allow": True, "backends": [], "pii_action": []}, "`pii_action` must be an object"),
        ({"allow": True, "backends": [], "max_tokens": 0}, "`max_tokens` must be a positive integer"),
        ({"allow": True, "backends": [], "max_tokens": 1.5}, "`max_tokens` must be a positive integer"),
        ({"allow": True, "backends": [], "max_tokens": True}, "`max_tokens` must be a positive integer"),
        ({"allow": True, "backends": [], "store_content": "all"}, "`store_content` must be one of"),
    ],
)
def test_malformed_decision_is_a_denial_naming_the_field(document, mentions):
    decision = parse_decision(document)
    assert decision.allow is False
    assert decision.reason_codes == ("policy.decision_malformed",)
    assert mentions in decision.reasons[0].message


def test_malformed_reason_message_never_echoes_the_offending_value():
    decision = parse_decision({"allow": True, "backends": [], "pii_action": {"PERSON": "alice@example.com"}})
    assert "alice@example.com" not in decision.reasons[0].message


def test_code_only_reasons_are_accepted():
    decision = parse_decision({"allow": False, "backends": [], "reasons": ["policy.custom.rule"]})
    assert decision.reasons == (Reason("policy.custom.rule", "policy.custom.rule"),)


def test_denial_without_reasons_gets_a_generic_reason():
    decision = parse_decision({"allow": False, "backends": []})
    assert decision.reason_codes == ("policy.denied",)


def test_integral_float_max_tokens_from_a_float_engine_is_accepted():
    assert parse_decision({"allow": True, "backends": [], "max_tokens": 4096.0}).max_tokens == 4096


def test_optional_fields_default_to_no_obligation():
    decision = parse_decision({"allow": True, "backends": ["a"]})
    assert (decision.redact, dict(decision.pii_action), decision.max_tokens) == ((), {}, None)
    assert decision.store_content == "redacted"


def test_policy_input_uses_the_documented_v1_layout():
    policy_input = PolicyInput(
        request_id="r1",
        endpoint="chat",
        model="meta-llama/Llama-3.1-8B-Instruct",
        requested_model="llama-3.1-8b",
        stream=True,
        max_tokens=256,
        estimated_tokens=42,
        key_id="key_1",
        tenant="acme",
        roles=("auditor", "app"),
        attributes={"commercial": True},
        pii_request={"PERSON": 2},
        backends=(BackendCandidate("gpu-1", {"location": "on-prem"}),),
    )
    assert policy_input.to_json() == {
        "schema": INPUT_SCHEMA,
        "request": {
            "id": "r1",
            "endpoint": "chat",
            "model": "meta-llama/Llama-3.1-8B-Instruct",
            "requested_model": "llama-3.1-8b",
            "stream": True,
            "max_tokens": 256,
            "estimated_tokens": 42,
        },
        "principal": {
            "key_id": "key_1",
            "tenant": "acme",
            "roles": ["app", "auditor"],
            "attributes": {"commercial": True},
        },
        "pii": {"request": {"PERSON": 2}},
        "backends": [{"name": "gpu-1", "tags": {"location": "on-prem"}}],
        "model": {"id": "meta-llama/Llama-3.1-8B-Instruct"},
    }

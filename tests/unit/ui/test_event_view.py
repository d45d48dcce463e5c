"""Stored events made readable for the event pages."""

from __future__ import annotations

from gateway.ui.event_view import (
    applied_actions,
    content_view,
    decision_label,
    latency_steps,
    pair_call,
    pii_label,
    tokens_label,
)


def test_chat_messages_are_shown_as_role_and_text():
    view = content_view(
        {
            "content": {
                "request": {
                    "model": "m",
                    "messages": [
                        {"role": "system", "content": "Be brief"},
                        {
                            "role": "user",
                            "content": [{"type": "text", "text": "Hi"}, {"type": "text", "text": "there"}],
                        },
                    ],
                }
            }
        }
    )
    assert view.kind == "request"
    assert [(m.role, m.text) for m in view.messages] == [("system", "Be brief"), ("user", "Hi\nthere")]
    assert '"model": "m"' in view.raw_json


def test_tool_calls_and_non_text_parts_are_kept_as_json():
    message = {"role": "assistant", "content": None, "tool_calls": [{"id": "c1"}]}
    image = {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}
    view = content_view({"content": {"request": {"messages": [message, image]}}})
    assert '"tool_calls"' in view.messages[0].text
    assert '"image_url"' in view.messages[1].text


def test_completion_prompts_and_embedding_inputs_are_shown():
    prompts = content_view({"content": {"request": {"prompt": ["one", "two"]}}})
    assert [(m.role, m.text) for m in prompts.messages] == [("prompt", "one"), ("prompt", "two")]
    inputs = content_view({"content": {"request": {"input": "embed me"}}})
    assert [(m.role, m.text) for m in inputs.messages] == [("input", "embed me")]


def test_an_answer_is_shown_as_text():
    view = content_view({"content": {"answer": "<b>not bold</b>"}})
    assert view.kind == "answer"
    assert view.answer == "<b>not bold</b>"


def test_missing_and_purged_content_are_told_apart():
    assert content_view({"content": None, "content_purged": False}).kind == "none"
    assert content_view({"content": None, "content_purged": True}).kind == "purged"
    assert content_view({"content": {"something": 1}}).kind == "other"


def test_a_call_pairs_its_request_with_its_outcome():
    request = {"event_type": "request", "event_id": "1"}
    response = {"event_type": "response", "event_id": "2"}
    call = pair_call([request, response])
    assert call.request is request
    assert call.outcome is response
    assert call.others == ()
    denied = pair_call([{"event_type": "denied"}])
    assert denied.request is None
    assert denied.outcome == {"event_type": "denied"}


def test_labels_for_the_events_table():
    event = {
        "event_type": "response",
        "decision": "allow",
        "pii_request": {"EMAIL_ADDRESS": 2},
        "pii_response": {"PERSON": 1},
        "prompt_tokens": 12,
        "completion_tokens": 30,
        "tokens_estimated": True,
    }
    assert pii_label(event) == "prompt: EMAIL_ADDRESS: 2; answer: PERSON: 1"
    assert tokens_label(event) == "~12 + 30"
    assert decision_label(event) == "allowed"
    assert decision_label({"event_type": "error", "decision": "allow"}) == "failed"
    assert decision_label({"event_type": "denied", "decision": "deny"}) == "denied"
    assert tokens_label({}) == ""


def test_latency_steps_follow_the_pipeline_with_total_last():
    steps = latency_steps({"total": 9.0, "upstream": 5.0, "custom": 1.0, "auth": 0.1, "policy": 1.0})
    assert [name for name, _ in steps] == ["auth", "policy", "upstream", "custom", "total"]


def test_only_actions_for_found_types_count_as_applied():
    event = {"pii_actions": {"EMAIL_ADDRESS": "mask", "PERSON": "pseudonymize"}, "pii_request": {"EMAIL_ADDRESS": 1}}
    assert applied_actions(event) == [("EMAIL_ADDRESS", "mask")]

package gateway_test

import data.gateway

_input(overrides) := object.union(
	{
		"request": {"id": "r1", "endpoint": "chat", "model": "demo-chat", "stream": false, "max_tokens": null, "estimated_tokens": 10},
		"principal": {"key_id": "key_t", "tenant": "acme", "roles": ["app"], "attributes": {"commercial": true, "monthly_active_users": 5000, "region": "cn-east", "use_case": "support"}},
		"pii": {"request": {}},
		"backends": [{"name": "demo-upstream", "tags": {"location": "on-prem", "accelerator": "cpu", "region": "local"}}],
		"model": {"id": "demo-chat"},
	},
	overrides,
)

test_demo_setup_is_allowed if {
	decision := gateway.decision with input as _input({})
	decision.allow == true
	decision.reasons == []
	decision.backends == ["demo-upstream"]
	decision.max_tokens == 4096
	decision.store_content == "redacted"
}

test_decision_has_every_field_of_the_contract if {
	decision := gateway.decision with input as _input({})
	object.keys(decision) == {"allow", "reasons", "redact", "pii_action", "backends", "max_tokens", "store_content"}
}

test_denials_of_all_packages_are_collected_in_order if {
	doc := _input({
		"principal": {"key_id": "key_t", "tenant": "acme", "roles": ["auditor"], "attributes": {"commercial": true, "monthly_active_users": 800000000}},
		"request": {"id": "r1", "endpoint": "chat", "model": "llama-3.1-8b", "stream": false, "max_tokens": null, "estimated_tokens": 10},
		"model": {"id": "llama-3.1-8b"},
		"pii": {"request": {"API_KEY": 1}},
	})
	decision := gateway.decision with input as doc
	decision.allow == false
	[reason.code | some reason in decision.reasons] == [
		"policy.caps.endpoint_not_allowed",
		"policy.data.secret_detected",
		"policy.license.mau_exceeded",
	]
}

test_redaction_obligations_are_sorted if {
	doc := _input({
		"pii": {"request": {"PERSON": 1, "EMAIL_ADDRESS": 1}},
		"backends": [{"name": "cloud", "tags": {"location": "external"}}],
	})
	decision := gateway.decision with input as doc
	decision.allow == true
	decision.redact == ["EMAIL_ADDRESS", "PERSON"]
}

test_empty_input_is_denied_not_an_error if {
	decision := gateway.decision with input as {}
	decision.allow == false
}

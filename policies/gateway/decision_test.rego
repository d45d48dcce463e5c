package gateway_test

# The rule, not the package: `gateway.decision` through `import data.gateway` makes regorus
# evaluate every package under data.gateway, tests included, before it reads the decision.
import data.gateway.decision

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
	result := decision with input as _input({})
	result.allow == true
	result.reasons == []
	result.backends == ["demo-upstream"]
	result.max_tokens == 4096
	result.store_content == "redacted"
}

test_decision_has_every_field_of_the_contract if {
	result := decision with input as _input({})
	object.keys(result) == {"allow", "reasons", "redact", "pii_action", "backends", "max_tokens", "store_content"}
}

test_denials_of_all_packages_are_collected_in_order if {
	doc := _input({
		"principal": {"key_id": "key_t", "tenant": "acme", "roles": ["auditor"], "attributes": {"commercial": true, "monthly_active_users": 800000000}},
		"request": {"id": "r1", "endpoint": "chat", "model": "llama-3.1-8b", "stream": false, "max_tokens": null, "estimated_tokens": 10},
		"model": {"id": "llama-3.1-8b"},
		"pii": {"request": {"API_KEY": 1}},
	})
	result := decision with input as doc
	result.allow == false
	[reason.code | some reason in result.reasons] == [
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
	result := decision with input as doc
	result.allow == true
	result.redact == ["EMAIL_ADDRESS", "PERSON"]
}

test_empty_input_is_denied_not_an_error if {
	result := decision with input as {}
	result.allow == false
}

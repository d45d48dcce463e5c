package gateway.caps_test

import data.gateway.caps

_input(tenant, roles, endpoint, attributes, estimated) := {
	"request": {"id": "r1", "endpoint": endpoint, "model": "demo-chat", "stream": false, "max_tokens": null, "estimated_tokens": estimated},
	"principal": {"key_id": "key_t", "tenant": tenant, "roles": roles, "attributes": attributes},
	"pii": {"request": {}},
	"backends": [{"name": "onprem", "tags": {"location": "on-prem"}}],
	"model": {"id": "demo-chat"},
}

_codes(doc) := codes if {
	denials := caps.deny with input as doc
	codes := {reason.code | some reason in denials}
}

test_max_tokens_comes_from_the_tenant_tier if {
	caps.max_tokens == 16384 with input as _input("acme-bank", ["app"], "chat", {}, 10)
	caps.max_tokens == 1024 with input as _input("initech-research", ["app"], "chat", {}, 10)
}

test_unknown_tenant_gets_the_default_tier if {
	caps.max_tokens == 4096 with input as _input("nobody", ["app"], "chat", {}, 10)
}

test_tier_attribute_of_the_key_overrides_the_tenant_tier if {
	caps.max_tokens == 1024 with input as _input("acme-bank", ["app"], "chat", {"tier": "free"}, 10)
}

test_unknown_tier_sets_no_cap if {
	caps.max_tokens == null with input as _input("acme", ["app"], "chat", {"tier": "platinum"}, 10)
}

test_app_role_may_call_every_model_endpoint if {
	every endpoint in ["chat", "completion", "embedding"] {
		count(_codes(_input("acme", ["app"], endpoint, {}, 10))) == 0
	}
}

test_auditor_role_may_not_call_models if {
	_codes(_input("acme", ["auditor"], "chat", {}, 10)) == {"policy.caps.endpoint_not_allowed"}
}

test_auditor_who_is_also_an_app_may_call_models if {
	count(_codes(_input("acme", ["app", "auditor"], "chat", {}, 10))) == 0
}

test_prompt_above_the_tier_limit_is_refused if {
	_codes(_input("initech-research", ["app"], "chat", {}, 8193)) == {"policy.caps.prompt_too_large"}
	count(_codes(_input("initech-research", ["app"], "chat", {}, 8192))) == 0
}

test_prompt_reason_states_size_limit_and_tier if {
	denials := caps.deny with input as _input("initech-research", ["app"], "chat", {}, 9000)
	some reason in denials
	reason.message == "the prompt (about 9000 tokens) exceeds the 8192-token limit of tier `free`"
}

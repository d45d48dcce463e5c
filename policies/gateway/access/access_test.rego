package gateway.access_test

import data.gateway.access
import data.gateway.lib.catalog

_input(tenant, roles, model) := {
	"request": {"id": "r1", "endpoint": "chat", "model": model, "stream": false, "max_tokens": null, "estimated_tokens": 10},
	"principal": {"key_id": "key_t", "tenant": tenant, "roles": roles, "attributes": {}},
	"pii": {"request": {}},
	"backends": [{"name": "onprem", "tags": {"location": "on-prem"}}],
	"model": {"id": model},
}

_codes(tenant, roles, model) := codes if {
	denials := access.deny with input as _input(tenant, roles, model)
	codes := {reason.code | some reason in denials}
}

_tenants := {
	"default": {"models": {"allow": ["*"]}},
	"narrow": {"models": {"allow": ["meta-llama/*", "qwen2.5-7b"], "deny": ["meta-llama/Llama-2-7b-chat-hf"]}},
	"by-role": {
		"models": {"allow": ["*"]},
		"roles": {"app": {"models": {"allow": ["demo-chat"], "deny": []}}, "admin": {"models": {"allow": ["*"], "deny": ["tiiuae/*"]}}},
	},
}

test_default_tenant_may_use_any_model if {
	count(_codes("someone", ["app"], "demo-chat")) == 0 with data.data.tenants as _tenants
}

test_model_on_the_tenant_allow_list_by_organisation_is_allowed if {
	count(_codes("narrow", ["app"], "meta-llama/Llama-3.1-8B-Instruct")) == 0 with data.data.tenants as _tenants
}

test_allow_list_entries_may_be_aliases if {
	count(_codes("narrow", ["app"], "Qwen/Qwen2.5-7B-Instruct")) == 0 with data.data.tenants as _tenants
}

test_requested_alias_is_resolved_before_matching if {
	count(_codes("narrow", ["app"], "llama-3.1-8b")) == 0 with data.data.tenants as _tenants
}

test_model_missing_from_the_allow_list_is_refused if {
	codes := _codes("narrow", ["app"], "google/gemma-2-9b-it") with data.data.tenants as _tenants
	codes == {"policy.model.not_allowed_for_tenant"}
}

test_deny_list_beats_the_allow_list if {
	codes := _codes("narrow", ["app"], "meta-llama/Llama-2-7b-chat-hf") with data.data.tenants as _tenants
	codes == {"policy.model.denied_for_tenant"}
}

test_role_allow_list_restricts_the_role if {
	codes := _codes("by-role", ["app"], "google/gemma-2-9b-it") with data.data.tenants as _tenants
	codes == {"policy.model.not_allowed_for_role"}
	count(_codes("by-role", ["app"], "demo-chat")) == 0 with data.data.tenants as _tenants
}

test_any_role_of_the_caller_may_grant_the_model if {
	count(_codes("by-role", ["admin", "app"], "google/gemma-2-9b-it")) == 0 with data.data.tenants as _tenants
}

test_role_deny_list_refuses_even_when_another_role_allows if {
	codes := _codes("by-role", ["admin", "app"], "tiiuae/falcon-180B-chat") with data.data.tenants as _tenants
	"policy.model.denied_for_role" in codes
}

test_shipped_bank_tenant_refuses_non_commercial_cohere_models if {
	"policy.model.denied_for_tenant" in _codes("acme-bank", ["admin"], "CohereForAI/c4ai-command-r-v01")
}

test_shipped_bank_tenant_limits_apps_to_listed_models if {
	"policy.model.not_allowed_for_role" in _codes("acme-bank", ["app"], "google/gemma-2-9b-it")
	count(_codes("acme-bank", ["app"], "meta-llama/Llama-3.1-8B-Instruct")) == 0
}

test_reason_names_model_and_tenant if {
	denials := access.deny with input as _input("narrow", ["app"], "google/gemma-2-9b-it") with data.data.tenants as _tenants
	some reason in denials
	reason.message == "model `google/gemma-2-9b-it` is not on the allow list of tenant `narrow`"
}

test_list_entries_name_models_as_catalog_model_matches_does if {
	entries := ["*", "meta-llama/*", "meta-llama", "llama-3.1-8b", "meta-llama/Llama-3.1-8B-Instruct", "Qwen/*", "qwen2.5-7b", "demo-chat", "unknown/model", "*/*"]
	models := ["meta-llama/Llama-3.1-8B-Instruct", "llama-3.1-8b", "Qwen/Qwen2.5-7B-Instruct", "demo-chat", "unknown/model"]
	every entry in entries {
		every model in models {
			matches := {true | catalog.model_matches(entry, catalog.model_id(model))} != set()
			allow_codes := _codes("t", ["app"], model) with data.data.tenants as {"t": {"models": {"allow": [entry]}}}
			("policy.model.not_allowed_for_tenant" in allow_codes) == (matches == false)
			deny_codes := _codes("t", ["app"], model) with data.data.tenants as {"t": {"models": {"deny": [entry]}}}
			("policy.model.denied_for_tenant" in deny_codes) == matches
		}
	}
}

package gateway.license_test

import data.gateway.license

_input(model, attributes) := {
	"request": {"id": "r1", "endpoint": "chat", "model": model, "stream": false, "max_tokens": null, "estimated_tokens": 10},
	"principal": {"key_id": "key_t", "tenant": "acme", "roles": ["app"], "attributes": attributes},
	"pii": {"request": {}},
	"backends": [{"name": "onprem", "tags": {"location": "on-prem"}}],
	"model": {"id": model},
}

_commercial := {"commercial": true, "monthly_active_users": 5000, "region": "US", "use_case": "support"}

_codes(model, attributes) := codes if {
	denials := license.deny with input as _input(model, attributes)
	codes := {reason.code | some reason in denials}
}

_message(model, attributes, code) := reason.message if {
	denials := license.deny with input as _input(model, attributes)
	some reason in denials
	reason.code == code
}

test_llama_3_1_below_the_user_threshold_is_allowed if {
	count(_codes("meta-llama/Llama-3.1-8B-Instruct", _commercial)) == 0
}

test_llama_3_1_above_700_million_users_is_refused if {
	attributes := object.union(_commercial, {"monthly_active_users": 700000001})
	"policy.license.mau_exceeded" in _codes("meta-llama/Llama-3.1-8B-Instruct", attributes)
}

test_exactly_700_million_users_is_still_allowed if {
	attributes := object.union(_commercial, {"monthly_active_users": 700000000})
	not "policy.license.mau_exceeded" in _codes("meta-llama/Llama-3.1-8B-Instruct", attributes)
}

test_mau_reason_names_the_license_and_the_clause if {
	attributes := object.union(_commercial, {"monthly_active_users": 900000000})
	message := _message("llama-3.1-8b", attributes, "policy.license.mau_exceeded")
	contains(message, "Llama 3.1 Community License Agreement")
	contains(message, "section 2 (Additional Commercial Terms)")
	contains(message, "900000000")
}

test_every_llama_generation_enforces_the_user_threshold if {
	attributes := object.union(_commercial, {"monthly_active_users": 800000000})
	every model in [
		"meta-llama/Llama-2-7b-chat-hf",
		"meta-llama/Meta-Llama-3-8B-Instruct",
		"meta-llama/Llama-3.1-70B-Instruct",
		"meta-llama/Llama-3.2-3B-Instruct",
	] {
		"policy.license.mau_exceeded" in _codes(model, attributes)
	}
}

test_qwen_license_threshold_is_100_million_users if {
	attributes := object.union(_commercial, {"monthly_active_users": 100000001})
	"policy.license.mau_exceeded" in _codes("Qwen/Qwen2.5-72B-Instruct", attributes)
	not "policy.license.mau_exceeded" in _codes("Qwen/Qwen2.5-7B-Instruct", attributes)
}

test_llama_3_2_vision_is_refused_to_an_eu_tenant if {
	attributes := object.union(_commercial, {"region": "DE"})
	"policy.license.region_restricted" in _codes("meta-llama/Llama-3.2-11B-Vision-Instruct", attributes)
}

test_llama_3_2_vision_is_refused_in_an_eu_cloud_region if {
	attributes := object.union(_commercial, {"region": "eu-west"})
	"policy.license.region_restricted" in _codes("llama-3.2-11b-vision", attributes)
}

test_llama_3_2_text_models_are_not_restricted_in_the_eu if {
	attributes := object.union(_commercial, {"region": "FR"})
	count(_codes("meta-llama/Llama-3.2-3B-Instruct", attributes)) == 0
}

test_llama_3_2_vision_is_allowed_outside_the_eu if {
	count(_codes("meta-llama/Llama-3.2-11B-Vision-Instruct", _commercial)) == 0
}

test_eu_reason_names_the_acceptable_use_policy if {
	attributes := object.union(_commercial, {"region": "IT"})
	message := _message("meta-llama/Llama-3.2-90B-Vision-Instruct", attributes, "policy.license.region_restricted")
	contains(message, "Llama 3.2 Community License Agreement")
	contains(message, "Acceptable Use Policy")
	contains(message, "European Union")
}

test_cc_by_nc_model_is_refused_to_a_commercial_tenant if {
	"policy.license.non_commercial" in _codes("CohereForAI/c4ai-command-r-v01", _commercial)
}

test_tenant_without_a_commercial_attribute_counts_as_commercial if {
	"policy.license.non_commercial" in _codes("command-r", {"use_case": "support"})
}

test_cc_by_nc_model_is_allowed_for_non_commercial_use if {
	attributes := object.union(_commercial, {"commercial": false})
	count(_codes("CohereForAI/c4ai-command-r-v01", attributes)) == 0
}

test_non_commercial_reason_names_the_license_and_clause if {
	message := _message("command-r", _commercial, "policy.license.non_commercial")
	contains(message, "Creative Commons Attribution-NonCommercial 4.0 International")
	contains(message, "section 2(a)(1)")
}

test_qwen_research_license_is_non_commercial if {
	"policy.license.non_commercial" in _codes("Qwen/Qwen2.5-3B-Instruct", _commercial)
}

test_mistral_research_license_refuses_production_use if {
	codes := _codes("mistralai/Mistral-Large-Instruct-2407", _commercial)
	"policy.license.non_commercial" in codes
	"policy.license.use_case_not_permitted" in codes
}

test_mistral_research_license_allows_non_commercial_research if {
	attributes := object.union(_commercial, {"commercial": false, "use_case": "research"})
	count(_codes("mistral-large", attributes)) == 0
}

test_mistral_non_production_license_needs_a_non_production_use_case if {
	attributes := object.union(_commercial, {"commercial": false})
	"policy.license.use_case_not_permitted" in _codes("mistralai/Codestral-22B-v0.1", attributes)
	testing := object.union(attributes, {"use_case": "testing"})
	count(_codes("mistralai/Codestral-22B-v0.1", testing)) == 0
}

test_falcon_180b_refuses_hosting_use if {
	attributes := object.union(_commercial, {"use_case": "hosting"})
	"policy.license.use_case_prohibited" in _codes("tiiuae/falcon-180B-chat", attributes)
	count(_codes("tiiuae/falcon-180B-chat", _commercial)) == 0
}

test_acceptable_use_policies_refuse_surveillance if {
	attributes := object.union(_commercial, {"use_case": "surveillance"})
	every model in ["meta-llama/Llama-3.1-8B-Instruct", "google/gemma-2-9b-it", "deepseek-ai/DeepSeek-V3"] {
		"policy.license.use_case_prohibited" in _codes(model, attributes)
	}
}

test_permissive_licenses_allow_any_declared_use if {
	attributes := object.union(_commercial, {"monthly_active_users": 2000000000, "region": "DE"})
	every model in ["mistralai/Mistral-7B-Instruct-v0.3", "deepseek-ai/DeepSeek-R1", "microsoft/phi-4", "demo-chat", "demo-embed"] {
		count(_codes(model, attributes)) == 0
	}
}

test_gemma_terms_allow_commercial_use if {
	count(_codes("google/gemma-2-9b-it", _commercial)) == 0
}

test_unknown_model_is_refused if {
	"policy.license.unknown_model" in _codes("someone/unlisted-model", _commercial)
}

test_model_naming_an_undefined_license_is_refused if {
	codes := _codes("x/model", _commercial) with data.data.models as {"x/model": {"license": "nonexistent", "modalities": ["text"]}}
	"policy.license.unknown_license" in codes
}

test_a_tenant_waiver_lifts_only_the_waived_rule if {
	attributes := object.union(_commercial, {"monthly_active_users": 800000000, "use_case": "military"})
	codes := _codes("meta-llama/Llama-3.1-8B-Instruct", attributes) with data.data.tenants.acme.license_waivers as {"llama3.1": ["mau_limit"]}
	not "policy.license.mau_exceeded" in codes
	"policy.license.use_case_prohibited" in codes
}

test_a_license_added_to_the_catalog_is_enforced_without_code_changes if {
	catalog_license := {
		"name": "Example Community License",
		"source": "https://example.org/license",
		"commercial_use": true,
		"mau_limit": {"limit": 10, "clause": "section 9", "summary": "more than 10 users need a license"},
	}
	attributes := object.union(_commercial, {"monthly_active_users": 11})
	codes := _codes("example/new-model", attributes) with data.data.licenses.example as catalog_license
		with data.data.models["example/new-model"] as {"license": "example", "modalities": ["text"]}
	codes == {"policy.license.mau_exceeded"}
}

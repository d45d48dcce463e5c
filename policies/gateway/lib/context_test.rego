package gateway.lib.context_test

import data.gateway.lib.catalog
import data.gateway.lib.context.call

_input(tenant, model) := {
	"request": {"id": "r1", "endpoint": "chat", "model": model, "stream": false, "max_tokens": null, "estimated_tokens": 10},
	"principal": {"key_id": "key_t", "tenant": tenant, "roles": ["app"], "attributes": {}},
	"pii": {"request": {}},
	"backends": [],
	"model": {"id": model},
}

test_known_tenant_gets_its_entry if {
	call.tenant == data.data.tenants["acme-bank"] with input as _input("acme-bank", "demo-chat")
}

test_unknown_tenant_gets_the_default_entry if {
	call.tenant == data.data.tenants["default"] with input as _input("nobody", "demo-chat")
}

test_unknown_tenant_without_a_default_entry_gets_an_empty_one if {
	call.tenant == {} with input as _input("nobody", "demo-chat")
		with data.data.tenants as {"acme": {"tier": "free"}}
}

test_catalog_tables_are_the_catalogs_own if {
	call.catalog == {
		"model_aliases": data.data.model_aliases,
		"data_classes": data.data.data_classes,
		"pii": data.data.pii,
		"tiers": data.data.tiers,
		"role_endpoints": data.data.role_endpoints,
	} with input as _input("acme", "demo-chat")
}

test_input_without_a_tenant_gets_an_empty_entry if {
	call.tenant == {} with input as {"model": {"id": "demo-chat"}}
}

test_tenant_lookup_agrees_with_catalog_tenant if {
	every name in array.concat([name | some name, _ in data.data.tenants], ["nobody"]) {
		call.tenant == catalog.tenant(name) with input as _input(name, "demo-chat")
	}
}

test_alias_resolves_to_the_model_and_its_license if {
	model := call.model with input as _input("acme", "llama-3.1-8b")
	model.id == "meta-llama/Llama-3.1-8B-Instruct"
	model.entry == data.data.models["meta-llama/Llama-3.1-8B-Instruct"]
	model.license_id == "llama3.1"
	model.license == data.data.licenses["llama3.1"]
}

test_model_lookup_agrees_with_catalog_model_id if {
	names := array.concat([name | some name, _ in data.data.models], [name | some name, _ in data.data.model_aliases])
	every name in array.concat(names, ["unknown/model"]) {
		call.model.id == catalog.model_id(name) with input as _input("acme", name)
	}
}

test_unknown_model_has_only_an_id if {
	call.model == {"id": "someone/unlisted"} with input as _input("acme", "someone/unlisted")
}

test_model_with_an_undefined_license_has_no_license_entry if {
	model := call.model with input as _input("acme", "x/model")
		with data.data.models["x/model"] as {"license": "nonexistent", "modalities": ["text"]}
	model == {"id": "x/model", "entry": {"license": "nonexistent", "modalities": ["text"]}, "license_id": "nonexistent"}
}

test_model_entry_without_a_license_has_no_license_id if {
	model := call.model with input as _input("acme", "x/model") with data.data.models["x/model"] as {"modalities": ["text"]}
	model == {"id": "x/model", "entry": {"modalities": ["text"]}}
}

test_input_without_a_model_gets_no_model_facts if {
	call.model == {} with input as {"principal": {"tenant": "acme"}}
}

test_a_catalog_without_some_tables_still_gives_a_call if {
	c := call with input as _input("acme", "demo-chat")
		with data.data as {"tenants": {"acme": {"tier": "free"}}, "models": {}, "licenses": {}}
	c.catalog == {"model_aliases": {}, "data_classes": {}, "pii": {}, "tiers": {}, "role_endpoints": {}}
	c.tenant == {"tier": "free"}
	c.model == {}
}

package gateway.schema_test

import data.gateway.schema

_complete := {
	"request": {"id": "r1", "endpoint": "chat", "model": "demo-chat", "stream": false, "max_tokens": null, "estimated_tokens": 10},
	"principal": {"key_id": "key_t", "tenant": "acme", "roles": ["app"], "attributes": {}},
	"pii": {"request": {}},
	"backends": [],
	"model": {"id": "demo-chat"},
}

test_complete_input_passes if {
	count(schema.deny) == 0 with input as _complete
}

test_missing_fields_are_named if {
	denials := schema.deny with input as {"request": {"endpoint": "chat"}, "backends": []}
	[reason.message | some reason in denials] == ["the policy input lacks model.id, principal.roles, principal.tenant"]
}

test_null_counts_as_missing if {
	count(schema.deny) == 1 with input as object.union(_complete, {"model": {"id": null}})
}

test_each_required_field_alone_is_named if {
	required := schema.missing with input as {}
	count(required) == 5
	every name in required {
		doc := json.remove(_complete, [replace(name, ".", "/")])
		denials := schema.deny with input as doc
		[reason.message | some reason in denials] == [sprintf("the policy input lacks %s", [name])]
	}
}

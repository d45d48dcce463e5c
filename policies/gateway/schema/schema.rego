# METADATA
# title: Input shape
# description: |
#   Refuses a decision when the input lacks a field the other packages rely on,
#   so a missing field can never make a deny rule silently undefined.
package gateway.schema

_required := {
	"request.endpoint": ["request", "endpoint"],
	"principal.tenant": ["principal", "tenant"],
	"principal.roles": ["principal", "roles"],
	"model.id": ["model", "id"],
	"backends": ["backends"],
}

missing contains name if {
	some name, path in _required
	object.get(input, path, null) == null
}

# METADATA
# description: The input lacks fields of the documented input schema.
# custom:
#   code: policy.input.invalid
deny contains reason if {
	count(missing) > 0
	reason := {
		"code": "policy.input.invalid",
		"message": sprintf("the policy input lacks %s", [concat(", ", sort(missing))]),
	}
}

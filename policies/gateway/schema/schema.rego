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

# _complete holds when every required field is there and not null: the common case, told
# apart with five comparisons before `missing` names the fields one object.get at a time.
_complete if {
	input.request.endpoint != null
	input.principal.tenant != null
	input.principal.roles != null
	input.model.id != null
	input.backends != null
}

# METADATA
# description: The input lacks fields of the documented input schema.
# custom:
#   code: policy.input.invalid
deny contains reason if {
	not _complete
	count(missing) > 0
	reason := {
		"code": "policy.input.invalid",
		"message": sprintf("the policy input lacks %s", [concat(", ", sort(missing))]),
	}
}

# METADATA
# title: Model access
# description: |
#   Which models a tenant, and a role within it, may call. Lists live in
#   tenants.json (`models.allow`, `models.deny`, `roles.<role>.models`); entries are
#   model ids, aliases, `org/*` or `*`. A deny entry beats an allow entry.
package gateway.access

import data.gateway.lib.context.call

# _lists holds what the deny rules below need to match the model lists that apply:
#
#   model_id                        the requested model (aliases resolved)
#   tenant_allows, tenant_denies    the tenant's `models` allow list (missing: every model)
#                                   or deny list (missing: none) names it
#   role_rules                      role -> `models` of the caller's roles that the tenant
#                                   restricts (`roles.<role>.models`); usually none
#   aliases                         the catalog's model aliases
#
# Undefined when the input names no model.
_lists := {
	"model_id": id,
	"tenant_allows": {entry | some entry in object.get(c.tenant, ["models", "allow"], ["*"]); _names(entry, id, aliases)} != set(),
	"tenant_denies": {entry | some entry in c.tenant.models.deny; _names(entry, id, aliases)} != set(),
	"role_rules": {role: entry.models | some role, entry in c.tenant.roles; role in input.principal.roles},
	"aliases": aliases,
} if {
	c := call
	id := c.model.id
	aliases := c.catalog.model_aliases
}

# _names is true when a list entry names model `id`: `*`, the id or an alias of it, or
# `org/*` for the model's organisation. It repeats catalog.model_matches, as an else chain
# that stops at the first match: a call into another package costs more than the match
# (access_test.rego checks they agree).
_names(entry, id, aliases) := true if {
	entry == "*"
} else := true if {
	object.get(aliases, entry, entry) == id
} else := true if {
	endswith(entry, "/*")
	startswith(id, trim_suffix(entry, "*"))
} else := false

# METADATA
# description: The tenant's deny list names the model.
# custom:
#   code: policy.model.denied_for_tenant
deny contains reason if {
	lists := _lists
	lists.tenant_denies
	reason := {
		"code": "policy.model.denied_for_tenant",
		"message": sprintf("model `%s` is on the deny list of tenant `%s`", [lists.model_id, input.principal.tenant]),
	}
}

# METADATA
# description: The tenant's allow list does not name the model.
# custom:
#   code: policy.model.not_allowed_for_tenant
deny contains reason if {
	lists := _lists
	lists.tenant_allows == false
	reason := {
		"code": "policy.model.not_allowed_for_tenant",
		"message": sprintf("model `%s` is not on the allow list of tenant `%s`", [lists.model_id, input.principal.tenant]),
	}
}

# METADATA
# description: A role-level deny list of the tenant names the model.
# custom:
#   code: policy.model.denied_for_role
deny contains reason if {
	lists := _lists
	some role, rules in lists.role_rules
	some entry in rules.deny
	_names(entry, lists.model_id, lists.aliases)
	reason := {
		"code": "policy.model.denied_for_role",
		"message": sprintf("model `%s` is on the deny list of role `%s` in tenant `%s`", [lists.model_id, role, input.principal.tenant]),
	}
}

# METADATA
# description: The tenant restricts the caller's roles and none of them may use the model.
# custom:
#   code: policy.model.not_allowed_for_role
deny contains reason if {
	lists := _lists
	lists.role_rules != {}
	allowing := {role |
		some role, rules in lists.role_rules
		some entry in object.get(rules, "allow", ["*"])
		_names(entry, lists.model_id, lists.aliases)
	}
	allowing == set()
	reason := {
		"code": "policy.model.not_allowed_for_role",
		"message": sprintf("no role of the caller (%s) may use model `%s` in tenant `%s`", [concat(", ", sort(input.principal.roles)), lists.model_id, input.principal.tenant]),
	}
}

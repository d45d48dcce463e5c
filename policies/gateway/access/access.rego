# METADATA
# title: Model access
# description: |
#   Which models a tenant, and a role within it, may call. Lists live in
#   tenants.json (`models.allow`, `models.deny`, `roles.<role>.models`); entries are
#   model ids, aliases, `org/*` or `*`. A deny entry beats an allow entry.
package gateway.access

import data.gateway.lib.catalog
import data.gateway.lib.context.model_id
import data.gateway.lib.context.roles
import data.gateway.lib.context.tenant
import data.gateway.lib.context.tenant_name

_tenant_rules := object.get(tenant, "models", {})

_allowed_by(rules, id) if {
	some pattern in object.get(rules, "allow", ["*"])
	catalog.model_matches(pattern, id)
}

_denied_by(rules, id) if {
	some pattern in object.get(rules, "deny", [])
	catalog.model_matches(pattern, id)
}

_tenant_allows if _allowed_by(_tenant_rules, model_id)

_tenant_denies if _denied_by(_tenant_rules, model_id)

_role_rules contains [role, rules] if {
	some role in roles
	rules := tenant.roles[role].models
}

_some_role_allows if {
	some [_, rules] in _role_rules
	_allowed_by(rules, model_id)
}

# METADATA
# description: The tenant's deny list names the model.
# custom:
#   code: policy.model.denied_for_tenant
deny contains reason if {
	_tenant_denies
	reason := {
		"code": "policy.model.denied_for_tenant",
		"message": sprintf("model `%s` is on the deny list of tenant `%s`", [model_id, tenant_name]),
	}
}

# METADATA
# description: The tenant's allow list does not name the model.
# custom:
#   code: policy.model.not_allowed_for_tenant
deny contains reason if {
	not _tenant_allows
	reason := {
		"code": "policy.model.not_allowed_for_tenant",
		"message": sprintf("model `%s` is not on the allow list of tenant `%s`", [model_id, tenant_name]),
	}
}

# METADATA
# description: A role-level deny list of the tenant names the model.
# custom:
#   code: policy.model.denied_for_role
deny contains reason if {
	some [role, rules] in _role_rules
	_denied_by(rules, model_id)
	reason := {
		"code": "policy.model.denied_for_role",
		"message": sprintf("model `%s` is on the deny list of role `%s` in tenant `%s`", [model_id, role, tenant_name]),
	}
}

# METADATA
# description: The tenant restricts the caller's roles and none of them may use the model.
# custom:
#   code: policy.model.not_allowed_for_role
deny contains reason if {
	count(_role_rules) > 0
	not _some_role_allows
	reason := {
		"code": "policy.model.not_allowed_for_role",
		"message": sprintf("no role of the caller (%s) may use model `%s` in tenant `%s`", [concat(", ", sort(roles)), model_id, tenant_name]),
	}
}

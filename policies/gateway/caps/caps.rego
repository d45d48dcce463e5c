# METADATA
# title: Caps
# description: |
#   Per-tier caps from tenants.json `tiers` (max_tokens is a ceiling the gateway
#   clamps to, max_prompt_tokens refuses larger prompts) and the endpoints each
#   role may call (`role_endpoints`).
package gateway.caps

import data.gateway.lib.context.call

# _caps holds what max_tokens and the deny rules below need, computed in one body:
#
#   tier_name       the key's `tier` attribute, else the tenant's tier, else standard
#   tier            that tier's entry in `tiers` (empty for an unknown tier)
#   endpoint_roles  the caller's roles that `role_endpoints` lets call the requested endpoint
_caps := {
	"tier_name": tier_name,
	"tier": object.get(c.catalog.tiers, tier_name, {}),
	"endpoint_roles": {role |
		some role in input.principal.roles
		input.request.endpoint in c.catalog.role_endpoints[role]
	},
} if {
	c := call
	tier_name := _tier_name(input, c.tenant)
}

_tier_name(doc, tenant) := name if {
	name := doc.principal.attributes.tier
	is_string(name)
} else := name if {
	name := tenant.tier
} else := "standard"

# max_tokens is the completion-token ceiling of the caller's tier; null means none.
max_tokens := limit if {
	limit := _caps.tier.max_tokens
	is_number(limit)
} else := null

# METADATA
# description: None of the caller's roles may call this endpoint.
# custom:
#   code: policy.caps.endpoint_not_allowed
deny contains reason if {
	endpoint := input.request.endpoint
	_caps.endpoint_roles == set()
	reason := {
		"code": "policy.caps.endpoint_not_allowed",
		"message": sprintf("roles (%s) may not call the `%s` endpoint", [concat(", ", sort(object.get(input, ["principal", "roles"], []))), endpoint]),
	}
}

# METADATA
# description: The estimated prompt is larger than the tier allows.
# custom:
#   code: policy.caps.prompt_too_large
deny contains reason if {
	caps := _caps
	limit := caps.tier.max_prompt_tokens
	tokens := input.request.estimated_tokens

	# The comparison first: it fails for most calls, before the two is_number calls.
	tokens > limit
	is_number(limit)
	is_number(tokens)
	reason := {
		"code": "policy.caps.prompt_too_large",
		"message": sprintf("the prompt (about %d tokens) exceeds the %d-token limit of tier `%s`", [tokens, limit, caps.tier_name]),
	}
}

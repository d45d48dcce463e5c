# METADATA
# title: Caps
# description: |
#   Per-tier caps from tenants.json `tiers` (max_tokens is a ceiling the gateway
#   clamps to, max_prompt_tokens refuses larger prompts) and the endpoints each
#   role may call (`role_endpoints`).
package gateway.caps

import data.gateway.lib.context.roles
import data.gateway.lib.context.tier
import data.gateway.lib.context.tier_name

# max_tokens is the completion-token ceiling of the caller's tier; null means none.
default max_tokens := null

max_tokens := tier.max_tokens if is_number(tier.max_tokens)

_endpoint_allowed if {
	some role in roles
	input.request.endpoint in object.get(data.data.role_endpoints, role, [])
}

# METADATA
# description: None of the caller's roles may call this endpoint.
# custom:
#   code: policy.caps.endpoint_not_allowed
deny contains reason if {
	not _endpoint_allowed
	reason := {
		"code": "policy.caps.endpoint_not_allowed",
		"message": sprintf("roles (%s) may not call the `%s` endpoint", [concat(", ", sort(roles)), input.request.endpoint]),
	}
}

# METADATA
# description: The estimated prompt is larger than the tier allows.
# custom:
#   code: policy.caps.prompt_too_large
deny contains reason if {
	limit := tier.max_prompt_tokens
	is_number(limit)
	is_number(input.request.estimated_tokens)
	input.request.estimated_tokens > limit
	reason := {
		"code": "policy.caps.prompt_too_large",
		"message": sprintf("the prompt (about %d tokens) exceeds the %d-token limit of tier `%s`", [input.request.estimated_tokens, limit, tier_name]),
	}
}

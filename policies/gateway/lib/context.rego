# METADATA
# title: Call context
# description: |
#   Facts about the current call derived once from input and the catalog: the
#   resolved model and its license, the tenant entry, tier and data class, and
#   the entity types found in the prompt. Rules here are computed once per
#   decision and shared by every package, which keeps a decision cheap.
package gateway.lib.context

import data.gateway.lib.catalog

# model_id is the requested model with catalog aliases resolved.
model_id := catalog.model_id(input.model.id)

# model is the catalog entry of the model (undefined when the model is unknown).
model := data.data.models[model_id]

# license_id names the model's license in licenses.json.
license_id := model.license

# license is the catalog entry of the model's license.
license := data.data.licenses[license_id]

# tenant_name is the caller's tenant.
tenant_name := input.principal.tenant

# tenant is the tenant's entry in tenants.json (or the `default` entry).
tenant := catalog.tenant(tenant_name)

# attributes are the key's attributes (commercial, monthly_active_users, region, use_case, ...).
attributes := object.get(input, ["principal", "attributes"], {})

# roles are the caller's roles.
roles := object.get(input, ["principal", "roles"], [])

# tier_name is the key's `tier` attribute, else the tenant's tier, else standard.
tier_name := name if {
	name := attributes.tier
	is_string(name)
} else := name if {
	name := tenant.tier
} else := "standard"

# tier is the cap table of the caller's tier (empty for an unknown tier).
tier := object.get(data.data.tiers, tier_name, {})

# class_name is the tenant's data class, else the key's `data_class` attribute, else internal.
class_name := name if {
	name := tenant.data_class
} else := name if {
	name := attributes.data_class
	is_string(name)
} else := "internal"

# pii_found are the entity types found in the prompt (count above zero).
pii_found contains entity if {
	some entity, n in input.pii.request
	n > 0
}

# secrets are the found entity types that name credentials (pii.json).
secrets contains entity if {
	some entity in pii_found
	catalog.is_secret(entity)
}

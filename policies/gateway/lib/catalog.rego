# METADATA
# title: Catalog lookups
# description: |
#   Side-effect-free lookups in the catalog data under policies/data/
#   (data.data.models, data.data.licenses, data.data.tenants, ...). Functions take
#   their arguments explicitly; nothing here reads input.
package gateway.lib.catalog

# model_id resolves a short alias from models.json to the model id it stands for.
model_id(name) := id if {
	id := data.data.model_aliases[name]
} else := name

# tenant is the tenant's entry in tenants.json, falling back to the `default` entry.
tenant(name) := entry if {
	entry := data.data.tenants[name]
} else := object.get(data.data.tenants, "default", {})

# in_region_group holds when a region (country code such as DE, or a cloud region
# such as eu-west) belongs to a group of licenses.json's region_groups.
in_region_group(region, group) if upper(region) in data.data.region_groups[group].codes

in_region_group(region, group) if {
	some prefix in data.data.region_groups[group].prefixes
	startswith(upper(region), prefix)
}

# is_secret holds for entity types that name credentials (pii.json).
is_secret(entity) if entity in data.data.pii.secret_entity_types

is_secret(entity) if {
	some prefix in data.data.pii.secret_entity_prefixes
	startswith(entity, prefix)
}

# model_matches holds when an allow/deny pattern names a model id: `*` (any model),
# `org/*` (every model of a Hugging Face organisation), an id or an alias.
model_matches("*", _) := true

model_matches(pattern, id) if model_id(pattern) == id

model_matches(pattern, id) if {
	endswith(pattern, "/*")
	startswith(id, trim_suffix(pattern, "*"))
}

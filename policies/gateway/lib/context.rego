# METADATA
# title: Call context
# description: |
#   Facts about the current call that several packages need, derived once from
#   input and the catalog: its small tables, the tenant's entry and what the
#   catalog knows of the requested model. A fact one package needs (tier, data
#   class, secrets found) is computed in that package.
#
#   They are one object, `call`, because regorus charges for every reference to a
#   rule of another package or to `data`, however small the rule: each package
#   reads `call` once, in the rule body that computes its own facts.
package gateway.lib.context

# call holds:
#
#   catalog  the small catalog tables a package may need (model_aliases, data_classes,
#            pii, tiers, role_endpoints; {} for a table the catalog lacks), so that a
#            package need not reference `data` again
#   tenant   the tenant's entry in tenants.json, else the `default` entry
#            (catalog.tenant); empty when the input names no tenant
#   model    what the catalog knows of the requested model: `id` (aliases resolved, as
#            catalog.model_id does), `entry` (models.json), `license_id` and `license`
#            (licenses.json). A key the catalog cannot fill is missing, so
#            `call.model.entry` is undefined for an unknown model; all are missing when
#            the input names no model.
call := {
	"catalog": catalog,
	"tenant": _tenant(input),
	"model": _model(input),
} if {
	# The usual catalog has every table: plain references are the cheapest lookups.
	catalog := {
		"model_aliases": data.data.model_aliases,
		"data_classes": data.data.data_classes,
		"pii": data.data.pii,
		"tiers": data.data.tiers,
		"role_endpoints": data.data.role_endpoints,
	}
} else := {
	"catalog": {
		"model_aliases": _table("model_aliases"),
		"data_classes": _table("data_classes"),
		"pii": _table("pii"),
		"tiers": _table("tiers"),
		"role_endpoints": _table("role_endpoints"),
	},
	"tenant": _tenant(input),
	"model": _model(input),
}

# Tables are read one path under data.data at a time, never data.data whole: OPA turns the
# whole document a reference names into a value on every evaluation, so a rule that bound
# data.data made every decision copy the catalog.

_table(name) := table if {
	table := data.data[name]
} else := {}

# These repeat catalog.tenant and catalog.model_id: a call into another package costs
# more than the lookup (context_test.rego checks they agree).

_tenant(doc) := entry if {
	entry := data.data.tenants[doc.principal.tenant]
} else := entry if {
	entry := data.data.tenants["default"]
	doc.principal.tenant
} else := {}

_model(doc) := {"id": id, "entry": entry, "license_id": license_id, "license": license} if {
	id := object.get(data.data.model_aliases, doc.model.id, doc.model.id)
	entry := data.data.models[id]
	license_id := entry.license
	license := data.data.licenses[license_id]
} else := {"id": id, "entry": entry, "license_id": license_id} if {
	id := object.get(data.data.model_aliases, doc.model.id, doc.model.id)
	entry := data.data.models[id]
	license_id := entry.license
} else := {"id": id, "entry": entry} if {
	id := object.get(data.data.model_aliases, doc.model.id, doc.model.id)
	entry := data.data.models[id]
} else := {"id": id} if {
	id := object.get(data.data.model_aliases, doc.model.id, doc.model.id)
} else := {}

# METADATA
# title: Call context
# description: |
#   Facts about the current call that several packages need, derived once from
#   input and the catalog: the catalog itself, the tenant's entry and what the
#   catalog knows of the requested model. A fact one package needs (tier, data
#   class, secrets found) is computed in that package.
#
#   They are one object, `call`, because regorus charges for every reference to a
#   rule of another package or to `data`, however small the rule: each package
#   reads `call` once, in the rule body that computes its own facts.
package gateway.lib.context

# call holds:
#
#   catalog  the catalog data (data.data: models, licenses, tenants, ...), so that a
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
	"tenant": _tenant(catalog, input),
	"model": _model(catalog, input),
} if {
	catalog := data.data
}

# These repeat catalog.tenant and catalog.model_id on the catalog passed in: a call into
# another package costs more than the lookup (context_test.rego checks they agree).

_tenant(catalog, doc) := entry if {
	entry := catalog.tenants[doc.principal.tenant]
} else := entry if {
	entry := object.get(catalog.tenants, doc.principal.tenant, object.get(catalog.tenants, "default", {}))
} else := {}

_model(catalog, doc) := {"id": id, "entry": entry, "license_id": license_id, "license": license} if {
	id := object.get(catalog.model_aliases, doc.model.id, doc.model.id)
	entry := catalog.models[id]
	license_id := entry.license
	license := catalog.licenses[license_id]
} else := {"id": id, "entry": entry, "license_id": license_id} if {
	id := object.get(catalog.model_aliases, doc.model.id, doc.model.id)
	entry := catalog.models[id]
	license_id := entry.license
} else := {"id": id, "entry": entry} if {
	id := object.get(catalog.model_aliases, doc.model.id, doc.model.id)
	entry := catalog.models[id]
} else := {"id": id} if {
	id := object.get(catalog.model_aliases, doc.model.id, doc.model.id)
} else := {}

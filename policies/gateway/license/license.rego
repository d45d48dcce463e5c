# METADATA
# title: Model licenses
# description: |
#   Enforces the license of the requested model against the tenant's declared
#   attributes (commercial, monthly_active_users, region, use_case). All terms come
#   from policies/data/licenses.json and models.json: extend the catalog, not this
#   file. Reasons name the license and the clause. A tenant may hold a separate
#   agreement for a rule: tenants.json `license_waivers.<license>: [rule, ...]`.
package gateway.license

import data.gateway.lib.catalog
import data.gateway.lib.context.call

# _model is what the catalog knows of the requested model (see call.model).
_model := call.model

# The helpers below are evaluated only for a license that has the term they serve.

_waived(rule) if rule in call.tenant.license_waivers[_model.license_id]

_modality_matches(restriction) if not restriction.modalities

_modality_matches(restriction) if {
	some modality in restriction.modalities
	modality in _model.entry.modalities
}

_use_case := use_case if {
	use_case := input.principal.attributes.use_case
	is_string(use_case)
} else := "unspecified"

# METADATA
# description: The model has no entry in models.json, so its license is unknown.
# custom:
#   code: policy.license.unknown_model
deny contains reason if {
	model := _model
	not model.entry
	reason := {
		"code": "policy.license.unknown_model",
		"message": sprintf("model `%s` has no entry in the license catalog", [model.id]),
	}
}

# METADATA
# description: The model names a license that licenses.json does not define.
# custom:
#   code: policy.license.unknown_license
deny contains reason if {
	model := _model
	model.entry
	not model.license
	reason := {
		"code": "policy.license.unknown_license",
		"message": sprintf("model `%s` names license `%s`, which the catalog does not define", [model.id, model.license_id]),
	}
}

# METADATA
# description: The license allows non-commercial use only and the tenant is commercial.
# custom:
#   code: policy.license.non_commercial
deny contains reason if {
	license := _model.license
	license.commercial_use == false

	# A tenant is commercial unless its key says `commercial: false`.
	not input.principal.attributes.commercial == false
	not _waived("non_commercial")
	clause := object.get(license, "non_commercial", {"clause": "license grant", "summary": "non-commercial use only"})
	reason := {
		"code": "policy.license.non_commercial",
		"message": sprintf("%s, %s: %s (tenant `%s` is commercial)", [license.name, clause.clause, clause.summary, input.principal.tenant]),
	}
}

# METADATA
# description: The tenant's monthly active users exceed the license's threshold (e.g. Llama's 700 million).
# custom:
#   code: policy.license.mau_exceeded
deny contains reason if {
	license := _model.license
	term := license.mau_limit
	users := input.principal.attributes.monthly_active_users
	users > term.limit # before is_number: the comparison usually fails, and costs less
	is_number(users)
	not _waived("mau_limit")
	reason := {
		"code": "policy.license.mau_exceeded",
		"message": sprintf("%s, %s: %s (tenant reports %d monthly active users, limit %d)", [license.name, term.clause, term.summary, users, term.limit]),
	}
}

# METADATA
# description: The license withholds rights from the tenant's region for this model (e.g. Llama 3.2 multimodal in the EU).
# custom:
#   code: policy.license.region_restricted
deny contains reason if {
	license := _model.license
	some term in license.region_restrictions
	region := input.principal.attributes.region
	is_string(region)
	some group in term.regions
	catalog.in_region_group(region, group)
	_modality_matches(term)
	not _waived("region_restrictions")
	reason := {
		"code": "policy.license.region_restricted",
		"message": sprintf("%s, %s: %s (tenant region `%s`)", [license.name, term.clause, term.summary, region]),
	}
}

# METADATA
# description: The tenant's declared use case is prohibited by the license or its acceptable use policy.
# custom:
#   code: policy.license.use_case_prohibited
deny contains reason if {
	license := _model.license
	some term in license.prohibited_use_cases
	_use_case in term.use_cases
	not _waived("prohibited_use_cases")
	reason := {
		"code": "policy.license.use_case_prohibited",
		"message": sprintf("%s, %s: %s (declared use case `%s`)", [license.name, term.clause, term.summary, _use_case]),
	}
}

# METADATA
# description: The license permits listed use cases only (research, evaluation, ...) and the tenant declares another or none.
# custom:
#   code: policy.license.use_case_not_permitted
deny contains reason if {
	license := _model.license
	term := license.permitted_use_cases
	not _use_case in term.use_cases
	not _waived("permitted_use_cases")
	reason := {
		"code": "policy.license.use_case_not_permitted",
		"message": sprintf("%s, %s: %s (declared use case `%s`)", [license.name, term.clause, term.summary, _use_case]),
	}
}

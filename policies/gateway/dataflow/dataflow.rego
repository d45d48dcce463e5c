# METADATA
# title: Data flow
# description: |
#   Where prompt data may go. Secrets are always refused. Each tenant has a data
#   class (tenants.json `data_classes`) that says whether external backends
#   (tag location=external) may be used at all, and whether PII bound for them is
#   redacted or refused (external backends are then dropped). Tenants with
#   `backend_regions` only use backends whose `region` tag is listed.
#   Only entity types and counts are seen here, never values.
package gateway.dataflow

import data.gateway.lib.context.call

# flow is what the tenant's data class and regions make of this call, computed in one body
# (one rule evaluation instead of one per fact and per backend). Its obligations for the
# gateway, gathered by data.gateway.decision:
#
#   backends       the candidate backends this call may use, in input order
#   redact         the entity types to remove before the prompt leaves the gateway
#   pii_action     how each entity type is handled (mask | pseudonymize | hash | block)
#   store_content  what the audit log may keep: redacted | none | full
#
# and the facts behind them, for the deny rules below:
#
#   class_name     the tenant's data class, else the key's `data_class` attribute, else internal
#   class          the entry of the class in `data_classes` (empty when it is not defined)
#   classes        the data classes of tenants.json
#   secrets        the entity types found in the prompt that name credentials (pii.json,
#                  as catalog.is_secret; dataflow_test.rego checks they agree)
#   restricted     entity types the class restricts: every other type found, or only those
#                  in the class's `entities`
#   external       indexes in input.backends of backends tagged location=external
#   outside        indexes of backends outside the tenant's `backend_regions`
flow := {
	"backends": [backend.name | some i, backend in input.backends; not i in unusable],
	"redact": redact,
	"pii_action": object.union(
		{entity: object.get(class, "redact_action", "mask") | some entity in redact},
		{entity: "block" | some entity in secrets},
	),
	"store_content": object.get(tenant, "store_content", object.get(class, "store_content", "redacted")),
	"class_name": class_name,
	"class": class,
	"classes": c.catalog.data_classes,
	"secrets": secrets,
	"restricted": restricted,
	"external": external,
	"outside": outside,
} if {
	c := call
	tenant := c.tenant
	class_name := _class_name(input, tenant)
	class := object.get(c.catalog.data_classes, class_name, {})

	found := {entity | some entity, n in input.pii.request; n > 0}
	pii := c.catalog.pii
	listed := {entity | some entity in found; entity in pii.secret_entity_types}
	secrets := listed | {entity |
		some entity in found - listed
		some prefix in pii.secret_entity_prefixes
		startswith(entity, prefix)
	}
	unsecret := found - secrets
	restricted := {entity | some entity in unsecret; not class.entities} | {entity |
		some entity in unsecret
		entity in class.entities
	}

	external := {i | some i, backend in input.backends; backend.tags.location == "external"}
	outside := {i |
		some i, backend in input.backends
		tenant.backend_regions
		not _in_regions(backend, tenant.backend_regions)
	}

	# External backends are refused when the class forbids them, or when it refuses PII
	# for them and the prompt holds some.
	refused := {i | some i in external; class.external_backends == "forbidden"} | {i |
		some i in external
		class.pii_to_external == "refuse"
		restricted != set()
	}
	unusable := outside | refused

	# PII is redacted when the class says so and an external backend may serve the call,
	# and types in the class's `always_redact` whatever the backend.
	redact := {entity | some entity in restricted; class.pii_to_external == "redact"; (external - unusable) != set()} | {entity |
		some entity in unsecret
		entity in class.always_redact
	}
}

# A function rather than `not backend.tags.region in regions`: OPA does not evaluate that
# to true when the backend has no region tag.
_in_regions(backend, regions) if backend.tags.region in regions

_class_name(doc, tenant) := name if {
	name := tenant.data_class
} else := name if {
	name := doc.principal.attributes.data_class
	is_string(name)
} else := "internal"

# The obligations one rule each, for tests and other rules; data.gateway.decision reads `flow`.

backends := flow.backends

redact := flow.redact

pii_action := flow.pii_action

store_content := flow.store_content

# METADATA
# description: The prompt contains a secret (credential, key, token); secrets are never forwarded.
# custom:
#   code: policy.data.secret_detected
deny contains reason if {
	secrets := flow.secrets
	secrets != set()
	reason := {
		"code": "policy.data.secret_detected",
		"message": sprintf("the prompt contains secrets (%s); secrets are never forwarded", [concat(", ", sort(secrets))]),
	}
}

# METADATA
# description: The tenant's data class is not defined in tenants.json.
# custom:
#   code: policy.data.unknown_class
deny contains reason if {
	not flow.classes[flow.class_name]
	reason := {
		"code": "policy.data.unknown_class",
		"message": sprintf("data class `%s` of tenant `%s` is not defined", [flow.class_name, input.principal.tenant]),
	}
}

# METADATA
# description: PII may not go to external backends for this data class, and only external backends serve the model.
# custom:
#   code: policy.data.pii_to_external
deny contains reason if {
	flow.class.pii_to_external == "refuse"
	flow.backends == []
	flow.restricted != set()
	flow.external != set()
	reason := {
		"code": "policy.data.pii_to_external",
		"message": sprintf("data class `%s` forbids sending %s to external backends and no on-prem backend serves this model", [flow.class_name, concat(", ", sort(flow.restricted))]),
	}
}

# METADATA
# description: The data class forbids external backends, and only external backends serve the model.
# custom:
#   code: policy.data.external_forbidden
deny contains reason if {
	flow.class.external_backends == "forbidden"
	flow.backends == []
	flow.external != set()
	reason := {
		"code": "policy.data.external_forbidden",
		"message": sprintf("data class `%s` forbids external backends and no on-prem backend serves this model", [flow.class_name]),
	}
}

# METADATA
# description: The tenant keeps data in given regions, and no backend in them serves the model.
# custom:
#   code: policy.data.residency
deny contains reason if {
	flow.outside != set()
	flow.backends == []
	reason := {
		"code": "policy.data.residency",
		"message": sprintf("tenant `%s` uses backends in regions (%s) only and none of them serves this model", [input.principal.tenant, concat(", ", sort(call.tenant.backend_regions))]),
	}
}

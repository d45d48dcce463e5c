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

import data.gateway.lib.context.class_name
import data.gateway.lib.context.pii_found
import data.gateway.lib.context.secrets
import data.gateway.lib.context.tenant
import data.gateway.lib.context.tenant_name

_class := data.data.data_classes[class_name]

# Entity types this data class restricts: all non-secret types found, or the class's `entities`.
_restricted contains entity if {
	some entity in pii_found
	not entity in secrets
	_covers(entity)
}

_covers(_) if not _class.entities

_covers(entity) if entity in _class.entities

_is_external(backend) if backend.tags.location == "external"

_pii_refused if {
	_class.pii_to_external == "refuse"
	count(_restricted) > 0
}

_external_refused if _class.external_backends == "forbidden"

_external_refused if _pii_refused

_in_region(_) if not tenant.backend_regions

_in_region(backend) if backend.tags.region in tenant.backend_regions

_usable(backend) if {
	not _is_external(backend)
	_in_region(backend)
}

_usable(backend) if {
	not _external_refused
	_in_region(backend)
}

# backends are the candidate backends this call may use, in input order.
backends := [backend.name |
	some backend in input.backends
	_usable(backend)
]

_external_used if {
	some backend in input.backends
	_is_external(backend)
	_usable(backend)
}

_none_left if {
	count(backends) == 0
	count(input.backends) > 0
}

_has_external if {
	some backend in input.backends
	_is_external(backend)
}

# redact lists the entity types to remove before the prompt leaves the gateway.
redact contains entity if {
	_class.pii_to_external == "redact"
	_external_used
	some entity in _restricted
}

redact contains entity if {
	some entity in pii_found
	not entity in secrets
	entity in _class.always_redact
}

# pii_action says how each entity type is handled (mask | pseudonymize | hash | block).
pii_action[entity] := action if {
	some entity in redact
	action := object.get(_class, "redact_action", "mask")
}

pii_action[entity] := "block" if some entity in secrets

# store_content says what the audit log may keep: redacted | none | full.
default store_content := "redacted"

store_content := value if {
	value := tenant.store_content
} else := value if {
	value := _class.store_content
}

# METADATA
# description: The prompt contains a secret (credential, key, token); secrets are never forwarded.
# custom:
#   code: policy.data.secret_detected
deny contains reason if {
	count(secrets) > 0
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
	not _class
	reason := {
		"code": "policy.data.unknown_class",
		"message": sprintf("data class `%s` of tenant `%s` is not defined", [class_name, tenant_name]),
	}
}

# METADATA
# description: PII may not go to external backends for this data class, and only external backends serve the model.
# custom:
#   code: policy.data.pii_to_external
deny contains reason if {
	_none_left
	_pii_refused
	_has_external
	reason := {
		"code": "policy.data.pii_to_external",
		"message": sprintf("data class `%s` forbids sending %s to external backends and no on-prem backend serves this model", [class_name, concat(", ", sort(_restricted))]),
	}
}

# METADATA
# description: The data class forbids external backends, and only external backends serve the model.
# custom:
#   code: policy.data.external_forbidden
deny contains reason if {
	_none_left
	_class.external_backends == "forbidden"
	_has_external
	reason := {
		"code": "policy.data.external_forbidden",
		"message": sprintf("data class `%s` forbids external backends and no on-prem backend serves this model", [class_name]),
	}
}

# METADATA
# description: The tenant keeps data in given regions, and no backend in them serves the model.
# custom:
#   code: policy.data.residency
deny contains reason if {
	_none_left
	some backend in input.backends
	not _in_region(backend)
	reason := {
		"code": "policy.data.residency",
		"message": sprintf("tenant `%s` uses backends in regions (%s) only and none of them serves this model", [tenant_name, concat(", ", sort(tenant.backend_regions))]),
	}
}

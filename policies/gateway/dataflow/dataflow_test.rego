package gateway.dataflow_test

import data.gateway.dataflow
import data.gateway.lib.catalog

_onprem := {"name": "onprem", "tags": {"location": "on-prem", "region": "eu-west"}}

_external := {"name": "cloud", "tags": {"location": "external", "region": "us-east"}}

_input(tenant, pii, backends) := {
	"request": {"id": "r1", "endpoint": "chat", "model": "demo-chat", "stream": false, "max_tokens": null, "estimated_tokens": 10},
	"principal": {"key_id": "key_t", "tenant": tenant, "roles": ["app"], "attributes": {}},
	"pii": {"request": pii},
	"backends": backends,
	"model": {"id": "demo-chat"},
}

_codes(doc) := codes if {
	denials := dataflow.deny with input as doc
	codes := {reason.code | some reason in denials}
}

test_secrets_are_always_refused if {
	every tenant in ["acme", "acme-bank", "globex-health", "initech-research"] {
		"policy.data.secret_detected" in _codes(_input(tenant, {"API_KEY": 1}, [_onprem]))
	}
}

test_secret_types_are_blocked_and_never_redacted if {
	doc := _input("acme", {"AWS_SECRET_KEY": 1, "EMAIL_ADDRESS": 1}, [_external])
	dataflow.pii_action.AWS_SECRET_KEY == "block" with input as doc
	not "AWS_SECRET_KEY" in dataflow.redact with input as doc
}

test_secret_prefix_marks_custom_secret_types if {
	"policy.data.secret_detected" in _codes(_input("acme", {"SECRET_VAULT_TOKEN": 2}, [_onprem]))
}

test_secret_reason_names_types_not_values if {
	denials := dataflow.deny with input as _input("acme", {"JWT": 1, "PASSWORD": 3}, [_onprem])
	some reason in denials
	reason.message == "the prompt contains secrets (JWT, PASSWORD); secrets are never forwarded"
}

test_zero_counts_are_ignored if {
	count(_codes(_input("acme", {"API_KEY": 0}, [_onprem]))) == 0
}

test_pii_to_an_external_backend_is_redacted_for_internal_data if {
	doc := _input("acme", {"EMAIL_ADDRESS": 2, "PERSON": 1}, [_external])
	dataflow.redact == {"EMAIL_ADDRESS", "PERSON"} with input as doc
	dataflow.pii_action == {"EMAIL_ADDRESS": "mask", "PERSON": "mask"} with input as doc
	dataflow.backends == ["cloud"] with input as doc
	count(_codes(doc)) == 0
}

test_pii_is_not_redacted_when_only_on_prem_backends_are_candidates if {
	doc := _input("acme", {"EMAIL_ADDRESS": 2}, [_onprem])
	count(dataflow.redact) == 0 with input as doc
	dataflow.pii_action == {} with input as doc
}

test_confidential_data_drops_external_backends_when_pii_is_present if {
	doc := _input("acme-bank", {"PHONE_NUMBER": 1}, [_external, _onprem])
	dataflow.backends == ["onprem"] with input as doc
	count(dataflow.redact) == 0 with input as doc
	count(_codes(doc)) == 0
}

test_confidential_data_without_pii_may_use_external_backends if {
	doc := _input("acme-bank", {}, [_external, _onprem])
	dataflow.backends == ["onprem"] with input as doc with data.data.tenants["acme-bank"].backend_regions as ["eu-west"]
	dataflow.backends == ["cloud", "onprem"] with input as doc with data.data.tenants["acme-bank"].backend_regions as ["eu-west", "us-east"]
}

test_confidential_pii_is_refused_when_only_external_backends_serve_the_model if {
	doc := _input("acme-bank", {"PERSON": 1}, [_external])
	"policy.data.pii_to_external" in _codes(doc) with data.data.tenants["acme-bank"].backend_regions as ["us-east"]
}

test_pii_refusal_reason_names_the_data_class_and_types if {
	doc := _input("acme-bank", {"PERSON": 1, "EMAIL_ADDRESS": 1}, [_external])
	denials := dataflow.deny with input as doc with data.data.tenants["acme-bank"].backend_regions as ["us-east"]
	some reason in denials
	reason.code == "policy.data.pii_to_external"
	reason.message == "data class `confidential` forbids sending EMAIL_ADDRESS, PERSON to external backends and no on-prem backend serves this model"
}

test_restricted_data_never_uses_external_backends if {
	doc := _input("globex-health", {}, [_external, _onprem])
	dataflow.backends == ["onprem"] with input as doc
	"policy.data.external_forbidden" in _codes(_input("globex-health", {}, [_external]))
}

test_restricted_data_is_not_stored if {
	dataflow.store_content == "none" with input as _input("globex-health", {}, [_onprem])
	dataflow.store_content == "redacted" with input as _input("acme", {}, [_onprem])
}

test_backend_regions_keep_data_in_the_listed_regions if {
	doc := _input("acme-bank", {}, [{"name": "us", "tags": {"location": "on-prem", "region": "us-east"}}, _onprem])
	dataflow.backends == ["onprem"] with input as doc
}

test_backend_without_a_region_tag_is_dropped_under_residency if {
	doc := _input("acme-bank", {}, [{"name": "untagged", "tags": {"location": "on-prem"}}])
	"policy.data.residency" in _codes(doc)
}

test_data_class_entities_limit_what_is_restricted if {
	classes := object.union(data.data.data_classes, {"internal": {"external_backends": "allowed", "pii_to_external": "redact", "entities": ["PERSON"]}})
	doc := _input("acme", {"PERSON": 1, "LOCATION": 1}, [_external])
	dataflow.redact == {"PERSON"} with input as doc with data.data.data_classes as classes
}

test_always_redact_applies_on_prem_too if {
	classes := object.union(data.data.data_classes, {"internal": {"external_backends": "allowed", "pii_to_external": "redact", "always_redact": ["CREDIT_CARD"]}})
	doc := _input("acme", {"CREDIT_CARD": 1}, [_onprem])
	dataflow.redact == {"CREDIT_CARD"} with input as doc with data.data.data_classes as classes
}

test_unknown_data_class_is_refused if {
	"policy.data.unknown_class" in _codes(_input("acme", {}, [_onprem])) with data.data.tenants.acme.data_class as "secret-squirrel"
}

test_confidential_redaction_pseudonymizes if {
	classes := object.union(data.data.data_classes, {"confidential": {"external_backends": "allowed", "pii_to_external": "redact", "redact_action": "pseudonymize"}})
	doc := _input("acme-bank", {"PERSON": 1}, [_external])
	dataflow.pii_action == {"PERSON": "pseudonymize"} with input as doc with data.data.data_classes as classes with data.data.tenants["acme-bank"].backend_regions as ["us-east"]
}

test_secrets_are_the_types_catalog_is_secret_names if {
	types := ["API_KEY", "SECRET_VAULT_TOKEN", "EMAIL_ADDRESS", "JWT", "SECRETARY", "PERSON"]
	doc := _input("acme", {entity: 1 | some entity in types}, [_external])
	secrets := {entity | some entity in types; catalog.is_secret(entity)}
	secrets == {"API_KEY", "SECRET_VAULT_TOKEN", "JWT"}
	{entity | some entity, action in dataflow.pii_action; action == "block"} == secrets with input as doc
	denials := dataflow.deny with input as doc
	some reason in denials
	reason.message == sprintf("the prompt contains secrets (%s); secrets are never forwarded", [concat(", ", sort(secrets))])
}

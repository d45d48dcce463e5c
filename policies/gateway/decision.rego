# METADATA
# title: Gateway decision
# description: |
#   The one document the gateway asks for: data.gateway.decision. It gathers the
#   denials of every package and their obligations (backends, redaction, caps,
#   storage). Its shape is the output contract in docs/policy-authoring.md; the
#   gateway validates it and treats anything else as a denial.
package gateway

# Packages are imported whole and their rules named as `caps.deny`: from this parent
# package regorus finds data.gateway.caps.deny among the rules directly, where a rule
# imported by name costs it a search through every module.
import data.gateway.access
import data.gateway.caps
import data.gateway.dataflow
import data.gateway.license
import data.gateway.schema

decision := {
	"allow": denials == set(),
	"reasons": [{"code": pair[0], "message": pair[1]} | some pair in ordered],
	"redact": sort(flow.redact),
	"pii_action": flow.pii_action,
	"backends": flow.backends,
	"max_tokens": caps.max_tokens,
	"store_content": flow.store_content,
} if {
	denials := (((schema.deny | access.deny) | caps.deny) | dataflow.deny) | license.deny

	# Sorted as [code, message] pairs so every engine returns reasons in the same order.
	ordered := sort([[reason.code, reason.message] | some reason in denials])
	flow := dataflow.flow
}

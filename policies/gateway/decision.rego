# METADATA
# title: Gateway decision
# description: |
#   The one document the gateway asks for: data.gateway.decision. It gathers the
#   denials of every package and their obligations (backends, redaction, caps,
#   storage). Its shape is the output contract in docs/policy-authoring.md; the
#   gateway validates it and treats anything else as a denial.
package gateway

import data.gateway.access.deny as access_denials
import data.gateway.caps.deny as caps_denials
import data.gateway.caps.max_tokens
import data.gateway.dataflow.backends
import data.gateway.dataflow.deny as dataflow_denials
import data.gateway.dataflow.pii_action
import data.gateway.dataflow.redact
import data.gateway.dataflow.store_content
import data.gateway.license.deny as license_denials
import data.gateway.schema.deny as schema_denials

_denials := (((schema_denials | access_denials) | caps_denials) | dataflow_denials) | license_denials

# Sorted as [code, message] pairs so every engine returns reasons in the same order.
_ordered := sort([[reason.code, reason.message] | some reason in _denials])

decision := {
	"allow": count(_denials) == 0,
	"reasons": [{"code": pair[0], "message": pair[1]} | some pair in _ordered],
	"redact": sort(redact),
	"pii_action": pii_action,
	"backends": backends,
	"max_tokens": max_tokens,
	"store_content": store_content,
}

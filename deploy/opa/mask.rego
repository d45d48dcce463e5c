# Decision-log mask for the OPA server in compose.yaml (loaded beside policies/, not part of it).
#
# OPA evaluates data.system.log.mask for every decision it logs and removes each JSON pointer it
# returns from the event. "/input" removes the whole input document, so nothing the gateway sends
# for a decision (request metadata, PII counts, principal attributes) is written to OPA's log;
# the event keeps its decision id, path, result and metrics.
package system.log

mask contains "/input"

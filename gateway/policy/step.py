"""The pipeline step that asks policy what this call may do, and applies the answer to the context.

Runs after PII detection (entity counts are in the input) and before redaction (the decision says
what to redact and how). The step builds the documented input, asks the engine for
`data.gateway.decision` and sets on the context: a denial with the policy's reasons, the PII
actions (policy over configuration defaults), the allowed backends, the max_tokens cap, whether
content may be stored, and the policy version. An engine failure raises
`PolicyEngineUnavailable` (503) unless the step was built fail-open.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import structlog

from gateway.errors import PolicyDenied, PolicyEngineUnavailable
from gateway.pipeline import Context
from gateway.policy import metrics
from gateway.policy.decision import BackendCandidate, PiiAction, PolicyDecision, PolicyInput
from gateway.policy.engine import PolicyEngine, PolicyResult
from gateway.tokens import estimate_prompt_tokens

log = structlog.get_logger(__name__)

NO_BACKEND = "policy.backend.none_allowed"
UNAVAILABLE = "policy.unavailable"


def build_policy_input(ctx: Context, backend_tags: Mapping[str, Mapping[str, str]]) -> PolicyInput:
    """The policy input for a call: names, counts and tags only, never prompt text."""
    estimated = ctx.extras.get("estimated_tokens")
    if not isinstance(estimated, int) or isinstance(estimated, bool):
        estimated = estimate_prompt_tokens(ctx.request.body)
    return PolicyInput(
        request_id=ctx.request.request_id,
        endpoint=ctx.request.endpoint,
        model=ctx.request.model,
        requested_model=ctx.request.requested_model,
        stream=ctx.request.stream,
        max_tokens=ctx.request.max_tokens,
        estimated_tokens=estimated,
        key_id=ctx.principal.key_id,
        tenant=ctx.principal.tenant,
        roles=tuple(sorted(ctx.principal.roles)),
        attributes=dict(ctx.principal.attributes),
        pii_request={k: v for k, v in ctx.pii_counts.items() if v > 0},
        backends=tuple(BackendCandidate(name, dict(backend_tags.get(name, {}))) for name in ctx.backends),
    )


def merge_pii_actions(
    decision: PolicyDecision, defaults: Mapping[str, str], default_redact_action: PiiAction
) -> dict[str, str]:
    """Entity type -> action: configuration defaults, then the policy's `redact`, then `pii_action`."""
    actions = dict(defaults)
    for entity in decision.redact:
        actions[entity] = decision.pii_action.get(entity, actions.get(entity, default_redact_action))
    actions.update(decision.pii_action)
    return actions


def _cover_found(actions: dict[str, str], ctx: Context, default_action: str) -> dict[str, str]:
    """Every entity type found in the prompt gets an action: none is forwarded as written by omission."""
    for entity in ctx.pii_counts:
        actions.setdefault(entity, default_action)
    return actions


def denial_message(decision: PolicyDecision) -> str:
    """The client-facing message: each reason's code and text (texts never carry PII values)."""
    return "Request denied by policy: " + "; ".join(f"{r.code}: {r.message}" for r in decision.reasons)


def apply_decision(
    ctx: Context,
    result: PolicyResult,
    *,
    default_pii_actions: Mapping[str, str],
    default_redact_action: PiiAction = "mask",
) -> Context:
    """The context after a decision: denied, or narrowed and annotated with the obligations."""
    decision = result.decision
    ctx = replace(ctx, policy_version=result.policy_version)
    if not decision.allow:
        codes = decision.reason_codes
        return ctx.deny(PolicyDenied(codes, message=denial_message(decision)), *codes)
    allowed = set(decision.backends)
    backends = tuple(name for name in ctx.backends if name in allowed)
    if not backends:
        message = "Request denied by policy: no backend that serves this model is allowed for this call"
        return ctx.deny(PolicyDenied((NO_BACKEND,), message=f"{message} [{NO_BACKEND}]"), NO_BACKEND)
    cap = decision.max_tokens
    if ctx.max_tokens_cap is not None:
        cap = ctx.max_tokens_cap if cap is None else min(cap, ctx.max_tokens_cap)
    return replace(
        ctx,
        backends=backends,
        pii_actions=_cover_found(
            merge_pii_actions(decision, default_pii_actions, default_redact_action), ctx, default_redact_action
        ),
        max_tokens_cap=cap,
        store_content=decision.store_content,
        reasons=(*ctx.reasons, *decision.reason_codes),
    )


@dataclass(frozen=True, slots=True)
class EvaluatePolicy:
    """Ask the policy engine about this call and apply its decision."""

    engine: PolicyEngine
    backend_tags: Mapping[str, Mapping[str, str]]
    """Backend name -> tags (location, accelerator, region, ...), as configured."""
    default_pii_actions: Mapping[str, str] = field(default_factory=dict)
    """Entity type -> action from the PII configuration; the policy's answer overrides these."""
    fail_open: bool = False
    """If the engine fails, let the call through with reason `policy.unavailable` (logged)."""
    default_redact_action: PiiAction = "mask"
    name: str = "policy"

    async def __call__(self, ctx: Context, /) -> Context:
        policy_input = build_policy_input(ctx, self.backend_tags)
        try:
            result = await self.engine.decide(policy_input.to_json())
        except PolicyEngineUnavailable:
            if not self.fail_open:
                metrics.DECISIONS.labels(self.engine.name, "unavailable").inc()
                raise
            metrics.DECISIONS.labels(self.engine.name, "fail_open").inc()
            log.warning("policy.unavailable", request_id=ctx.request.request_id, failure="open")
            return replace(
                ctx,
                pii_actions=_cover_found(dict(self.default_pii_actions), ctx, self.default_redact_action),
                reasons=(*ctx.reasons, UNAVAILABLE),
            )
        decision = result.decision
        metrics.DECISION_LATENCY.labels(result.engine).observe(result.eval_ms / 1000.0)
        metrics.DECISIONS.labels(result.engine, "allow" if decision.allow else "deny").inc()
        log.debug(
            "policy.decided",
            request_id=ctx.request.request_id,
            allow=decision.allow,
            reasons=decision.reason_codes,
            policy_version=result.policy_version,
            eval_ms=round(result.eval_ms, 3),
        )
        return apply_decision(
            ctx,
            result,
            default_pii_actions=self.default_pii_actions,
            default_redact_action=self.default_redact_action,
        )

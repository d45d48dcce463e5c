"""Shadow mode: a candidate policy set evaluated beside the active one, never enforced.

`ShadowPolicyEngine` is itself a `PolicyEngine`: it returns the active engine's result and also
asks the candidate, concurrently. When the two decisions differ, the difference is counted per
field and logged with the request id, both versions and the reason codes, never the input. A
candidate that fails is counted and logged; it cannot affect the call.
"""

from __future__ import annotations

import anyio
import structlog

from gateway.errors import PolicyEngineUnavailable
from gateway.policy import metrics
from gateway.policy.decision import JsonValue, PolicyDecision
from gateway.policy.engine import PolicyEngine, PolicyResult

log = structlog.get_logger(__name__)


def differing_fields(active: PolicyDecision, candidate: PolicyDecision) -> tuple[str, ...]:
    """The output-contract fields on which two decisions differ (reasons compared by code)."""
    left, right = active.to_json(), candidate.to_json()
    left["reasons"] = list[JsonValue](sorted(active.reason_codes))
    right["reasons"] = list[JsonValue](sorted(candidate.reason_codes))
    return tuple(key for key in left if left[key] != right.get(key))


class ShadowPolicyEngine:
    """Enforces `active`; evaluates `candidate` on the same input and reports disagreements."""

    name = "shadow"

    def __init__(self, active: PolicyEngine, candidate: PolicyEngine) -> None:
        self.active = active
        self.candidate = candidate

    @property
    def version(self) -> str | None:
        return self.active.version

    async def decide(self, policy_input: dict[str, JsonValue], /) -> PolicyResult:
        shadow: list[PolicyResult] = []

        async def run_candidate() -> None:
            try:
                shadow.append(await self.candidate.decide(policy_input))
            except PolicyEngineUnavailable:
                metrics.SHADOW_EVALUATIONS.labels("error").inc()
                log.warning("policy.shadow.unavailable", request_id=_request_id(policy_input))

        result: PolicyResult | None = None
        failure: PolicyEngineUnavailable | None = None
        async with anyio.create_task_group() as tg:
            tg.start_soon(run_candidate)
            try:
                result = await self.active.decide(policy_input)
            except PolicyEngineUnavailable as exc:
                failure = exc
        if result is None:
            assert failure is not None  # noqa: S101 - one of the two is always set
            raise failure
        if shadow:
            self._compare(policy_input, result, shadow[0])
        return result

    def _compare(self, policy_input: dict[str, JsonValue], active: PolicyResult, candidate: PolicyResult) -> None:
        fields = differing_fields(active.decision, candidate.decision)
        if not fields:
            metrics.SHADOW_EVALUATIONS.labels("agree").inc()
            return
        metrics.SHADOW_EVALUATIONS.labels("disagree").inc()
        for name in fields:
            metrics.SHADOW_DISAGREEMENTS.labels(name).inc()
        log.info(
            "policy.shadow.disagreement",
            request_id=_request_id(policy_input),
            fields=list(fields),
            active_allow=active.decision.allow,
            candidate_allow=candidate.decision.allow,
            active_reasons=list(active.decision.reason_codes),
            candidate_reasons=list(candidate.decision.reason_codes),
            active_version=active.policy_version,
            candidate_version=candidate.policy_version,
        )


def _request_id(policy_input: dict[str, JsonValue]) -> str | None:
    request = policy_input.get("request")
    if isinstance(request, dict) and isinstance(request.get("id"), str):
        return str(request["id"])
    return None

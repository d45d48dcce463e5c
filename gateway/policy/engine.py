"""The port every policy engine implements, and the result it returns.

Pure. Implementations: `EmbeddedPolicyEngine` (regorus, in-process), `OpaPolicyEngine` (an OPA
server over HTTP) and `ShadowPolicyEngine` (an active engine plus an unenforced candidate).
An engine evaluates `data.gateway.decision` for one input and validates the document; it raises
`PolicyEngineUnavailable` when it cannot answer. Whether that fails closed or open is the
pipeline step's business, not the engine's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from gateway.policy.decision import JsonValue, PolicyDecision


@dataclass(frozen=True, slots=True)
class PolicyResult:
    """A validated decision and where it came from."""

    decision: PolicyDecision
    policy_version: str | None
    """Content hash of the policy set that decided (`sha256:...`), None if unknown."""
    engine: str
    eval_ms: float


class PolicyEngine(Protocol):
    """Evaluates `data.gateway.decision`."""

    name: str

    @property
    def version(self) -> str | None:
        """The active policy version (content hash), None when the engine cannot tell."""
        ...

    async def decide(self, policy_input: dict[str, JsonValue], /) -> PolicyResult:
        """Decide one call. Raises `PolicyEngineUnavailable` on failure or timeout."""
        ...

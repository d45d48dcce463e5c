from __future__ import annotations

import pytest

from gateway.policy.embedded import CompiledPolicy, EmbeddedPolicyEngine, compile_policy
from gateway.policy.sources import PolicySources, read_policy_sources
from tests.unit.policy.contexts import POLICIES


@pytest.fixture(scope="session")
def shipped_sources() -> PolicySources:
    return read_policy_sources(POLICIES)


@pytest.fixture(scope="session")
def shipped_policy(shipped_sources: PolicySources) -> CompiledPolicy:
    return compile_policy(shipped_sources)


@pytest.fixture
def engine(shipped_policy: CompiledPolicy) -> EmbeddedPolicyEngine:
    return EmbeddedPolicyEngine(shipped_policy)

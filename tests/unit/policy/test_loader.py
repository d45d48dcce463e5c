from __future__ import annotations

import pytest
from prometheus_client import REGISTRY

from gateway.policy.embedded import CompiledPolicy
from gateway.policy.loader import PolicyLoader
from gateway.policy.sources import PolicyLoadError
from tests.unit.policy.contexts import MINIMAL_DECISION, write_policy

pytestmark = pytest.mark.anyio

PASSING_TEST = """package gateway_test

import data.gateway

test_allows if {
\tgateway.decision.allow with input as {"allow": true, "backends": []}
}
"""


def _loader(root, activated: list[CompiledPolicy], **kwargs) -> PolicyLoader:
    return PolicyLoader(root, on_activate=activated.append, **kwargs)


def _dir(tmp_path):
    return write_policy(
        tmp_path, {"gateway/decision.rego": MINIMAL_DECISION, "gateway/decision_test.rego": PASSING_TEST}
    )


def test_first_load_activates_the_directory(tmp_path):
    activated: list[CompiledPolicy] = []
    loader = _loader(_dir(tmp_path), activated)
    policy = loader.load()
    assert activated == [policy]
    status = loader.status()
    assert status["active_version"] == policy.version
    assert status["last_attempt"]["outcome"] == "applied"
    assert status["last_attempt"]["tests_passed"] == 1


def test_first_load_of_a_broken_directory_raises(tmp_path):
    root = write_policy(tmp_path, {"gateway/decision.rego": "package gateway\n\ndecision { true }\n"})
    with pytest.raises(PolicyLoadError):
        _loader(root, []).load()


async def test_edited_policy_is_swapped_in(tmp_path):
    root = _dir(tmp_path)
    activated: list[CompiledPolicy] = []
    loader = _loader(root, activated)
    first = loader.load()
    (root / "gateway/extra.rego").write_text("package gateway\n\nextra := 1\n")
    attempt = await loader.reload()
    assert attempt.outcome == "applied"
    assert loader.version != first.version
    assert [p.version for p in activated] == [first.version, loader.version]


async def test_unchanged_directory_is_not_reactivated(tmp_path):
    activated: list[CompiledPolicy] = []
    loader = _loader(_dir(tmp_path), activated)
    loader.load()
    assert (await loader.reload()).outcome == "unchanged"
    assert len(activated) == 1


async def test_broken_edit_keeps_the_last_good_version_and_reports_the_location(tmp_path):
    root = _dir(tmp_path)
    loader = _loader(root, [])
    good = loader.load()
    before = (
        REGISTRY.get_sample_value("gateway_policy_reloads_total", {"role": "active", "outcome": "refused_compile"}) or 0
    )
    (root / "gateway/decision.rego").write_text(MINIMAL_DECISION + "\nbroken {\n  true\n}\n")
    attempt = await loader.reload()
    assert attempt.outcome == "refused_compile"
    assert loader.version == good.version
    error = loader.status()["last_attempt"]["errors"][0]
    assert error["file"] == "gateway/decision.rego"
    assert error["line"] == 9
    assert "`if` keyword is required" in error["message"]
    assert REGISTRY.get_sample_value("gateway_policy_last_reload_ok", {"role": "active"}) == 0
    assert (
        REGISTRY.get_sample_value("gateway_policy_reloads_total", {"role": "active", "outcome": "refused_compile"})
        == before + 1
    )


async def test_version_whose_tests_fail_is_refused(tmp_path):
    root = _dir(tmp_path)
    loader = _loader(root, [])
    good = loader.load()
    (root / "gateway/decision.rego").write_text(MINIMAL_DECISION.replace('"allow": input.allow', '"allow": false'))
    attempt = await loader.reload()
    assert attempt.outcome == "refused_test"
    assert loader.version == good.version
    assert "data.gateway_test.test_allows: FAIL" in attempt.problems[0].message
    assert attempt.version is not None


async def test_tests_can_be_skipped_on_reload(tmp_path):
    root = _dir(tmp_path)
    loader = _loader(root, [], run_tests=False)
    loader.load()
    (root / "gateway/decision.rego").write_text(MINIMAL_DECISION.replace('"allow": input.allow', '"allow": false'))
    assert (await loader.reload()).outcome == "applied"


async def test_repaired_policy_is_accepted_after_a_refusal(tmp_path):
    root = _dir(tmp_path)
    loader = _loader(root, [])
    loader.load()
    (root / "gateway/decision.rego").write_text("package gateway\n\ndecision { true }\n")
    assert (await loader.reload()).outcome == "refused_compile"
    (root / "gateway/decision.rego").write_text(MINIMAL_DECISION + "\n# fixed\n")
    assert (await loader.reload()).outcome == "applied"
    assert loader.status()["reloads_refused"] == 1
    assert REGISTRY.get_sample_value("gateway_policy_last_reload_ok", {"role": "active"}) == 1

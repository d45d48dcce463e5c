from __future__ import annotations

from gateway.auth import Principal
from gateway.upstream.backends import Backend, ModelCatalog
from gateway.upstream.routing import RoundRobin


def _catalog() -> ModelCatalog:
    backends = [
        Backend(name="a", base_url="http://a/v1", models=frozenset({"llama", "qwen"})),
        Backend(name="b", base_url="http://b/v1", models=frozenset({"llama"})),
    ]
    return ModelCatalog(backends, {"gpt-4o-mini": "llama", "dangling": "nothing"})


def test_aliases_resolve_to_served_models() -> None:
    catalog = _catalog()
    assert catalog.resolve("llama") == "llama"
    assert catalog.resolve("gpt-4o-mini") == "llama"
    assert catalog.resolve("dangling") is None
    assert catalog.resolve("unknown") is None


def test_backends_for_a_model_are_all_that_serve_it() -> None:
    assert _catalog().backends_for("llama") == ("a", "b")
    assert _catalog().backends_for("qwen") == ("a",)


def test_key_model_list_limits_visible_models_and_accepts_aliases() -> None:
    catalog = _catalog()
    limited = Principal(key_id="k", tenant="t", roles=frozenset({"app"}), models=frozenset({"gpt-4o-mini"}))
    assert catalog.visible_models(limited) == ["gpt-4o-mini"]
    assert catalog.may_use(limited, "gpt-4o-mini")
    assert not catalog.may_use(limited, "qwen")
    everyone = Principal(key_id="k", tenant="t", roles=frozenset({"app"}))
    assert catalog.visible_models(everyone) == ["gpt-4o-mini", "llama", "qwen"]


def test_round_robin_rotates_the_first_backend() -> None:
    rr = RoundRobin()
    orders = [rr.order(["a", "b", "c"]) for _ in range(4)]
    assert orders == [("a", "b", "c"), ("b", "c", "a"), ("c", "a", "b"), ("a", "b", "c")]
    assert rr.order(["solo"]) == ("solo",)

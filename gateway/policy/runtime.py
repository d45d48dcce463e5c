"""Assembling the policy concern from settings: the engine, its loaders, and the pipeline step.

Wiring only. `build_policy_runtime` loads the policy directory (failing start-up on a broken
set), builds the configured engine (embedded or OPA, optionally shadowed by a candidate
directory) and the loaders that keep them current. The app awaits `runtime.run()` in its task
group for hot reload, serves `runtime.status()` at `GET /admin/policy`, and puts
`runtime.step(...)` in its step list.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import anyio

from gateway.policy.decision import JsonValue, PiiAction
from gateway.policy.embedded import CompiledPolicy, EmbeddedPolicyEngine
from gateway.policy.engine import PolicyEngine
from gateway.policy.loader import PolicyLoader
from gateway.policy.opa import OpaPolicyEngine
from gateway.policy.settings import PolicySettings
from gateway.policy.shadow import ShadowPolicyEngine
from gateway.policy.step import EvaluatePolicy


@dataclass(frozen=True, slots=True)
class PolicyRuntime:
    """The engine the pipeline asks, and the loaders that keep its policy current."""

    settings: PolicySettings
    engine: PolicyEngine
    loader: PolicyLoader
    shadow_loader: PolicyLoader | None = None
    embedded: tuple[EmbeddedPolicyEngine, ...] = ()
    """The in-process engines built here (closed by `close()`)."""

    @property
    def version(self) -> str | None:
        """The active policy version (content hash) that decisions carry."""
        return self.loader.version

    async def run(self) -> None:
        """Watch the policy directories until cancelled (returns at once if reload is off)."""
        if not self.settings.reload:
            return
        async with anyio.create_task_group() as tg:
            tg.start_soon(self.loader.run)
            if self.shadow_loader is not None:
                tg.start_soon(self.shadow_loader.run)

    def close(self) -> None:
        """Stop the embedded engines' offload threads, if any (call at shutdown)."""
        for engine in self.embedded:
            engine.close()

    def status(self) -> dict[str, JsonValue]:
        """Body of `GET /admin/policy`."""
        return {
            "engine": self.settings.engine,
            "failure": self.settings.failure,
            "active": self.loader.status(),
            "shadow": self.shadow_loader.status() if self.shadow_loader is not None else None,
        }

    def step(
        self,
        backend_tags: Mapping[str, Mapping[str, str]],
        *,
        default_pii_actions: Mapping[str, str] | None = None,
        default_redact_action: PiiAction = "mask",
    ) -> EvaluatePolicy:
        """The `EvaluatePolicy` pipeline step bound to this runtime's engine."""
        return EvaluatePolicy(
            engine=self.engine,
            backend_tags=backend_tags,
            default_pii_actions=dict(default_pii_actions or {}),
            fail_open=self.settings.failure == "open",
            default_redact_action=default_redact_action,
        )


def _embedded(settings: PolicySettings, policy: CompiledPolicy) -> EmbeddedPolicyEngine:
    return EmbeddedPolicyEngine(
        policy,
        timeout_s=settings.timeout_s,
        offload=settings.embedded_offload,
        threads=settings.embedded_threads,
    )


def _load(settings: PolicySettings, directory: Path, role: str, engine_box: list[EmbeddedPolicyEngine]) -> PolicyLoader:
    # The first activation creates the engine; later ones swap its policy and warm this thread.
    def activate(policy: CompiledPolicy) -> None:
        if engine_box:
            engine_box[0].activate(policy)
            engine_box[0].prewarm()
        else:
            engine_box.append(_embedded(settings, policy))

    return PolicyLoader(
        directory,
        on_activate=activate,
        role="shadow" if role == "shadow" else "active",
        run_tests=settings.run_tests_on_reload,
        debounce_ms=settings.reload_debounce_ms,
    )


def build_policy_runtime(settings: PolicySettings, *, session: aiohttp.ClientSession | None = None) -> PolicyRuntime:
    """Load the policy directory and build the configured engine. Blocking; call at start-up.

    Raises `PolicyLoadError` when the directory (or the shadow directory) cannot be served, and
    `ValueError` when `engine: opa` is configured without an aiohttp session (the app's lifespan
    owns the session).
    """
    active_box: list[EmbeddedPolicyEngine] = []
    loader = _load(settings, settings.dir, "active", active_box)
    loader.load()
    engine: PolicyEngine
    if settings.engine == "opa":
        if session is None:
            raise ValueError("policy.engine `opa` needs an aiohttp session")
        engine = OpaPolicyEngine(
            session,
            base_url=str(settings.opa_url),
            decision_path=settings.decision_path,
            timeout_s=settings.timeout_s,
            version=lambda: loader.version,
        )
    else:
        engine = active_box[0]
    shadow_loader: PolicyLoader | None = None
    shadow_box: list[EmbeddedPolicyEngine] = []
    if settings.shadow_dir is not None:
        shadow_loader = _load(settings, settings.shadow_dir, "shadow", shadow_box)
        shadow_loader.load()
        engine = ShadowPolicyEngine(engine, shadow_box[0])
    embedded = (*active_box, *shadow_box)
    return PolicyRuntime(
        settings=settings, engine=engine, loader=loader, shadow_loader=shadow_loader, embedded=embedded
    )

"""Backends and the model catalog: which backends serve which model, and under which names.

Pure: built from settings, no I/O. The catalog answers the front API's questions (does this
model exist, which backends may serve it, which models may this key list) and nothing else.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from gateway.auth import Principal
from gateway.config import BackendSettings


@dataclass(frozen=True, slots=True)
class Backend:
    """One OpenAI-compatible inference server."""

    name: str
    base_url: str
    """Base URL without a trailing slash, including `/v1`."""
    models: frozenset[str]
    tags: Mapping[str, str] = field(default_factory=dict)
    api_key: str | None = None
    timeout_s: float = 60.0
    connect_timeout_s: float = 5.0
    max_connections: int = 256
    accepts_max_completion_tokens: bool = False
    stream_usage: bool = True

    @classmethod
    def from_settings(cls, settings: BackendSettings) -> Backend:
        return cls(
            name=settings.name,
            base_url=str(settings.base_url).rstrip("/"),
            models=frozenset(settings.models),
            tags=dict(settings.tags),
            api_key=settings.api_key.get_secret_value() if settings.api_key else None,
            timeout_s=settings.timeout_s,
            connect_timeout_s=settings.connect_timeout_s,
            max_connections=settings.max_connections,
            accepts_max_completion_tokens=settings.capabilities.accepts_max_completion_tokens,
            stream_usage=settings.capabilities.stream_usage,
        )


class ModelCatalog:
    """Maps model ids and aliases to the backends that serve them."""

    def __init__(self, backends: Iterable[Backend], aliases: Mapping[str, str]) -> None:
        self.backends: dict[str, Backend] = {b.name: b for b in backends}
        serving: dict[str, list[str]] = {}
        for backend in self.backends.values():
            for model in sorted(backend.models):
                serving.setdefault(model, []).append(backend.name)
        self._serving = {model: tuple(names) for model, names in serving.items()}
        self._aliases = dict(aliases)

    def resolve(self, requested: str) -> str | None:
        """The canonical model id for a requested name or alias, or None if unknown."""
        if requested in self._serving:
            return requested
        target = self._aliases.get(requested)
        return target if target in self._serving else None

    def backends_for(self, model: str) -> tuple[str, ...]:
        """Names of the backends serving a canonical model id."""
        return self._serving.get(model, ())

    def visible_models(self, principal: Principal) -> list[str]:
        """Model ids and aliases the principal may use, sorted."""
        names = [*self._serving, *(a for a, t in self._aliases.items() if t in self._serving)]
        return sorted(n for n in names if self.may_use(principal, n))

    def may_use(self, principal: Principal, requested: str) -> bool:
        """A key's model list may name a model or one of its aliases."""
        if principal.models is None:
            return True
        canonical = self.resolve(requested)
        return requested in principal.models or (canonical is not None and canonical in principal.models)

    def serving(self) -> dict[str, tuple[str, ...]]:
        """Model id -> names of the backends serving it."""
        return dict(self._serving)

    def tags(self) -> dict[str, Mapping[str, str]]:
        """Backend name -> tags, as policy sees them."""
        return {name: b.tags for name, b in self.backends.items()}

"""Typed settings: one YAML file plus `GATEWAY_*` environment overrides.

This is the only module that reads files for configuration or the environment. Settings are
built once at start-up (`load_settings`) and passed down; nothing reads configuration mid-request.
Nested values are overridden with a double underscore: `GATEWAY_SERVER__PORT=9090`; lists and
mappings take JSON: `GATEWAY_BACKENDS='[{"name": ...}]'`. A bad value fails at start-up with a
message that names the key.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from gateway.audit.settings import AuditSettings
from gateway.auth import Role
from gateway.pii.settings import PiiSettings
from gateway.policy.settings import PolicySettings
from gateway.ratelimit.settings import RateLimitSettings

CONFIG_ENV = "GATEWAY_CONFIG"


class ConfigError(Exception):
    """The configuration cannot be used; the message names each bad key."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ServerSettings(_Section):
    host: str = "127.0.0.1"
    """Address to listen on."""
    port: int = Field(default=8080, ge=0, le=65535)
    """TCP port to listen on."""
    workers: int | None = Field(default=None, ge=1)
    """Worker processes; default one per CPU core."""
    max_body_bytes: int = Field(default=4 * 1024 * 1024, ge=1024)
    """Largest request body accepted; larger bodies get 413."""


class BackendCapabilities(_Section):
    """What a backend understands, so the gateway can absorb its quirks."""

    accepts_max_completion_tokens: bool = False
    """False: `max_completion_tokens` is sent as `max_tokens` (llama.cpp, TGI, older vLLM ignore it)."""
    stream_usage: bool = True
    """True: the gateway asks for `stream_options.include_usage` to count real tokens."""


class BackendSettings(_Section):
    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    """Backend name used in logs, metrics, policy input and the audit log."""
    base_url: AnyHttpUrl
    """OpenAI-compatible base URL including `/v1`, e.g. `http://127.0.0.1:8000/v1`."""
    api_key_env: str | None = None
    """Name of the environment variable holding this backend's API key (never the key itself)."""
    models: list[str] = Field(min_length=1)
    """Model ids this backend serves, as it names them."""
    tags: dict[str, str] = Field(default_factory=dict)
    """Free-form tags seen by policy: location (on-prem | external), accelerator, region, ..."""
    timeout_s: float = Field(default=60.0, gt=0)
    """Read timeout: the longest silence tolerated from the backend, also between stream chunks."""
    connect_timeout_s: float = Field(default=5.0, gt=0)
    """Connection timeout; on expiry the next backend for the model is tried."""
    max_connections: int = Field(default=256, ge=1)
    """Connection pool size for this backend."""
    capabilities: BackendCapabilities = Field(default_factory=BackendCapabilities)
    api_key: SecretStr | None = Field(default=None, exclude=True)
    """Resolved from `api_key_env` at load time; not settable in YAML."""


class KeySettings(_Section):
    key: SecretStr | None = None
    """A bootstrap API key in the clear (hashed at load, never logged). Prefer `key_sha256`."""
    key_sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    """Hex SHA-256 of the key, so the configuration file holds no secret."""
    id: str | None = None
    """Public key id for logs and audit; derived from the hash when omitted."""
    tenant: str = Field(min_length=1)
    roles: list[Role] = Field(default_factory=lambda: list[Role](["app"]))
    attributes: dict[str, str | int | bool | float | None] = Field(default_factory=dict)
    """Attributes seen by policy: commercial, monthly_active_users, region, use_case, tier, ..."""
    models: list[str] | None = None
    """Models (or aliases) this key may use; omit for all."""

    @model_validator(mode="after")
    def _exactly_one_key(self) -> KeySettings:
        if (self.key is None) == (self.key_sha256 is None):
            raise ValueError("set exactly one of `key` or `key_sha256`")
        return self


class LoggingSettings(_Section):
    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["json", "console", "auto"] = "auto"
    """`auto`: console renderer on a TTY, JSON otherwise."""


class UiSettings(_Section):
    session_secret: SecretStr | None = None
    """Key that signs officers' session cookies on /ui/. Unset: a random key per start (shared by
    the workers of one `gateway serve`); set it when several gateway instances sit behind one name."""
    session_ttl_s: int = Field(default=8 * 3600, ge=60)
    """How long an officer stays signed in."""


class Settings(BaseSettings):
    """All gateway settings. Attribute docstrings are the operator's documentation."""

    model_config = SettingsConfigDict(env_prefix="GATEWAY_", env_nested_delimiter="__", extra="forbid", frozen=True)

    server: ServerSettings = Field(default_factory=ServerSettings)
    backends: list[BackendSettings] = Field(default_factory=list)
    model_aliases: dict[str, str] = Field(default_factory=dict)
    """Alias -> model id, e.g. `gpt-4o-mini: llama-3.1-8b-instruct`."""
    keys: list[KeySettings] = Field(default_factory=list)
    logging: LoggingSettings = Field(default_factory=LoggingSettings)
    pii: PiiSettings = Field(default_factory=PiiSettings)
    """PII and secret detection and the default action per entity type (docs/pii.md)."""
    policy: PolicySettings = Field(default_factory=PolicySettings)
    """Rego policy engine, directory, hot reload and failure mode (docs/policy-authoring.md)."""
    audit: AuditSettings = Field(default_factory=AuditSettings)
    """Audit log database, durability mode and content storage (docs/audit.md)."""
    ratelimits: RateLimitSettings = Field(default_factory=RateLimitSettings)
    """Requests, tokens and concurrency limits per key, tenant and model (docs/ratelimits.md)."""
    ui: UiSettings = Field(default_factory=UiSettings)
    """The compliance officers' review pages under /ui/ (docs/audit-ui.md)."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Environment beats the YAML file (passed as init kwargs), as operators expect.
        del settings_cls, dotenv_settings, file_secret_settings
        return env_settings, init_settings

    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        names = [b.name for b in self.backends]
        if len(names) != len(set(names)):
            raise ValueError("backend names must be unique")
        served = {m for b in self.backends for m in b.models}
        for alias, target in self.model_aliases.items():
            if target not in served:
                raise ValueError(f"model_aliases.{alias}: no backend serves `{target}`")
        return self


def _format_errors(exc: ValidationError, source: str) -> str:
    lines = [f"invalid configuration ({source}):"]
    for err in exc.errors():
        key = ".".join(str(part) for part in err["loc"]) or "(top level)"
        lines.append(f"  {key}: {err['msg']}")
    return "\n".join(lines)


def _resolve_backend_keys(data: dict[str, Any]) -> dict[str, Any]:
    """Read each backend's key from the variable its `api_key_env` names; keys never sit in files."""
    backends = data.get("backends")
    if not isinstance(backends, list):
        return data
    resolved = []
    problems = []
    for index, backend in enumerate(backends):
        if not isinstance(backend, dict):
            resolved.append(backend)
            continue
        if "api_key" in backend:
            problems.append(f"  backends.{index}.api_key: not allowed in the file; name a variable in api_key_env")
        variable = backend.get("api_key_env")
        if variable:
            value = os.environ.get(str(variable))
            if not value:
                problems.append(f"  backends.{index}.api_key_env: environment variable {variable} is not set")
            resolved.append({**backend, "api_key": value})
        else:
            resolved.append(backend)
    if problems:
        raise ConfigError("invalid configuration:\n" + "\n".join(problems))
    return {**data, "backends": resolved}


def config_path_from_env() -> Path | None:
    """The config file named by `GATEWAY_CONFIG`, if any."""
    value = os.environ.get(CONFIG_ENV)
    return Path(value) if value else None


def load_settings(path: Path | None = None, **overrides: Any) -> Settings:
    """Build settings from a YAML file (or `GATEWAY_CONFIG`), the environment and overrides.

    Raises `ConfigError` naming every bad key.
    """
    path = path or config_path_from_env()
    data: dict[str, Any] = {}
    source = "defaults and environment"
    if path is not None:
        source = str(path)
        try:
            loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"cannot read configuration file {path}: {exc.strerror}") from exc
        except yaml.YAMLError as exc:
            raise ConfigError(f"configuration file {path} is not valid YAML: {exc}") from exc
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise ConfigError(f"configuration file {path} must hold a mapping at the top level")
        data = loaded
    data = _resolve_backend_keys({**data, **overrides})
    try:
        return Settings(**data)
    except ValidationError as exc:
        raise ConfigError(_format_errors(exc, source)) from exc


PROMETHEUS_MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def prometheus_multiproc_dir() -> str | None:
    """The directory prometheus_client shares between worker processes, if set."""
    return os.environ.get(PROMETHEUS_MULTIPROC_ENV) or None


def export_for_workers(config_path: Path | None, multiproc_dir: str | None, *, ui_session_secret: str | None) -> None:
    """Hand the config path, metrics directory and a shared UI session key to worker processes."""
    if config_path is not None:
        os.environ[CONFIG_ENV] = str(config_path.resolve())
    if multiproc_dir is not None:
        os.environ[PROMETHEUS_MULTIPROC_ENV] = multiproc_dir
    if ui_session_secret is not None:
        os.environ["GATEWAY_UI__SESSION_SECRET"] = ui_session_secret

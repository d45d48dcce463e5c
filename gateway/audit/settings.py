"""Settings of the audit log, nested in the gateway configuration as `audit:`.

A plain pydantic model, not `BaseSettings`: the gateway's `config.py` owns the environment
and the YAML file and nests this section (`GATEWAY_AUDIT__MODE=async` overrides `mode`).
Attribute docstrings are the operator's documentation (see also docs/audit.md).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

AuditMode = Literal["strict", "async"]
ContentStorage = Literal["redacted", "none"]

_SUPPORTED_DRIVERS = ("sqlite+aiosqlite://", "postgresql+asyncpg://")


class AuditSettings(BaseModel):
    """Where and how the tamper-evident audit log is written."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    """Turn the audit log off. Only for benchmarks and development: a governed deployment keeps it on."""
    database_url: str = "sqlite+aiosqlite:///./gateway-audit.db"
    """Async SQLAlchemy URL: `sqlite+aiosqlite:///path.db` (embedded default) or
    `postgresql+asyncpg://user:pass@host/db` (production). Never logged with its password."""
    postgres_schema: str | None = Field(default=None, pattern=r"^[a-z_][a-z0-9_]{0,62}$")
    """PostgreSQL only: keep the audit tables in this schema (created by `gateway db upgrade`)."""
    mode: AuditMode = "strict"
    """`strict`: a call is forwarded only once its request event is committed, and its response
    completes only once the response event is committed. `async`: events are acknowledged when
    queued (lower latency; a crash can lose the events still queued)."""
    store_content: ContentStorage = "redacted"
    """`redacted`: keep the prompt and answer as forwarded/returned (already redacted by the PII
    step); `none`: keep no content at all. Policy may narrow this per call, never widen it."""
    batch_max_events: int = Field(default=256, ge=1, le=10_000)
    """Most events committed in one transaction (group commit)."""
    batch_max_delay_ms: float = Field(default=0.0, ge=0.0, le=1000.0)
    """How long the writer waits for more events before committing a batch that is not full.
    0 commits whatever is queued as soon as the previous commit is done (natural batching)."""
    queue_max_events: int = Field(default=10_000, ge=1)
    """Most events waiting in memory; beyond it, calls are refused with 503 (never dropped)."""
    commit_timeout_ms: int = Field(default=5_000, ge=1)
    """Strict mode: the longest a call waits for its event to commit before it gets 503."""
    retry_initial_ms: int = Field(default=50, ge=1)
    """First pause after a failed commit; doubled after each further failure."""
    retry_max_ms: int = Field(default=2_000, ge=1)
    """Longest pause between commit attempts while the database is down."""
    drain_timeout_s: float = Field(default=10.0, ge=0.0)
    """On shutdown, how long the writer keeps committing queued events."""
    chain_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.:-]{1,64}$")
    """Name of this process's hash chain. Default: a new random id at every start. Set it only
    for a single-process deployment that should continue one chain across restarts; two
    processes must never share a chain id."""
    sqlite_synchronous: Literal["FULL", "NORMAL"] = "FULL"
    """SQLite only: `FULL` survives power loss; `NORMAL` (WAL) survives process crashes only."""
    pool_size: int = Field(default=5, ge=1)
    """Database connections per process (writer, officer queries)."""
    connect_timeout_s: float = Field(default=5.0, gt=0.0)
    """Timeout for opening a database connection."""

    @field_validator("database_url")
    @classmethod
    def _supported_driver(cls, value: str) -> str:
        if not value.startswith(_SUPPORTED_DRIVERS):
            raise ValueError("must start with sqlite+aiosqlite:// or postgresql+asyncpg://")
        return value

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

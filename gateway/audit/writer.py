"""The group-commit audit writer: one per process, one hash chain per writer.

Events queue in memory; a single background task takes what is queued (up to
`batch_max_events`, waiting at most `batch_max_delay_ms` for more), links it into the chain
and commits it in one transaction. Strict callers (`append(..., wait=True)`) return only once
their event is committed, so a call is forwarded, or answered, only when its record is
durable. Many concurrent calls share each commit, which is what keeps strict mode cheap.

Failure rules: the writer never drops an event silently. A failed commit is retried with
exponential backoff, re-linking the same events to the same chain head, so retries write
identical rows. While the database fails, strict callers get `AuditUnavailable` (503) at
once; their events stay queued and are committed when it is back. A full queue refuses new
events (503) instead of growing. An event the database itself rejects (bad data) is logged
with its id and counted as lost. On shutdown the writer drains for `drain_timeout_s`.

Not here: what an event contains (`record.py`), how it is hashed (`chain.py`).
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, NoReturn, Protocol, Self

import anyio
import structlog
from anyio.abc import TaskGroup
from sqlalchemy.ext.asyncio import AsyncEngine

import gateway
from gateway.audit.batch_insert import BatchConnection, BatchRejected, insert_batch, postgres_values
from gateway.audit.chain import HASH_VERSION, ChainHead, PreparedEvent, prepare, seal
from gateway.audit.chain_store import head_after, load_head
from gateway.audit.metrics import AUDIT_METRICS, AuditMetrics
from gateway.audit.record import AuditEvent
from gateway.audit.settings import AuditSettings
from gateway.errors import AuditUnavailable

log = structlog.get_logger(__name__)


class AuditLog(Protocol):
    """Where the pipeline sends audit events (the writer, or a fake in unit tests)."""

    @property
    def chain_id(self) -> str: ...

    async def append(self, event: AuditEvent, /, *, wait: bool) -> None:
        """Queue an event; with `wait`, return once it is committed. Raises `AuditUnavailable`."""
        ...


@dataclass(slots=True)
class _Pending:
    prepared: PreparedEvent
    values: tuple[Any, ...] | None
    done: anyio.Event = field(default_factory=anyio.Event)
    error: AuditUnavailable | None = None


def new_chain_id() -> str:
    """A fresh chain id for a process start."""
    return str(uuid.uuid4())


def _sqlstate(exc: BaseException) -> str | None:
    """The database's error code, if the driver reports one (asyncpg: `sqlstate`; SQLite: none).

    Read from the exception itself (asyncpg's, `BatchRejected`) or from the driver error that
    SQLAlchemy wrapped (`orig`).
    """
    orig = getattr(exc, "orig", None)
    code = getattr(exc, "sqlstate", None) or getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    return code if isinstance(code, str) else None


class AuditWriter:
    """Group-commit writer of one hash chain. Use as `async with AuditWriter(...) as writer:`.

    Entering loads the chain head (when `settings.chain_id` continues an existing chain) and
    starts the commit task; leaving stops accepting events and drains the queue for at most
    `drain_timeout_s` (what is left then is logged as `audit.drain_incomplete` and counted in
    `gateway_audit_events_lost_total`).
    """

    def __init__(
        self,
        engine: AsyncEngine,
        settings: AuditSettings,
        *,
        metrics: AuditMetrics = AUDIT_METRICS,
        gateway_version: str = gateway.__version__,
    ) -> None:
        self._engine = engine
        self._settings = settings
        self._metrics = metrics
        self._gateway_version = gateway_version
        self._chain_id = settings.chain_id or new_chain_id()
        self._postgres = engine.dialect.name == "postgresql"
        self._connection: BatchConnection | None = None  # PostgreSQL: kept for the batches
        self._head = ChainHead(self._chain_id)
        self._chain_registered = False
        self._queue: deque[_Pending] = deque()
        self._in_flight = 0
        # Events need a running event loop: they are created in __aenter__.
        self._wakeup: anyio.Event
        self._progress: anyio.Event
        self._stopped: anyio.Event
        self._accepted = 0
        self._settled = 0
        self._healthy = True
        self._closing = False
        self._task_group: TaskGroup | None = None

    @property
    def chain_id(self) -> str:
        return self._chain_id

    @property
    def head(self) -> ChainHead:
        """The last committed event of this writer's chain."""
        return self._head

    @property
    def queue_depth(self) -> int:
        """Events accepted and not yet committed (or given up)."""
        return len(self._queue) + self._in_flight

    @property
    def is_healthy(self) -> bool:
        """False from a failed commit until the next one succeeds."""
        return self._healthy

    async def __aenter__(self) -> Self:
        self._wakeup, self._progress, self._stopped = anyio.Event(), anyio.Event(), anyio.Event()
        if self._settings.chain_id is not None:
            await self._resume_chain()
        self._metrics.healthy.set(1)
        self._task_group = anyio.create_task_group()
        await self._task_group.__aenter__()
        self._task_group.start_soon(self._run, name="audit-writer")
        log.info("audit.writer_started", chain_id=self._chain_id, seq=self._head.seq, mode=self._settings.mode)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        task_group, self._task_group = self._task_group, None
        if task_group is None:
            return
        self._closing = True
        self._wakeup.set()
        try:
            with anyio.move_on_after(self._settings.drain_timeout_s):
                await self._stopped.wait()
        finally:
            task_group.cancel_scope.cancel()
            # The body's own exception (if any) propagates as is, not wrapped in a group.
            await task_group.__aexit__(None, None, None)
            self._account_for_leftovers()

    async def append(self, event: AuditEvent, /, *, wait: bool) -> None:
        """Queue `event`; with `wait`, return only once it is committed.

        Raises `AuditUnavailable` when the writer is closed, its queue is full, or (with
        `wait`) the database is failing or the commit takes longer than `commit_timeout_ms`.
        Once queued, an event is kept and retried even if its caller got the error.
        """
        if self._closing or self._task_group is None:
            self._refuse("closed")
        if self.queue_depth >= self._settings.queue_max_events:
            self._refuse("queue_full")
        try:
            # Encoding for the hash happens here, while the previous batch is being committed.
            values = postgres_values(event) if self._postgres else None
            pending = _Pending(prepare(event, chain_id=self._chain_id), values)
        except ValueError:
            log.error("audit.event_unencodable", chain_id=self._chain_id, event_id=event.event_id)  # noqa: TRY400 - no values in logs
            self._metrics.events_lost.labels(reason="unencodable").inc()
            self._refuse("unencodable")
        self._queue.append(pending)
        self._accepted += 1
        self._metrics.queue_depth.inc()
        self._wakeup.set()
        if not wait:
            return
        if not self._healthy:
            self._refuse("unhealthy")
        started = time.perf_counter()
        with anyio.move_on_after(self._settings.commit_timeout_ms / 1000.0):
            await pending.done.wait()
        self._metrics.strict_wait_seconds.observe(time.perf_counter() - started)
        if pending.error is not None:
            raise pending.error
        if not pending.done.is_set():
            self._refuse("timeout")

    async def wait_flushed(self, timeout_s: float | None = None) -> bool:
        """Wait until every event accepted so far is committed (or given up). False on timeout."""
        target = self._accepted
        with anyio.move_on_after(timeout_s):
            while self._settled < target:
                progress = self._progress
                await progress.wait()
            return True
        return False

    def _account_for_leftovers(self) -> None:
        left = self.queue_depth
        if left:
            log.error("audit.drain_incomplete", chain_id=self._chain_id, events_lost=left)
            self._metrics.events_lost.labels(reason="drain_timeout").inc(left)
            self._metrics.queue_depth.dec(left)
            self._queue.clear()
            self._in_flight = 0
        else:
            log.info("audit.writer_drained", chain_id=self._chain_id, seq=self._head.seq)

    def _refuse(self, reason: str) -> NoReturn:
        self._metrics.refused.labels(reason=reason).inc()
        raise AuditUnavailable(f"audit log unavailable ({reason.replace('_', ' ')})")

    async def _resume_chain(self) -> None:
        self._chain_registered, self._head = await load_head(self._engine, self._chain_id)

    async def _run(self) -> None:
        try:
            while True:
                batch = await self._next_batch()
                if not batch:
                    return
                await self._write(batch)
        finally:
            await self._drop_connection()
            self._stopped.set()

    async def _next_batch(self) -> list[_Pending]:
        limit = self._settings.batch_max_events
        while not self._queue:
            if self._closing:
                return []
            self._wakeup = anyio.Event()
            await self._wakeup.wait()
        delay_s = self._settings.batch_max_delay_ms / 1000.0
        if delay_s > 0 and len(self._queue) < limit and not self._closing:
            with anyio.move_on_after(delay_s):
                while len(self._queue) < limit and not self._closing:
                    self._wakeup = anyio.Event()
                    await self._wakeup.wait()
        batch = [self._queue.popleft() for _ in range(min(limit, len(self._queue)))]
        self._in_flight += len(batch)
        return batch

    async def _write(self, batch: list[_Pending]) -> None:
        delay_s = self._settings.retry_initial_ms / 1000.0
        attempt = 0
        while True:
            attempt += 1
            try:
                await self._commit(batch)
            except BatchRejected as exc:
                if attempt > 1 and await self._committed_before(batch):
                    # An earlier attempt did commit; only its answer was lost (connection cut).
                    self._settle(batch)
                    return
                self._metrics.failures.labels(kind="rejected").inc()
                await self._isolate(batch, exc)
                return
            except Exception as exc:  # noqa: BLE001 - the writer must outlive any failure; logged and retried
                self._on_transient_failure(batch, exc, attempt)
            else:
                self._settle(batch)
                return
            # A pooled connection may simply be stale (database restarted): retry once at once.
            if attempt > 1:
                await anyio.sleep(delay_s)
                delay_s = min(delay_s * 2, self._settings.retry_max_ms / 1000.0)

    async def _committed_before(self, batch: list[_Pending]) -> bool:
        """Whether every event of `batch` is already stored; if so, move the head past them.

        A retried batch is refused as a duplicate when the attempt that "failed" had in fact
        committed. Re-linking it (or its events one by one) would then collide with itself
        and every later batch would too; recognising it keeps the chain and the writer going.
        """
        try:
            head = await head_after(self._engine, self._chain_id, [p.prepared.event.event_id for p in batch])
        except Exception:  # noqa: BLE001 - unknown: treat the refusal as a refusal
            return False
        if head is None:
            return False
        self._head, self._chain_registered = head, True
        log.info("audit.commit_confirmed_after_retry", chain_id=self._chain_id, events=len(batch), seq=head.seq)
        return True

    async def _commit(self, batch: list[_Pending]) -> None:
        sealed, head = seal((p.prepared for p in batch), self._head)
        new_chain = None
        if not self._chain_registered:
            new_chain = {
                "chain_id": self._chain_id,
                "started_at": datetime.now(UTC),
                "gateway_version": self._gateway_version,
                "hostname": socket.gethostname()[:255],
                "pid": os.getpid(),
                "hash_version": HASH_VERSION,
            }
        started = time.perf_counter()
        values = [p.values for p in batch if p.values is not None] if self._postgres else None
        if self._postgres and self._connection is None:
            self._connection = await BatchConnection.open(self._engine)
        try:
            await insert_batch(self._engine, sealed, new_chain=new_chain, values=values, connection=self._connection)
        except BatchRejected:
            raise
        except BaseException:
            await self._drop_connection()
            raise
        self._metrics.commit_seconds.observe(time.perf_counter() - started)
        self._head = head
        self._chain_registered = True

    async def _drop_connection(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with anyio.CancelScope(shield=True), contextlib.suppress(Exception):
                await connection.close()

    def _on_transient_failure(self, batch: list[_Pending], exc: Exception, attempt: int) -> None:
        self._metrics.failures.labels(kind="transient").inc()
        if attempt == 1:
            return
        if self._healthy:
            self._healthy = False
            self._metrics.healthy.set(0)
        if attempt & (attempt - 1) == 0:  # attempts 2, 4, 8, ...: the log stays readable in a long outage
            # Only the error's type and SQLSTATE: its message can quote row values (content).
            log.error(
                "audit.commit_failed",
                chain_id=self._chain_id,
                events=len(batch),
                queued=self.queue_depth,
                attempt=attempt,
                error=type(exc).__name__,
                sqlstate=_sqlstate(exc),
            )
        failure = AuditUnavailable("audit log unavailable (database error)")
        for pending in batch:
            if not pending.done.is_set():
                pending.error = failure
                pending.done.set()

    def _settle(self, batch: list[_Pending]) -> None:
        if not self._healthy:
            self._healthy = True
            self._metrics.healthy.set(1)
            log.info("audit.commit_recovered", chain_id=self._chain_id, queued=self.queue_depth)
        for pending in batch:
            pending.done.set()
            self._metrics.events_written.labels(event_type=pending.prepared.event.event_type).inc()
        self._metrics.batches.inc()
        self._metrics.batch_size.observe(len(batch))
        self._finish(batch)

    def _finish(self, batch: list[_Pending]) -> None:
        self._in_flight -= len(batch)
        self._settled += len(batch)
        self._metrics.queue_depth.dec(len(batch))
        self._progress.set()
        self._progress = anyio.Event()

    async def _isolate(self, batch: list[_Pending], exc: Exception) -> None:
        """The database refused the batch's data: commit event by event, give up on the bad ones."""
        if len(batch) > 1:
            self._in_flight -= len(batch)
            for pending in batch:
                self._in_flight += 1
                await self._write([pending])
            return
        pending = batch[0]
        log.error(
            "audit.event_rejected",
            chain_id=self._chain_id,
            event_id=pending.prepared.event.event_id,
            event_type=pending.prepared.event.event_type,
            error=type(exc).__name__,
            sqlstate=_sqlstate(exc),
        )
        self._metrics.events_lost.labels(reason="rejected").inc()
        if not pending.done.is_set():
            pending.error = AuditUnavailable("audit log refused the event")
            pending.done.set()
        self._finish(batch)

"""Builds the governance parts from settings for the app's lifespan. Wiring only, no logic.

The order of the pipeline is decided here, and only here:

    ratelimit -> pii.scan -> policy -> pii.apply -> audit      (steps, before forwarding)
    audit response event, token settlement                    (finishers, after every call)

Each part owns its resources (the spaCy model, policy engines and the reload watcher, the audit
database engine and writer task, the rate-limit storage); `open_governance` starts them in order
and stops them in reverse, draining the audit writer last so no promised record is lost.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

import aiohttp
import anyio
import structlog

from gateway.audit.database import create_audit_engine
from gateway.audit.migrate import upgrade
from gateway.audit.query import AuditStore
from gateway.audit.step import AuditFinisher, AuditRequest
from gateway.audit.writer import AuditWriter
from gateway.config import Settings
from gateway.pii.answer import AnswerGuard
from gateway.pii.findings import PiiDetector
from gateway.pii.steps import ApplyPiiActions, DetectPii, UseDefaultPiiActions
from gateway.pipeline import Context, Finisher, Step
from gateway.policy.runtime import PolicyRuntime, build_policy_runtime
from gateway.ratelimit.service import RateLimits, open_rate_limits

if TYPE_CHECKING:
    from gateway.pii.analyzer import PresidioDetector

log = structlog.get_logger(__name__)

ReadinessCheck = Callable[[], Awaitable[bool]]


@dataclass(slots=True)
class Governance:
    """What the call handler and the admin/audit APIs need from the governance parts."""

    steps: list[Step] = field(default_factory=list)
    finishers: list[Finisher] = field(default_factory=list)
    checks: dict[str, ReadinessCheck] = field(default_factory=dict)
    answer_guard: Callable[[Context], AnswerGuard | None] | None = None
    audit_store: AuditStore | None = None
    policy_status: Callable[[], dict[str, Any]] | None = None


def _answer_guards(detector: PiiDetector, settings: Settings) -> Callable[[Context], AnswerGuard | None]:
    hash_key = settings.pii.hash_key.get_secret_value().encode() if settings.pii.hash_key else None

    def guard_for(ctx: Context) -> AnswerGuard | None:
        guard = AnswerGuard.for_context(ctx, detector, hash_key=hash_key, timeout_s=settings.pii.timeout_s)
        return guard if guard.has_work else None

    return guard_for


async def _writer_ready(writer: AuditWriter) -> bool:
    return writer.is_healthy


async def _add_rate_limits(stack: AsyncExitStack, settings: Settings, gov: Governance) -> RateLimits | None:
    if not settings.ratelimits.enabled:
        return None
    limits = await stack.enter_async_context(open_rate_limits(settings.ratelimits))
    gov.steps.append(limits.step)
    gov.checks["ratelimit_storage"] = limits.ready
    return limits


async def _add_pii_scan(settings: Settings, gov: Governance) -> PresidioDetector | None:
    if not settings.pii.enabled:
        return None
    # Imported here: loading Presidio and spaCy costs seconds, wasted when PII is off.
    from gateway.pii.analyzer import build_detector  # noqa: PLC0415

    detector = await anyio.to_thread.run_sync(build_detector, settings.pii)
    gov.steps.append(DetectPii(detector, fail_open=settings.pii.failure == "open"))
    gov.answer_guard = _answer_guards(detector, settings)
    return detector


async def _add_policy(
    stack: AsyncExitStack, settings: Settings, gov: Governance, backend_tags: Mapping[str, Mapping[str, str]]
) -> PolicyRuntime | None:
    if not settings.policy.enabled:
        if settings.pii.enabled:
            gov.steps.append(UseDefaultPiiActions(settings.pii))
        return None
    session: aiohttp.ClientSession | None = None
    if settings.policy.engine == "opa":
        session = await stack.enter_async_context(aiohttp.ClientSession())
    runtime = await anyio.to_thread.run_sync(lambda: build_policy_runtime(settings.policy, session=session))
    stack.callback(runtime.close)
    gov.policy_status = runtime.status
    gov.steps.append(
        runtime.step(
            backend_tags,
            default_pii_actions=dict(settings.pii.default_actions),
            default_redact_action=settings.pii.default_action,
        )
    )
    return runtime


async def _add_audit(stack: AsyncExitStack, settings: Settings, gov: Governance) -> AuditWriter | None:
    if not settings.audit.enabled:
        return None
    engine = create_audit_engine(settings.audit)
    stack.push_async_callback(engine.dispose)
    if settings.audit.database_url.startswith("sqlite"):
        # Embedded default: migrate on start. PostgreSQL is migrated by `gateway db upgrade`.
        await upgrade(engine, schema=settings.audit.postgres_schema)
    writer = await stack.enter_async_context(AuditWriter(engine, settings.audit))
    gov.steps.append(AuditRequest(writer, settings.audit))
    # Audit finishes first: the response event is what an acknowledged call promised.
    gov.finishers.append(AuditFinisher(writer, settings.audit))
    gov.audit_store = AuditStore(engine)
    gov.checks["audit_writer"] = partial(_writer_ready, writer)
    return writer


@asynccontextmanager
async def open_governance(
    settings: Settings, backend_tags: Mapping[str, Mapping[str, str]]
) -> AsyncIterator[Governance]:
    """Start every governance part from settings, in pipeline order; stop them in reverse on exit."""
    gov = Governance()
    async with AsyncExitStack() as stack:
        limits = await _add_rate_limits(stack, settings, gov)
        detector = await _add_pii_scan(settings, gov)
        runtime = await _add_policy(stack, settings, gov, backend_tags)
        if detector is not None:
            hash_key = settings.pii.hash_key.get_secret_value().encode() if settings.pii.hash_key else None
            gov.steps.append(ApplyPiiActions(hash_key))
        writer = await _add_audit(stack, settings, gov)
        if limits is not None:
            gov.finishers.append(limits.finisher)
        task_group = await stack.enter_async_context(anyio.create_task_group())
        stack.callback(task_group.cancel_scope.cancel)
        if runtime is not None and settings.policy.reload:
            task_group.start_soon(runtime.run)
        log.info(
            "governance.started",
            steps=[step.name for step in gov.steps],
            pii_ner=detector.ner_enabled if detector else None,
            policy_version=runtime.version if runtime else None,
            audit_chain=writer.chain_id if writer else None,
        )
        yield gov

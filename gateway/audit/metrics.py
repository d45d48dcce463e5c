"""Prometheus metrics of the audit writer: queue depth, commits, failures, strict-mode waits.

`AUDIT_METRICS` registers on the process-wide registry, like the metrics in
`gateway/observability.py`, so the gateway's `/metrics` exposes them (also in prometheus_client
multiprocess mode: the gauges use `livesum`). Tests pass their own `AuditMetrics` built on a
fresh `CollectorRegistry` to read exact values.
"""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram

_LATENCY_BUCKETS_S = (0.0005, 0.001, 0.002, 0.003, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)


@dataclass(frozen=True, slots=True)
class AuditMetrics:
    """The writer's collectors, registered together on one registry."""

    queue_depth: Gauge
    """Events accepted but not yet committed."""
    healthy: Gauge
    """1 while the last commit attempt succeeded, 0 while the database is failing."""
    events_written: Counter
    batches: Counter
    batch_size: Histogram
    commit_seconds: Histogram
    failures: Counter
    """Failed commit attempts, by kind: `transient` (retried) or `rejected` (event refused by the database)."""
    events_lost: Counter
    """Events never committed: rejected by the database, or still queued when the drain timed out."""
    refused: Counter
    """Appends refused with 503, by reason: `queue_full`, `unhealthy`, `timeout`, `closed`."""
    strict_wait_seconds: Histogram
    """How long strict-mode callers waited for their commit: the latency strict mode adds."""

    @classmethod
    def create(cls, registry: CollectorRegistry) -> AuditMetrics:
        return cls(
            queue_depth=Gauge(
                "gateway_audit_queue_depth",
                "Audit events accepted but not yet committed.",
                registry=registry,
                multiprocess_mode="livesum",
            ),
            healthy=Gauge(
                "gateway_audit_healthy",
                "1 while audit commits succeed, 0 while the audit database is failing.",
                registry=registry,
                multiprocess_mode="livemin",
            ),
            events_written=Counter(
                "gateway_audit_events_written_total",
                "Audit events committed, by event type.",
                ["event_type"],
                registry=registry,
            ),
            batches=Counter("gateway_audit_batches_total", "Audit batches committed.", registry=registry),
            batch_size=Histogram(
                "gateway_audit_batch_size", "Events per committed batch.", buckets=_BATCH_BUCKETS, registry=registry
            ),
            commit_seconds=Histogram(
                "gateway_audit_commit_seconds",
                "Time to commit one audit batch.",
                buckets=_LATENCY_BUCKETS_S,
                registry=registry,
            ),
            failures=Counter(
                "gateway_audit_write_failures_total",
                "Failed audit commit attempts, by kind (transient, rejected).",
                ["kind"],
                registry=registry,
            ),
            events_lost=Counter(
                "gateway_audit_events_lost_total",
                "Audit events never committed (rejected by the database, or left when the drain timed out).",
                ["reason"],
                registry=registry,
            ),
            refused=Counter(
                "gateway_audit_appends_refused_total",
                "Audit appends refused, making the call fail with 503, by reason.",
                ["reason"],
                registry=registry,
            ),
            strict_wait_seconds=Histogram(
                "gateway_audit_strict_wait_seconds",
                "Time strict-mode callers wait for their audit event to commit.",
                buckets=_LATENCY_BUCKETS_S,
                registry=registry,
            ),
        )


AUDIT_METRICS = AuditMetrics.create(REGISTRY)
"""The process-wide instance the gateway uses."""

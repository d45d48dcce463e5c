"""Prometheus metrics of the rate limiter.

Process-wide collectors, like those in `gateway/observability.py` (and, like them, shared
between worker processes by prometheus_client's multiprocess mode). Labels are low-cardinality
on purpose: the kind of limit and of scope, never a tenant, key or model id.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

_LATENCY_BUCKETS_S = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1)

DECISIONS = Counter(
    "gateway_ratelimit_decisions_total",
    "Calls checked against rate limits, by result (allowed, denied, failed_open, failed_closed).",
    ["result"],
)
DENIALS = Counter(
    "gateway_ratelimit_denials_total",
    "Calls denied, by the kind of limit and of scope that denied them.",
    ["limit", "scope"],
)
STORAGE_ERRORS = Counter(
    "gateway_ratelimit_storage_errors_total",
    "Failed round trips to the rate-limit storage, by operation (reserve, settle, rollback).",
    ["operation"],
)
SETTLED_TOKENS = Counter(
    "gateway_ratelimit_settled_tokens_total",
    "Token adjustments after calls: `refund` of over-estimates, `charge` of under-estimates.",
    ["direction"],
)
LATENCY = Histogram(
    "gateway_ratelimit_duration_seconds",
    "Time spent in the limiter per call, by operation (reserve, settle).",
    ["operation"],
    buckets=_LATENCY_BUCKETS_S,
)

# Children bound once for the per-call paths (labels() costs a lock and a dict lookup per call).
ALLOWED = DECISIONS.labels("allowed")
RESERVE_LATENCY = LATENCY.labels("reserve")
SETTLE_LATENCY = LATENCY.labels("settle")
TOKENS_CHARGED = SETTLED_TOKENS.labels("charge")
TOKENS_REFUNDED = SETTLED_TOKENS.labels("refund")

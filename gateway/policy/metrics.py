"""Prometheus metrics of the policy concern: decisions, reloads and shadow disagreements.

Process-wide collectors, like those in `gateway/observability.py`, so `/metrics` exposes them
without wiring. Labels are small fixed sets (never a tenant, model or version string).
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

DECISIONS = Counter(
    "gateway_policy_decisions_total",
    "Policy decisions by engine and outcome (allow, deny, unavailable, fail_open).",
    ["engine", "outcome"],
)
DECISION_LATENCY = Histogram(
    "gateway_policy_decision_seconds",
    "Time to evaluate data.gateway.decision, by engine.",
    ["engine"],
    buckets=(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
)
RELOADS = Counter(
    "gateway_policy_reloads_total",
    "Policy reload attempts by role (active, shadow) and outcome "
    "(applied, unchanged, refused_read, refused_compile, refused_test).",
    ["role", "outcome"],
)
LAST_RELOAD_OK = Gauge(
    "gateway_policy_last_reload_ok",
    "1 when the last reload attempt of the policy directory succeeded, 0 when it was refused.",
    ["role"],
    multiprocess_mode="livemin",
)
SHADOW_EVALUATIONS = Counter(
    "gateway_policy_shadow_evaluations_total",
    "Shadow (candidate) policy evaluations by result (agree, disagree, error).",
    ["result"],
)
SHADOW_DISAGREEMENTS = Counter(
    "gateway_policy_shadow_disagreements_total",
    "Fields on which the candidate policy's decision differed from the active one.",
    ["field"],
)
CACHE_HITS = Counter(
    "gateway_policy_decision_cache_hits_total",
    "Decisions served from the per-version cache (an identical input was decided before).",
)

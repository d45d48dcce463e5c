"""Prometheus metrics of PII detection.

Metric objects live at module level, as prometheus-client intends: one registration per
process, shared by every detector. Labels never carry text, only entity types and outcomes.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

CACHE_HITS = Counter("gateway_pii_cache_hits_total", "Texts whose PII findings came from the cache.")
CACHE_MISSES = Counter("gateway_pii_cache_misses_total", "Texts that had to be analysed for PII.")
ANALYSIS_SECONDS = Histogram(
    "gateway_pii_analysis_seconds",
    "Time to analyse one text for PII (cache misses only).",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
DETECTOR_FAILURES = Counter(
    "gateway_pii_detector_failures_total", "PII detection calls that failed or timed out.", ["reason"]
)
FINDINGS = Counter("gateway_pii_findings_total", "PII findings reported, by entity type.", ["entity_type"])

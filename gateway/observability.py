"""Logging (structlog) and Prometheus metrics, configured once at start-up.

Logs are one JSON object per line in production, dotted event names, data in keys. Prompt
and answer text never reach a log: code logs counts, types and lengths, and a last processor
drops known-sensitive keys as a backstop. Metrics are process-wide Prometheus collectors;
with several worker processes they use prometheus_client's multiprocess mode (the CLI sets it
up before the workers fork).
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import MutableMapping
from typing import Any

import msgspec
import structlog
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

from gateway.config import LoggingSettings

SENSITIVE_KEYS = frozenset(
    {
        "prompt",
        "messages",
        "content",
        "completion",
        "answer",
        "text",
        "input",
        "body",
        "api_key",
        "key",
        "authorization",
        "password",
        "secret",
        "value",
        "values",
    }
)

_LATENCY_BUCKETS_S = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)

REQUESTS = Counter("gateway_requests_total", "Front API calls by endpoint and HTTP status.", ["endpoint", "status"])
REQUEST_LATENCY = Histogram(
    "gateway_request_duration_seconds",
    "Time from request to the end of the response, by endpoint.",
    ["endpoint"],
    buckets=_LATENCY_BUCKETS_S,
)
STEP_LATENCY = Histogram(
    "gateway_step_duration_seconds",
    "Time spent in each governance step.",
    ["step"],
    buckets=_LATENCY_BUCKETS_S,
)
UPSTREAM_LATENCY = Histogram(
    "gateway_upstream_duration_seconds",
    "Time to the backend's response headers, by backend.",
    ["backend"],
    buckets=_LATENCY_BUCKETS_S,
)
BACKEND_ERRORS = Counter(
    "gateway_backend_errors_total",
    "Backend failures by backend and kind (connect, timeout, status_5xx, protocol).",
    ["backend", "kind"],
)
DENIALS = Counter("gateway_denials_total", "Calls refused by a governance step, by reason code.", ["code"])


_encoder = msgspec.json.Encoder()


def _json_dumps(obj: Any, **_: Any) -> str:
    # msgspec instead of the stdlib: the request log line is written on every call.
    try:
        return _encoder.encode(obj).decode()
    except TypeError:
        return json.dumps(obj, default=repr)


def _drop_sensitive(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key in SENSITIVE_KEYS.intersection(event_dict):
        event_dict[key] = "[dropped]"
    return event_dict


def configure_logging(settings: LoggingSettings) -> None:
    """Configure structlog and route stdlib loggers (uvicorn, sqlalchemy) through it."""
    level = getattr(logging, settings.level.upper())
    use_console = settings.format == "console" or (settings.format == "auto" and sys.stderr.isatty())
    renderer: Any = structlog.dev.ConsoleRenderer() if use_console else structlog.processors.JSONRenderer()
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[
            *shared,
            structlog.processors.format_exc_info,
            _drop_sensitive,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, _drop_sensitive, renderer],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # uvicorn's access log would duplicate our canonical request line.
    logging.getLogger("uvicorn.access").disabled = True
    # These log statement parameters (audit content) at debug level; presidio's own noisy
    # loggers are capped where presidio is wired (`pii/analyzer.py`).
    for name in ("aiosqlite", "sqlalchemy.engine"):
        logging.getLogger(name).setLevel(max(level, logging.WARNING))


def render_metrics(multiprocess_dir: str | None) -> tuple[bytes, str]:
    """The Prometheus exposition of this process, or of all workers in multiprocess mode."""
    if multiprocess_dir:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=multiprocess_dir)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST

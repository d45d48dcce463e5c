"""What the event pages show: stored content made readable, a call's events paired up, short labels.

Content is shown as the log keeps it (already redacted at write time); this module only
picks the readable parts out of the stored JSON (chat messages, a completion prompt, an
embedding input, the answer) and keeps the full JSON beside them. It returns plain strings:
the templates escape every one of them, so stored text can never become markup.

Pure: works on the flat event dictionaries of `gateway.audit.export.event_json`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from gateway.audit.record import OUTCOME_EVENT_TYPES

ContentKind = Literal["request", "answer", "other", "none", "purged"]
Event = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Message:
    role: str
    text: str


@dataclass(frozen=True, slots=True)
class ContentView:
    """The stored content of one event, ready to print as text."""

    kind: ContentKind
    messages: tuple[Message, ...] = ()
    """Request: the conversation (or prompt, or embedding input) as forwarded."""
    answer: str | None = None
    raw_json: str = ""
    """The content exactly as stored, pretty-printed."""


@dataclass(frozen=True, slots=True)
class CallEvents:
    """The events of one call: its `request` event and its outcome (`response`, `denied`, `error`)."""

    request: Event | None
    outcome: Event | None
    others: tuple[Event, ...] = ()


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(p, dict) for p in value):
        texts = [p["text"] for p in value if p.get("type") == "text" and isinstance(p.get("text"), str)]
        if len(texts) == len(value):
            return "\n".join(texts)
    return json.dumps(value, ensure_ascii=False, indent=2)


def _request_messages(body: Mapping[str, Any]) -> tuple[Message, ...]:
    messages = body.get("messages")
    if isinstance(messages, list):
        shown: list[Message] = []
        for message in messages:
            if not isinstance(message, dict):
                shown.append(Message("?", _as_text(message)))
                continue
            role = str(message.get("role", "?"))
            extra = {k: v for k, v in message.items() if k not in ("role", "content")}
            text = _as_text(message.get("content")) if message.get("content") is not None else ""
            if extra:
                text = (text + "\n" if text else "") + json.dumps(extra, ensure_ascii=False, indent=2)
            shown.append(Message(role, text))
        return tuple(shown)
    for field, role in (("prompt", "prompt"), ("input", "input")):
        if field in body:
            value = body[field]
            items = value if isinstance(value, list) and all(isinstance(v, str) for v in value) else [value]
            return tuple(Message(role, _as_text(v)) for v in items)
    return ()


def content_view(event: Event) -> ContentView:
    """The readable parts of an event's stored content."""
    content = event.get("content")
    if content is None:
        return ContentView("purged" if event.get("content_purged") else "none")
    raw = json.dumps(content, ensure_ascii=False, indent=2, sort_keys=True)
    if isinstance(content, dict) and isinstance(content.get("request"), dict):
        return ContentView("request", messages=_request_messages(content["request"]), raw_json=raw)
    if isinstance(content, dict) and "answer" in content:
        return ContentView("answer", answer=_as_text(content["answer"]), raw_json=raw)
    return ContentView("other", raw_json=raw)


def pair_call(events: Sequence[Event]) -> CallEvents:
    """Split the events sharing one request id (and chain) into request and outcome."""
    request = next((e for e in events if e.get("event_type") == "request"), None)
    outcome = next((e for e in events if e.get("event_type") in OUTCOME_EVENT_TYPES), None)
    others = tuple(e for e in events if e is not request and e is not outcome)
    return CallEvents(request, outcome, others)


def counts_label(counts: Mapping[str, int] | None) -> str:
    """`EMAIL_ADDRESS: 2, PERSON: 1`, or empty."""
    return ", ".join(f"{name}: {count}" for name, count in sorted((counts or {}).items()))


def pii_label(event: Event) -> str:
    """PII types found in the prompt and the answer, for the events table."""
    request = counts_label(event.get("pii_request"))
    response = counts_label(event.get("pii_response"))
    if request and response:
        return f"prompt: {request}; answer: {response}"
    if response:
        return f"answer: {response}"
    return request


def tokens_label(event: Event) -> str:
    """`12 + 30` (prompt + completion), `~` when estimated, or empty."""
    prompt, completion = event.get("prompt_tokens"), event.get("completion_tokens")
    if prompt is None and completion is None:
        return ""
    text = f"{prompt if prompt is not None else '?'} + {completion if completion is not None else '?'}"
    return ("~" + text) if event.get("tokens_estimated") else text


def decision_label(event: Event) -> str:
    """allowed / denied / failed, as the filter names them."""
    if event.get("event_type") == "error":
        return "failed"
    return {"allow": "allowed", "deny": "denied"}.get(str(event.get("decision")), "")


_STEP_ORDER = ("auth", "ratelimit", "pii.scan", "policy", "pii.apply", "audit", "upstream")


def latency_steps(latency_ms: Mapping[str, float] | None) -> list[tuple[str, float]]:
    """Latency per step in pipeline order, unknown steps after the known ones, `total` last."""
    items = dict(latency_ms or {})
    total = items.pop("total", None)
    rank = {step: i for i, step in enumerate(_STEP_ORDER)}
    ordered = sorted(items.items(), key=lambda item: (rank.get(item[0], len(rank)), item[0]))
    return [*ordered, *([("total", total)] if total is not None else [])]


def applied_actions(event: Event) -> list[tuple[str, str]]:
    """The PII actions for the entity types actually found in this event (the policy plans more)."""
    found = set(event.get("pii_request") or {}) | set(event.get("pii_response") or {})
    return sorted((t, a) for t, a in (event.get("pii_actions") or {}).items() if t in found)


def short_hash(value: str | None, length: int = 12) -> str:
    return "" if not value else value[:length] + "…"

"""The policy contract as plain values: what the gateway sends to Rego and what it accepts back.

Pure: no engine, no I/O. `PolicyInput` is the versioned input document (`input` in Rego);
`parse_decision` validates the document a policy returns for `data.gateway.decision` and turns
anything undefined or malformed into a denial with a reason that says what was wrong, so a broken
policy can never allow by accident. The field names here are the ones documented in
`docs/policy-authoring.md`; changing one is a breaking change for policy authors.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final, Literal, TypeAlias, get_args

from gateway.pipeline import StoreContent

JsonValue: TypeAlias = bool | int | float | str | list["JsonValue"] | dict[str, "JsonValue"] | None
"""A JSON document as Python values."""

PiiAction = Literal["mask", "pseudonymize", "hash", "block"]
PII_ACTIONS: Final[frozenset[str]] = frozenset(get_args(PiiAction))
STORE_CONTENT: Final[frozenset[str]] = frozenset(get_args(StoreContent))

INPUT_SCHEMA: Final = "gateway.policy.input/v1"
"""Identifies the input layout; bumped when a field is renamed or removed (never for additions)."""

DECISION_PATH: Final = "gateway/decision"
"""The document the gateway asks for: `data.gateway.decision`."""

_CODE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$")
_MAX_TEXT = 2000


class Undefined:
    """The engine found no value for the decision (distinct from a JSON null)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "UNDEFINED"


UNDEFINED: Final = Undefined()


@dataclass(frozen=True, slots=True)
class BackendCandidate:
    """A backend that serves the requested model, with the tags policy may route on."""

    name: str
    tags: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PolicyInput:
    """One call as policy sees it. Carries counts and names only, never prompt text or PII values."""

    request_id: str
    endpoint: str
    model: str
    requested_model: str
    stream: bool
    max_tokens: int | None
    estimated_tokens: int
    key_id: str
    tenant: str
    roles: tuple[str, ...]
    attributes: Mapping[str, str | int | bool | float | None]
    pii_request: Mapping[str, int]
    backends: tuple[BackendCandidate, ...]

    def to_json(self) -> dict[str, JsonValue]:
        """The `input` document, in the documented v1 layout."""
        return {
            "schema": INPUT_SCHEMA,
            "request": {
                "id": self.request_id,
                "endpoint": self.endpoint,
                "model": self.model,
                "requested_model": self.requested_model,
                "stream": self.stream,
                "max_tokens": self.max_tokens,
                "estimated_tokens": self.estimated_tokens,
            },
            "principal": {
                "key_id": self.key_id,
                "tenant": self.tenant,
                "roles": list[JsonValue](sorted(self.roles)),
                "attributes": dict(self.attributes),
            },
            "pii": {"request": dict(self.pii_request)},
            "backends": [{"name": b.name, "tags": dict(b.tags)} for b in self.backends],
            "model": {"id": self.model},
        }


@dataclass(frozen=True, slots=True)
class Reason:
    """Why a policy decided as it did: a stable dotted code and a message for people."""

    code: str
    message: str


@dataclass(frozen=True, slots=True)
class PolicyDecision:
    """A validated `data.gateway.decision`."""

    allow: bool
    reasons: tuple[Reason, ...] = ()
    redact: tuple[str, ...] = ()
    """Entity types to remove from the prompt before it is forwarded."""
    pii_action: Mapping[str, PiiAction] = field(default_factory=dict)
    """Entity type -> how to remove it (types in `redact` without an entry use the gateway default)."""
    backends: tuple[str, ...] = ()
    """Backends allowed to serve this call, in preference order."""
    max_tokens: int | None = None
    """Completion-token ceiling; None when the policy sets none."""
    store_content: StoreContent = "redacted"

    @property
    def reason_codes(self) -> tuple[str, ...]:
        return tuple(r.code for r in self.reasons)

    def to_json(self) -> dict[str, JsonValue]:
        """The decision in the output-contract layout (for `gateway policy eval` and comparisons)."""
        return {
            "allow": self.allow,
            "reasons": [{"code": r.code, "message": r.message} for r in self.reasons],
            "redact": list(self.redact),
            "pii_action": dict(self.pii_action),
            "backends": list(self.backends),
            "max_tokens": self.max_tokens,
            "store_content": self.store_content,
        }


def denial(code: str, message: str) -> PolicyDecision:
    """A decision that refuses the call for one reason."""
    return PolicyDecision(allow=False, reasons=(Reason(code, message),), store_content="redacted")


class _Malformed(ValueError):
    """The decision document breaks the output contract; the message says where."""


def parse_decision(value: JsonValue | Undefined) -> PolicyDecision:
    """Validate a policy's decision document.

    Undefined or malformed documents become denials (`policy.decision_undefined`,
    `policy.decision_malformed`) whose message names the offending field, never its content.
    """
    if isinstance(value, Undefined):
        return denial(
            "policy.decision_undefined",
            "the policy set defines no data.gateway.decision for this input",
        )
    try:
        return _parse(value)
    except _Malformed as exc:
        return denial("policy.decision_malformed", f"the policy returned a malformed decision: {exc}")


def _parse(value: JsonValue) -> PolicyDecision:
    if not isinstance(value, dict):
        raise _Malformed(f"expected an object, got {_kind(value)}")
    allow = value.get("allow")
    if not isinstance(allow, bool):
        raise _Malformed(f"`allow` must be a boolean, got {_kind(allow)}")
    reasons = _reasons(value.get("reasons", []))
    if not allow and not reasons:
        reasons = (Reason("policy.denied", "denied by policy (no reason given)"),)
    redact = _strings(value.get("redact", []), "redact")
    pii_action = _pii_action(value.get("pii_action", {}))
    if "backends" not in value:
        raise _Malformed("`backends` is missing")
    backends = _strings(value["backends"], "backends")
    max_tokens = _max_tokens(value.get("max_tokens"))
    store = value.get("store_content", "redacted")
    if not isinstance(store, str) or store not in STORE_CONTENT:
        raise _Malformed(f"`store_content` must be one of {sorted(STORE_CONTENT)}")
    return PolicyDecision(
        allow=allow,
        reasons=reasons,
        redact=redact,
        pii_action=pii_action,
        backends=backends,
        max_tokens=max_tokens,
        store_content=_store(store),
    )


def _reasons(value: JsonValue) -> tuple[Reason, ...]:
    if not isinstance(value, list):
        raise _Malformed(f"`reasons` must be an array, got {_kind(value)}")
    out: list[Reason] = []
    for i, item in enumerate(value):
        if isinstance(item, str):
            code, message = item, item
        elif isinstance(item, dict) and isinstance(item.get("code"), str):
            code = str(item["code"])
            raw = item.get("message", code)
            if not isinstance(raw, str):
                raise _Malformed(f"`reasons[{i}].message` must be a string")
            message = raw
        else:
            raise _Malformed(f"`reasons[{i}]` must be a code string or an object with `code` and `message`")
        if not _CODE.match(code):
            raise _Malformed(f"`reasons[{i}].code` is not a dotted lower-case reason code")
        out.append(Reason(code, message[:_MAX_TEXT]))
    return tuple(out)


def _strings(value: JsonValue, name: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _Malformed(f"`{name}` must be an array of strings")
    return tuple(str(v) for v in value)


def _pii_action(value: JsonValue) -> dict[str, PiiAction]:
    if not isinstance(value, dict):
        raise _Malformed(f"`pii_action` must be an object, got {_kind(value)}")
    out: dict[str, PiiAction] = {}
    for entity, action in value.items():
        if not isinstance(action, str) or action not in PII_ACTIONS:
            raise _Malformed(f"`pii_action.{entity}` must be one of {sorted(PII_ACTIONS)}")
        out[entity] = _action(action)
    return out


def _max_tokens(value: JsonValue) -> int | None:
    if value is None:
        return None
    # OPA answers with exact numbers, other engines with floats: accept an integral float.
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise _Malformed("`max_tokens` must be a positive integer or null")
    return value


def _action(value: str) -> PiiAction:
    match value:
        case "mask" | "pseudonymize" | "hash" | "block":
            return value
    raise _Malformed(f"unknown pii action {value!r}")  # pragma: no cover - checked by the caller


def _store(value: str) -> StoreContent:
    match value:
        case "redacted" | "none" | "full":
            return value
    raise _Malformed(f"unknown store_content {value!r}")  # pragma: no cover - checked by the caller


def _kind(value: object) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}.get(
        type(value), "null" if value is None else "a number"
    )

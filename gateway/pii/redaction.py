"""Redaction: turning a text and its findings into the text that may leave the gateway.

Pure. Given findings and the action per entity type it masks (`<EMAIL_ADDRESS>`),
pseudonymizes (`<PERSON_1>`, via the request's `Pseudonymizer`), hashes
(`<EMAIL_ADDRESS:1a2b3c4d5e6f>`, keyed HMAC-SHA256, so equal values correlate in the audit
log without being readable) or reports what must be blocked. Refusing a call is the pipeline
step's job, not this module's; detecting is the detector's. Findings that overlap are
resolved first: the higher score wins, then the longer span.
"""

from __future__ import annotations

import bisect
import hashlib
import hmac
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, get_args

from gateway.pii.findings import Finding
from gateway.pii.locations import TextKind
from gateway.pii.pseudonyms import Pseudonymizer, entity_label, mask_token, plain_value

Action = Literal["mask", "pseudonymize", "hash", "block"]
ACTIONS: frozenset[str] = frozenset(get_args(Action))
NO_ACTION: frozenset[str] = frozenset({"allow", "none", ""})
"""Action names that leave an entity type alone, as if it had no action."""

HASH_HEX_CHARS = 12


@dataclass(frozen=True, slots=True)
class Redacted:
    """A redacted text and what was done, as (entity type, action) per replaced span."""

    text: str = field(repr=False)
    applied: tuple[tuple[str, Action], ...] = ()

    @property
    def changed(self) -> bool:
        return bool(self.applied)


def normalize_actions(actions: Mapping[str, str]) -> dict[str, Action]:
    """Actions per entity type, with unknown action names turned into `mask` (fail closed).

    `allow`, `none` and the empty string mean "no action" and are dropped. Entity types are
    upper-cased (`email_address` from a policy still matches `EMAIL_ADDRESS` findings).
    """
    normalized: dict[str, Action] = {}
    for entity_type, action in actions.items():
        name = action.strip().lower()
        if name in NO_ACTION:
            continue
        normalized[entity_type.strip().upper()] = _as_action(name)
    return normalized


def unknown_actions(actions: Mapping[str, str]) -> dict[str, str]:
    """Entity type -> action name for the action names `normalize_actions` replaces by `mask`."""
    return {
        entity_type: action
        for entity_type, action in actions.items()
        if action.strip().lower() not in ACTIONS | NO_ACTION
    }


def resolve_overlaps(findings: Iterable[Finding], text_length: int | None = None) -> tuple[Finding, ...]:
    """Non-overlapping findings, sorted by start.

    Where findings overlap, the higher score wins, then the longer span, then the earlier one.
    Spans are clipped to `[0, text_length]`; empty spans are dropped.
    """
    candidates: list[Finding] = []
    for finding in findings:
        start = max(finding.start, 0)
        end = finding.end if text_length is None else min(finding.end, text_length)
        if start < end:
            clipped = finding if (start, end) == (finding.start, finding.end) else _span(finding, start, end)
            candidates.append(clipped)
    candidates.sort(key=lambda f: (-f.score, f.start - f.end, f.start, f.entity_type))
    starts: list[int] = []
    kept: list[Finding] = []
    for finding in candidates:
        at = bisect.bisect_right(starts, finding.start)
        if at > 0 and kept[at - 1].end > finding.start:
            continue
        if at < len(kept) and kept[at].start < finding.end:
            continue
        starts.insert(at, finding.start)
        kept.insert(at, finding)
    return tuple(kept)


def action_for(actions: Mapping[str, Action], entity_type: str) -> Action | None:
    """The action for an entity type, matching upper-cased keys too; None when it has none."""
    action = actions.get(entity_type)
    return action if action is not None else actions.get(entity_type.upper())


def blocked_types(findings: Iterable[Sequence[Finding]], actions: Mapping[str, Action]) -> tuple[str, ...]:
    """Sorted entity types that were found and whose action is `block` (types, never values)."""
    return tuple(
        sorted({f.entity_type for group in findings for f in group if action_for(actions, f.entity_type) == "block"})
    )


def hash_token(entity_type: str, value: str, key: bytes) -> str:
    """`<EMAIL_ADDRESS:1a2b3c4d5e6f>`: a keyed HMAC-SHA256 of the value, shortened.

    Equal values of one entity type give equal tokens under one key; without the key the
    token reveals nothing about the value.
    """
    digest = hmac.new(key, f"{entity_type}\0{value}".encode(), hashlib.sha256).hexdigest()
    return f"<{entity_label(entity_type)}:{digest[:HASH_HEX_CHARS]}>"


def redact(
    text: str,
    findings: Iterable[Finding],
    actions: Mapping[str, Action],
    *,
    pseudonymizer: Pseudonymizer | None = None,
    hash_key: bytes | None = None,
    kind: TextKind = "text",
    restorable: bool = True,
) -> Redacted:
    """Apply the actions to the findings of one text.

    Entity types without an action are left alone. `block` masks here: deciding to refuse a
    call is the caller's (see `blocked_types`). `hash` without a key masks, so a missing key
    can never let a value through. Placeholders are created as `restorable` in
    `pseudonymizer`, which is required when some action is `pseudonymize`.
    """
    pieces: list[str] = []
    applied: list[tuple[str, Action]] = []
    cursor = 0
    for finding in resolve_overlaps(findings, len(text)):
        action = action_for(actions, finding.entity_type)
        if action is None:
            continue
        start, end = (
            _json_safe_span(text, finding.start, finding.end) if kind == "json" else (finding.start, finding.end)
        )
        if start >= end:
            continue
        value = text[start:end]
        pieces.append(text[cursor:start])
        pieces.append(
            _replacement(
                finding.entity_type,
                value,
                action,
                pseudonymizer=pseudonymizer,
                hash_key=hash_key,
                kind=kind,
                restorable=restorable,
            )
        )
        applied.append((finding.entity_type, action))
        cursor = end
    if not applied:
        return Redacted(text)
    pieces.append(text[cursor:])
    return Redacted("".join(pieces), tuple(applied))


class AnswerRedactor:
    """Applies one request's actions to its answer, then restores the request's pseudonyms.

    Per request, like its `Pseudonymizer`. `block` masks (an answer that already started
    cannot be refused), pseudonyms of values first seen in the answer stay hidden, and findings
    on the request's own placeholders are ignored. `counts` tallies every entity found in the
    answer, acted on or not.
    """

    __slots__ = ("_actions", "_counts", "_hash_key", "_pseudonymizer", "_stored")

    def __init__(
        self,
        actions: Mapping[str, str],
        pseudonymizer: Pseudonymizer | None = None,
        *,
        hash_key: bytes | None = None,
    ) -> None:
        self._actions: dict[str, Action] = {
            entity_type: "mask" if action == "block" else action
            for entity_type, action in normalize_actions(actions).items()
        }
        self._pseudonymizer = pseudonymizer if pseudonymizer is not None else Pseudonymizer()
        self._hash_key = hash_key
        self._counts: Counter[str] = Counter()
        self._stored: list[str] = []

    def __repr__(self) -> str:
        return f"<AnswerRedactor actions={len(self._actions)} found={self._counts.total()}>"

    @property
    def counts(self) -> dict[str, int]:
        """Entity type -> number found in the answer so far."""
        return dict(self._counts)

    @property
    def has_work(self) -> bool:
        """Whether answers can change at all: some action applies, or placeholders await restoring."""
        return bool(self._actions) or self._pseudonymizer.count > 0

    def apply(self, text: str, findings: Iterable[Finding], *, kind: TextKind = "text") -> str:
        """The text the caller may see for one answer text (or one released stream segment)."""
        protected = self._pseudonymizer.placeholder_spans(text)
        kept = [f for f in resolve_overlaps(findings, len(text)) if not _overlaps_any(f, protected)]
        self._counts.update(f.entity_type for f in kept)
        redacted = redact(
            text,
            kept,
            self._actions,
            pseudonymizer=self._pseudonymizer,
            hash_key=self._hash_key,
            kind=kind,
            restorable=False,
        )
        self._stored.append(redacted.text)
        return self._pseudonymizer.restore(redacted.text, kind=kind)

    @property
    def stored_text(self) -> str:
        """The answer as the audit log may keep it: redacted, pseudonyms not restored."""
        return "".join(self._stored)


def _as_action(name: str) -> Action:
    if name == "pseudonymize":
        return "pseudonymize"
    if name == "hash":
        return "hash"
    if name == "block":
        return "block"
    return "mask"


def _json_safe_span(text: str, start: int, end: int) -> tuple[int, int]:
    """A span of a JSON document whose replacement keeps the document valid.

    Detectors sometimes take the quotes around a value; those stay. A span that starts right
    after an escaping backslash takes the backslash, so no dangling escape is left behind.
    """
    while start < end and text[start] == '"' and not _is_escaped(text, start):
        start += 1
    while end > start and text[end - 1] == '"' and not _is_escaped(text, end - 1):
        end -= 1
    if start < end and _is_escaped(text, start):
        start -= 1
    while end > start and text[end - 1] == "\\" and not _is_escaped(text, end - 1):
        end -= 1
    return start, end


def _is_escaped(text: str, position: int) -> bool:
    """Whether the character at `position` follows an odd number of backslashes."""
    backslashes = 0
    while position - backslashes > 0 and text[position - backslashes - 1] == "\\":
        backslashes += 1
    return backslashes % 2 == 1


def _span(finding: Finding, start: int, end: int) -> Finding:
    return Finding(finding.entity_type, start, end, finding.score)


def _overlaps_any(finding: Finding, spans: Sequence[tuple[int, int]]) -> bool:
    return any(start < finding.end and finding.start < end for start, end in spans)


def _replacement(
    entity_type: str,
    value: str,
    action: Action,
    *,
    pseudonymizer: Pseudonymizer | None,
    hash_key: bytes | None,
    kind: TextKind,
    restorable: bool,
) -> str:
    if action == "pseudonymize":
        if pseudonymizer is None:
            raise ValueError("the pseudonymize action needs a Pseudonymizer")
        return pseudonymizer.placeholder_for(entity_type, plain_value(value, kind), restorable=restorable)
    if action == "hash" and hash_key is not None:
        return hash_token(entity_type, plain_value(value, kind), hash_key)
    return mask_token(entity_type)

"""The hash chain: how events are linked, and how a stored chain is verified.

Each gateway process writes its own chain. Event n carries `prev_hash` = the hash of event
n-1 (64 zeros for the first) and `hash` = SHA-256 over the canonical JSON of its fields,
its chain id and `prev_hash`. The content is not hashed directly: its own SHA-256
(`content_hash`) is, so a retention purge can drop content and the chain still verifies.
The sequence number is an index for people and queries; order is carried by the links.

Verification walks a chain in sequence order and reports the first broken link and why:

- modified: an event no longer matches its hash (or its content its content hash);
- deleted: an event's predecessor is missing;
- inserted: an event that the gateway did not write sits in the chain;
- reordered: an event's predecessor appears after it.

A hash chain without a secret cannot show that events were cut off at the end of a chain,
or that someone recomputed every hash after an edit; `ChainReport.head` is what an officer
records elsewhere (an anchor) to detect both. Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from gateway.audit.record import AuditEvent, canonical_json, format_time, sha256_hex

GENESIS_HASH = "0" * 64
HASH_VERSION = 1

TamperKind = Literal["modified", "deleted", "inserted", "reordered"]


def _hashed_fields(event: AuditEvent, *, chain_id: str) -> dict[str, object]:
    """The fields an event's hash covers, except `prev_hash`.

    The field list is explicit, not derived from the dataclass: adding a field to
    `AuditEvent` must not silently change how existing rows verify.
    """
    return {
        "v": HASH_VERSION,
        "chain_id": chain_id,
        "event_id": event.event_id,
        "event_type": event.event_type,
        "occurred_at": format_time(event.occurred_at),
        "request_id": event.request_id,
        "gateway_version": event.gateway_version,
        "tenant": event.tenant,
        "key_id": event.key_id,
        "roles": list(event.roles),
        "endpoint": event.endpoint,
        "requested_model": event.requested_model,
        "model": event.model,
        "backend": event.backend,
        "stream": event.stream,
        "decision": event.decision,
        "reasons": list(event.reasons),
        "pii_actions": dict(event.pii_actions),
        "policy_version": event.policy_version,
        "pii_request": dict(event.pii_request),
        "pii_response": dict(event.pii_response),
        "prompt_tokens": event.prompt_tokens,
        "completion_tokens": event.completion_tokens,
        "tokens_estimated": event.tokens_estimated,
        "latency_ms": dict(event.latency_ms),
        "status_code": event.status_code,
        "error_code": event.error_code,
        "client_addr": event.client_addr,
        "user_agent": event.user_agent,
        "details": dict(event.details),
        "content_hash": event.content_hash,
    }


@dataclass(frozen=True, slots=True)
class PreparedEvent:
    """An event encoded for hashing, with a gap where its predecessor's hash goes.

    The canonical encoding (sorted keys) of the hashed fields is `before + prev_hash + after`,
    so linking a prepared event into its chain costs one SHA-256 and no encoding. The writer
    prepares events as they are queued, off the commit's critical path.
    """

    event: AuditEvent
    chain_id: str
    before: bytes
    after: bytes

    def digest(self, prev_hash: str) -> str:
        return sha256_hex(b"".join((self.before, prev_hash.encode(), self.after)))


_SPLIT_KEY = "prev_hash"


def prepare(event: AuditEvent, *, chain_id: str) -> PreparedEvent:
    """Encode `event` for chain `chain_id`, leaving out only its predecessor's hash."""
    fields = _hashed_fields(event, chain_id=chain_id)
    # Keys sort on both sides of "prev_hash" (e.g. "chain_id" before, "v" after), so both
    # halves are non-empty objects and splicing them is exactly the whole canonical encoding.
    head = canonical_json({k: v for k, v in fields.items() if k < _SPLIT_KEY})
    tail = canonical_json({k: v for k, v in fields.items() if k > _SPLIT_KEY})
    return PreparedEvent(event, chain_id, head[:-1] + b',"prev_hash":"', b'",' + tail[1:])


def event_hash(event: AuditEvent, *, chain_id: str, prev_hash: str) -> str:
    """SHA-256 (hex) of the canonical encoding of an event in its chain position."""
    return prepare(event, chain_id=chain_id).digest(prev_hash)


def content_hash(content: object) -> str:
    """SHA-256 (hex) of stored content, as kept in `AuditEvent.content_hash`."""
    return sha256_hex(canonical_json(content))


@dataclass(frozen=True, slots=True)
class ChainLink:
    """An event's place in its chain."""

    chain_id: str
    seq: int
    prev_hash: str
    hash: str


@dataclass(frozen=True, slots=True)
class ChainHead:
    """The last event of a chain (seq 0 and the genesis hash for an empty chain)."""

    chain_id: str
    seq: int = 0
    hash: str = GENESIS_HASH


@dataclass(frozen=True, slots=True)
class SealedEvent:
    """An event with its link: what is written to the database."""

    event: AuditEvent
    link: ChainLink


def seal(events: Iterable[AuditEvent | PreparedEvent], head: ChainHead) -> tuple[list[SealedEvent], ChainHead]:
    """Link events after `head`, in order. Returns them and the new head."""
    sealed: list[SealedEvent] = []
    seq, prev = head.seq, head.hash
    for item in events:
        prepared = item if isinstance(item, PreparedEvent) else prepare(item, chain_id=head.chain_id)
        if prepared.chain_id != head.chain_id:
            msg = f"event {prepared.event.event_id} was prepared for chain {prepared.chain_id}, not {head.chain_id}"
            raise ValueError(msg)
        seq += 1
        digest = prepared.digest(prev)
        sealed.append(SealedEvent(prepared.event, ChainLink(head.chain_id, seq, prev, digest)))
        prev = digest
    return sealed, ChainHead(head.chain_id, seq, prev)


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """An event as read back from the database, for verification."""

    row_id: int
    event: AuditEvent
    link: ChainLink
    indexed_pii: tuple[tuple[str, str, int], ...] | None = None
    """The event's rows in the PII search index, when the reader checks them too."""


@dataclass(frozen=True, slots=True)
class ChainBreak:
    """The first place a chain stops verifying, and why (for people: `detail`)."""

    chain_id: str
    kind: TamperKind
    event_id: str
    seq: int
    row_id: int
    detail: str


@dataclass(frozen=True, slots=True)
class ChainReport:
    """The result of verifying one chain (or a range of it)."""

    chain_id: str
    checked: int
    head: ChainHead
    """The last event verified; an anchor to keep outside the database."""
    broken: ChainBreak | None = None

    @property
    def ok(self) -> bool:
        return self.broken is None


class ChainVerifier:
    """Verifies one chain fed event by event in sequence order, in constant memory.

    It looks `lookahead` events ahead and remembers `lookback` accepted hashes, which is
    what it needs to tell a reordering or an insertion from a deletion.
    """

    def __init__(
        self,
        chain_id: str,
        *,
        anchor: ChainHead | None = None,
        purged_before: datetime | None = None,
        lookahead: int = 256,
        lookback: int = 4096,
    ) -> None:
        """`anchor` is the verified event just before the first one fed (None: chain start).

        `purged_before`: content of events older than this may be missing (a recorded purge).
        """
        self._chain_id = chain_id
        self._head = anchor or ChainHead(chain_id)
        self._purged_before = purged_before
        self._lookahead = max(1, lookahead)
        self._lookback = max(1, lookback)
        self._window: deque[StoredEvent] = deque()
        self._accepted: OrderedDict[str, int] = OrderedDict()
        self._prev: StoredEvent | None = None
        self._checked = 0
        self._broken: ChainBreak | None = None

    @property
    def broken(self) -> ChainBreak | None:
        return self._broken

    def feed(self, stored: StoredEvent) -> None:
        """Add the next event in sequence order; checks happen once enough follow it."""
        if self._broken is not None:
            return
        self._window.append(stored)
        while len(self._window) > self._lookahead and self._broken is None:
            self._check(self._window.popleft())

    def feed_all(self, events: Iterable[StoredEvent]) -> ChainReport:
        for stored in events:
            self.feed(stored)
        return self.finish()

    def finish(self) -> ChainReport:
        """Check what is left and report."""
        while self._window and self._broken is None:
            self._check(self._window.popleft())
        self._window.clear()
        return ChainReport(self._chain_id, self._checked, self._head, self._broken)

    def _break(self, stored: StoredEvent, kind: TamperKind, detail: str) -> None:
        self._broken = ChainBreak(self._chain_id, kind, stored.event.event_id, stored.link.seq, stored.row_id, detail)

    def _check(self, current: StoredEvent) -> None:
        link = current.link
        computed = event_hash(current.event, chain_id=self._chain_id, prev_hash=link.prev_hash)
        self_ok = computed == link.hash
        link_ok = link.prev_hash == self._head.hash
        if link_ok and self_ok:
            problem = self._field_problem(current)
            if problem is not None:
                self._break(current, "modified", problem)
                return
            self._accept(current)
            return
        if link_ok:
            self._break(current, "modified", "the event no longer matches its hash: a field was changed")
            return
        self._diagnose_link(current, self_ok=self_ok)

    def _diagnose_link(self, current: StoredEvent, *, self_ok: bool) -> None:
        prev_hash = current.link.prev_hash
        expected_seq = self._head.seq + 1
        ahead = next((s for s in self._window if s.link.hash == prev_hash), None)
        if ahead is not None:
            self._break(
                current,
                "reordered",
                f"its predecessor (event {ahead.event.event_id}, seq {ahead.link.seq}) comes after it",
            )
        elif self._prev is not None and prev_hash == self._prev.link.prev_hash:
            self._break(
                self._prev,
                "inserted",
                f"this event and the next one (seq {current.link.seq}) both claim the same predecessor; "
                "the gateway wrote the next one",
            )
        elif prev_hash in self._accepted:
            self._break(
                current,
                "inserted",
                f"it claims to follow seq {self._accepted[prev_hash]}, which already has a successor",
            )
        elif self._window and self._window[0].link.prev_hash == self._head.hash:
            self._break(current, "inserted", "the next event links directly to the event before this one")
        elif self_ok:
            seq = current.link.seq
            if seq > expected_seq:
                missing = f"seq {expected_seq}" if seq == expected_seq + 1 else f"seq {expected_seq}..{seq - 1}"
                detail = f"its predecessor is missing ({missing})"
            else:
                detail = "its predecessor is missing and later events were renumbered"
            self._break(current, "deleted", detail)
        else:
            self._break(current, "inserted", "neither its hash nor its link is valid: the gateway did not write it")

    def _field_problem(self, current: StoredEvent) -> str | None:
        event = current.event
        if current.link.seq != self._head.seq + 1:
            return f"its sequence number was changed (expected {self._head.seq + 1}, found {current.link.seq})"
        if event.content is not None:
            if event.content_hash is None or content_hash(event.content) != event.content_hash:
                return "its content no longer matches its content hash"
        elif event.content_hash is not None and not (
            self._purged_before is not None and event.occurred_at < self._purged_before
        ):
            return "its content was removed without a recorded purge"
        if current.indexed_pii is not None and sorted(current.indexed_pii) != sorted(event.pii_index):
            return "the PII search index disagrees with the event"
        return None

    def _accept(self, current: StoredEvent) -> None:
        self._checked += 1
        self._head = ChainHead(self._chain_id, current.link.seq, current.link.hash)
        self._prev = current
        self._accepted[current.link.hash] = current.link.seq
        if len(self._accepted) > self._lookback:
            self._accepted.popitem(last=False)


def verify_chain(chain_id: str, events: Sequence[StoredEvent], *, purged_before: datetime | None = None) -> ChainReport:
    """Verify a whole chain held in memory (tests, small exports)."""
    return ChainVerifier(chain_id, purged_before=purged_before).feed_all(events)

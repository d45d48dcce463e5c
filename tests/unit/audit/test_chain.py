"""The hash chain: sealing, and verification that names the first bad event and why."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.audit.chain import (
    GENESIS_HASH,
    ChainHead,
    ChainLink,
    ChainVerifier,
    StoredEvent,
    event_hash,
    prepare,
    seal,
    verify_chain,
)
from gateway.audit.record import canonical_json, format_time, sha256_hex
from tests.unit.audit.fakes import make_event

CHAIN = "chain-a"


def build_chain(n: int, *, chain_id: str = CHAIN) -> list[StoredEvent]:
    sealed, _ = seal((make_event(i) for i in range(1, n + 1)), ChainHead(chain_id))
    return [StoredEvent(s.link.seq, s.event, s.link, indexed_pii=s.event.pii_index) for s in sealed]


def renumbered(events: list[StoredEvent]) -> list[StoredEvent]:
    """Give events consecutive seq numbers from 1, as someone hiding a gap would."""
    return [replace(e, link=replace(e.link, seq=i)) for i, e in enumerate(events, start=1)]


def forged_after(prev: StoredEvent, *, seq: int, n: int = 999) -> StoredEvent:
    """An event forged by someone who knows the algorithm: valid hash, linked to `prev`."""
    event = make_event(n, request_id="forged")
    digest = event_hash(event, chain_id=CHAIN, prev_hash=prev.link.hash)
    return StoredEvent(10_000 + n, event, ChainLink(CHAIN, seq, prev.link.hash, digest), indexed_pii=event.pii_index)


def test_seal_links_each_event_to_the_previous_one():
    events = build_chain(3)
    assert events[0].link.prev_hash == GENESIS_HASH
    assert events[1].link.prev_hash == events[0].link.hash
    assert [e.link.seq for e in events] == [1, 2, 3]


def test_seal_continues_from_a_head():
    first, head = seal([make_event(1)], ChainHead(CHAIN))
    more, head2 = seal([make_event(2)], head)
    assert more[0].link.prev_hash == first[0].link.hash
    assert (head2.seq, head2.hash) == (2, more[0].link.hash)


def test_resealing_the_same_events_gives_the_same_hashes():
    events = [make_event(1), make_event(2)]
    assert seal(events, ChainHead(CHAIN))[0] == seal(events, ChainHead(CHAIN))[0]


def _whole_payload_hash(event, *, chain_id: str, prev_hash: str) -> str:
    """Hash version 1 as first written: one canonical JSON object of every hashed field."""
    fields = {
        "v": 1,
        "chain_id": chain_id,
        "prev_hash": prev_hash,
        "occurred_at": format_time(event.occurred_at),
        "roles": list(event.roles),
        "reasons": list(event.reasons),
        **{
            name: getattr(event, name)
            for name in [
                "event_id",
                "event_type",
                "request_id",
                "gateway_version",
                "tenant",
                "key_id",
                "endpoint",
                "requested_model",
                "model",
                "backend",
                "stream",
                "decision",
                "policy_version",
                "prompt_tokens",
                "completion_tokens",
                "tokens_estimated",
                "status_code",
                "error_code",
                "client_addr",
                "user_agent",
                "content_hash",
            ]
        },
        **{name: dict(getattr(event, name)) for name in ("pii_actions", "pii_request", "pii_response", "latency_ms")},
        "details": dict(event.details),
    }
    return sha256_hex(canonical_json(fields))


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(min_value=1, max_value=10_000),
    tenant=st.text(max_size=20),
    user_agent=st.text(max_size=40),
    prev=st.sampled_from([GENESIS_HASH, "ab" * 32]),
)
def test_prepared_events_hash_exactly_like_the_whole_encoding(n, tenant, user_agent, prev):
    # Rows written before events were prepared in halves must keep verifying.
    event = make_event(n, tenant=tenant, user_agent=user_agent)
    expected = _whole_payload_hash(event, chain_id=CHAIN, prev_hash=prev)
    assert prepare(event, chain_id=CHAIN).digest(prev) == expected
    assert event_hash(event, chain_id=CHAIN, prev_hash=prev) == expected


def test_an_event_prepared_for_another_chain_is_refused():
    with pytest.raises(ValueError, match="prepared for chain"):
        seal([prepare(make_event(1), chain_id="other")], ChainHead(CHAIN))


def test_the_hash_covers_the_chain_id():
    event = make_event(1)
    assert event_hash(event, chain_id="a", prev_hash=GENESIS_HASH) != event_hash(
        event, chain_id="b", prev_hash=GENESIS_HASH
    )


def test_an_untouched_chain_verifies_and_reports_its_head():
    events = build_chain(20)
    report = verify_chain(CHAIN, events)
    assert report.ok
    assert report.checked == 20
    assert report.head == ChainHead(CHAIN, 20, events[-1].link.hash)


def test_an_empty_chain_verifies():
    assert verify_chain(CHAIN, []).ok


def test_modified_field_is_reported_at_that_event():
    events = build_chain(10)
    events[4] = replace(events[4], event=replace(events[4].event, model="gpt-4o"))
    broken = verify_chain(CHAIN, events).broken
    assert broken is not None
    assert (broken.kind, broken.seq, broken.event_id) == ("modified", 5, events[4].event.event_id)


def test_modified_decision_is_reported():
    events = build_chain(5)
    events[2] = replace(events[2], event=replace(events[2].event, decision="deny"))
    broken = verify_chain(CHAIN, events).broken
    assert broken is not None
    assert (broken.kind, broken.seq) == ("modified", 3)


def test_modified_content_is_reported_even_though_content_is_hashed_separately():
    events = build_chain(5)
    events[1] = replace(events[1], event=replace(events[1].event, content={"request": {"messages": []}}))
    broken = verify_chain(CHAIN, events).broken
    assert broken is not None
    assert (broken.kind, broken.seq) == ("modified", 2)
    assert "content" in broken.detail


def test_content_removed_without_a_purge_is_reported():
    events = build_chain(5)
    events[3] = replace(events[3], event=replace(events[3].event, content=None))
    broken = verify_chain(CHAIN, events).broken
    assert broken is not None
    assert (broken.kind, broken.seq) == ("modified", 4)


def test_content_removed_by_a_recorded_purge_verifies():
    events = build_chain(5)
    purged = [replace(e, event=replace(e.event, content=None)) for e in events[:3]] + events[3:]
    cutoff = events[3].event.occurred_at
    assert verify_chain(CHAIN, purged, purged_before=cutoff).ok


def test_content_removed_after_the_purge_cutoff_is_reported():
    events = build_chain(5)
    purged = [replace(e, event=replace(e.event, content=None)) for e in events]
    broken = verify_chain(CHAIN, purged, purged_before=events[2].event.occurred_at).broken
    assert broken is not None
    assert broken.seq == 3


def test_deleted_event_is_reported_at_its_successor():
    events = build_chain(10)
    del events[4]
    broken = verify_chain(CHAIN, events).broken
    assert broken is not None
    assert (broken.kind, broken.seq) == ("deleted", 6)
    assert "seq 5" in broken.detail


def test_deleted_event_is_found_even_when_later_events_are_renumbered():
    events = build_chain(10)
    del events[4]
    broken = verify_chain(CHAIN, renumbered(events)).broken
    assert broken is not None
    assert (broken.kind, broken.seq) == ("deleted", 5)


def test_deleted_first_event_is_reported():
    events = build_chain(4)[1:]
    broken = verify_chain(CHAIN, events).broken
    assert broken is not None
    assert (broken.kind, broken.seq) == ("deleted", 2)


def test_several_deleted_events_are_reported_as_a_range():
    events = build_chain(10)
    del events[3:6]
    broken = verify_chain(CHAIN, events).broken
    assert broken is not None
    assert broken.kind == "deleted"
    assert "seq 4..6" in broken.detail


def test_inserted_forgery_with_a_valid_hash_is_named():
    """The forger knows the algorithm, links to event 4 and renumbers later events."""
    events = build_chain(8)
    forged = forged_after(events[3], seq=5)
    tampered = renumbered([*events[:4], forged, *events[4:]])
    broken = verify_chain(CHAIN, tampered).broken
    assert broken is not None
    assert (broken.kind, broken.event_id) == ("inserted", forged.event.event_id)


def test_inserted_row_with_garbage_hash_is_named():
    events = build_chain(8)
    junk = replace(events[2], row_id=500, event=make_event(77), link=ChainLink(CHAIN, 4, "ab" * 32, "cd" * 32))
    tampered = renumbered([*events[:3], junk, *events[3:]])
    broken = verify_chain(CHAIN, tampered).broken
    assert broken is not None
    assert (broken.kind, broken.event_id) == ("inserted", junk.event.event_id)


def test_inserted_row_copied_from_another_event_is_named():
    events = build_chain(8)
    copy = replace(events[1], row_id=600, link=replace(events[1].link, seq=5))
    tampered = renumbered([*events[:4], copy, *events[4:]])
    broken = verify_chain(CHAIN, tampered).broken
    assert broken is not None
    assert (broken.kind, broken.seq) == ("inserted", 5)


def test_forged_event_appended_after_an_old_event_is_named():
    events = build_chain(8)
    forged = forged_after(events[2], seq=9)
    broken = verify_chain(CHAIN, [*events, forged]).broken
    assert broken is not None
    assert (broken.kind, broken.event_id) == ("inserted", forged.event.event_id)


def test_swapped_neighbours_are_reported_as_reordered():
    events = build_chain(10)
    events[4], events[5] = events[5], events[4]
    broken = verify_chain(CHAIN, renumbered(events)).broken
    assert broken is not None
    assert (broken.kind, broken.seq, broken.event_id) == ("reordered", 5, events[4].event.event_id)


def test_swapped_distant_events_are_reported_as_reordered():
    events = build_chain(30)
    events[3], events[20] = events[20], events[3]
    broken = verify_chain(CHAIN, renumbered(events)).broken
    assert broken is not None
    assert (broken.kind, broken.seq) == ("reordered", 4)


def test_changed_sequence_number_is_reported():
    events = build_chain(6)
    tampered = [*events[:3], *(replace(e, link=replace(e.link, seq=e.link.seq + 10)) for e in events[3:])]
    broken = verify_chain(CHAIN, tampered).broken
    assert broken is not None
    assert (broken.kind, broken.seq) == ("modified", 14)


def test_pii_index_that_disagrees_with_the_event_is_reported():
    events = build_chain(5)
    events[2] = replace(events[2], indexed_pii=(("request", "EMAIL_ADDRESS", 9),))
    broken = verify_chain(CHAIN, events).broken
    assert broken is not None
    assert (broken.kind, broken.seq) == ("modified", 3)
    assert "index" in broken.detail


def test_verification_stops_at_the_first_break():
    events = build_chain(10)
    events[2] = replace(events[2], event=replace(events[2].event, tenant="x"))
    del events[6]
    report = verify_chain(CHAIN, events)
    assert report.broken is not None
    assert report.broken.seq == 3
    assert report.checked == 2


def test_a_range_verifies_from_an_anchor():
    events = build_chain(10)
    anchor = ChainHead(CHAIN, events[4].link.seq, events[4].link.hash)
    report = ChainVerifier(CHAIN, anchor=anchor).feed_all(events[5:])
    assert report.ok
    assert report.checked == 5


def test_a_range_with_the_wrong_anchor_is_broken():
    events = build_chain(10)
    anchor = ChainHead(CHAIN, events[3].link.seq, events[3].link.hash)
    report = ChainVerifier(CHAIN, anchor=anchor).feed_all(events[5:])
    assert report.broken is not None
    assert report.broken.kind == "deleted"


def test_events_of_another_chain_do_not_verify_in_this_one():
    other = build_chain(3, chain_id="chain-b")
    assert not verify_chain(CHAIN, other).ok


@pytest.mark.parametrize("lookahead", [1, 2, 8])
def test_small_lookahead_still_detects_a_swap(lookahead):
    events = build_chain(12)
    events[6], events[7] = events[7], events[6]
    report = ChainVerifier(CHAIN, lookahead=lookahead).feed_all(renumbered(events))
    assert report.broken is not None
    assert report.broken.seq == 7


@settings(max_examples=40, deadline=None)
@given(n=st.integers(min_value=3, max_value=25), data=st.data())
def test_any_single_deletion_before_the_last_event_is_detected(n, data):
    events = build_chain(n)
    index = data.draw(st.integers(min_value=0, max_value=n - 2))
    del events[index]
    broken = verify_chain(CHAIN, events).broken
    assert broken is not None
    assert broken.kind == "deleted"
    assert broken.seq == index + 2


@settings(max_examples=40, deadline=None)
@given(n=st.integers(min_value=2, max_value=25), data=st.data())
def test_any_adjacent_swap_is_detected_as_reordered(n, data):
    events = build_chain(n)
    index = data.draw(st.integers(min_value=0, max_value=n - 2))
    events[index], events[index + 1] = events[index + 1], events[index]
    broken = verify_chain(CHAIN, renumbered(events)).broken
    assert broken is not None
    assert broken.kind == "reordered"
    assert broken.seq == index + 1


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(min_value=1, max_value=20),
    data=st.data(),
    field=st.sampled_from(["tenant", "key_id", "model", "backend", "policy_version", "user_agent"]),
    value=st.text(min_size=1, max_size=12),
)
def test_any_field_change_is_detected_as_modified(n, data, field, value):
    events = build_chain(n)
    index = data.draw(st.integers(min_value=0, max_value=n - 1))
    if getattr(events[index].event, field) == value:
        value += "!"
    events[index] = replace(events[index], event=replace(events[index].event, **{field: value}))
    broken = verify_chain(CHAIN, events).broken
    assert broken is not None
    assert (broken.kind, broken.seq) == ("modified", index + 1)


def test_times_are_hashed_to_the_microsecond():
    events = build_chain(3)
    moved = events[1].event.occurred_at + timedelta(microseconds=1)
    events[1] = replace(events[1], event=replace(events[1].event, occurred_at=moved))
    broken = verify_chain(CHAIN, events).broken
    assert broken is not None
    assert broken.seq == 2

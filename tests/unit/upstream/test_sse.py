"""The incremental SSE parser and encoders (gateway/upstream/sse.py)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.upstream.sse import DONE_FRAME, SseEvent, SseParser, encode_comment, encode_comments, encode_data


def parse_all(*chunks: bytes) -> list[SseEvent]:
    parser = SseParser()
    events = [event for chunk in chunks for event in parser.feed(chunk)]
    return events + parser.close()


def parse_bytewise(stream: bytes) -> list[SseEvent]:
    return parse_all(*(stream[i : i + 1] for i in range(len(stream))))


def test_data_event_is_returned_when_the_blank_line_arrives():
    parser = SseParser()
    assert parser.feed(b'data: {"a": 1}\n') == []
    assert parser.feed(b"\n") == [SseEvent(data='{"a": 1}')]


def test_multiple_data_lines_are_joined_with_newlines():
    assert parse_all(b"data: one\ndata: two\ndata:\n\n") == [SseEvent(data="one\ntwo\n")]


def test_event_id_retry_and_comments_are_reported():
    stream = b": keep-alive\nevent: delta\nid: 42\nretry: 1500\ndata: x\n\n"
    assert parse_all(stream) == [SseEvent(data="x", event="delta", id="42", comments=(" keep-alive",), retry=1500)]


def test_event_without_data_line_has_data_none():
    assert parse_all(b"event: ping\n\n") == [SseEvent(data=None, event="ping")]


def test_comment_only_event_is_reported_with_its_text():
    assert parse_all(b": ping - 2025-01-01 00:00:00\n\n") == [
        SseEvent(data=None, comments=(" ping - 2025-01-01 00:00:00",))
    ]


def test_data_field_without_colon_is_an_empty_data_line():
    assert parse_all(b"data\n\n") == [SseEvent(data="")]


def test_only_one_space_after_the_colon_is_removed():
    assert parse_all(b"data:x\n\ndata:  two spaces\n\n") == [SseEvent(data="x"), SseEvent(data=" two spaces")]


def test_blank_lines_without_fields_yield_no_event():
    assert parse_all(b"\n\n\r\n\r\r\n") == []


def test_unknown_fields_are_kept_in_extra():
    """llama.cpp streams errors as an `error:` field; the normaliser needs to see it."""
    assert parse_all(b'error: {"code":500}\nfoo\n\n') == [
        SseEvent(data=None, extra=(("error", '{"code":500}'), ("foo", "")))
    ]


def test_empty_event_field_means_no_event_type():
    assert parse_all(b"event:\ndata: x\n\n") == [SseEvent(data="x", event=None)]


def test_id_containing_nul_is_ignored():
    parser = SseParser()
    events = parser.feed(b"id: 7\ndata: a\n\nid: bad\x00id\ndata: b\n\n")
    assert [event.id for event in events] == ["7", None]
    assert parser.last_event_id == "7"


def test_non_numeric_retry_is_ignored():
    assert parse_all(b"retry: 10s\ndata: x\n\n") == [SseEvent(data="x")]


@pytest.mark.parametrize("newline", [b"\n", b"\r\n", b"\r"], ids=["lf", "crlf", "cr"])
def test_every_line_ending_style_is_understood(newline):
    stream = newline.join([b"event: e", b"data: a", b"data: b", b"", b"data: c", b"", b""])
    assert parse_all(stream) == [SseEvent(data="a\nb", event="e"), SseEvent(data="c")]


def test_crlf_split_between_cr_and_lf_is_one_line_ending():
    assert parse_all(b"data: a\r", b"\ndata: b\r\n\r", b"\n") == [SseEvent(data="a\nb")]


def test_cr_at_chunk_end_followed_by_text_ends_the_line():
    assert parse_all(b"data: a\r", b"data: b\r\r") == [SseEvent(data="a\nb")]


def test_multibyte_character_split_across_chunks_is_decoded_whole():
    stream = "data: 日本語 😀\n\n".encode()
    assert parse_bytewise(stream) == [SseEvent(data="日本語 😀")]


def test_invalid_utf8_becomes_replacement_character():
    assert parse_all(b"data: a\xffb\n\n") == [SseEvent(data="a\ufffdb")]


def test_truncated_utf8_at_end_of_stream_becomes_replacement_character():
    assert parse_all(b"data: a\xe6\x97") == [SseEvent(data="a\ufffd")]


def test_leading_bom_is_dropped_even_when_split():
    bom = "\ufeff".encode()
    assert parse_all(bom[:1], bom[1:] + b"data: x\n\n") == [SseEvent(data="x")]


def test_only_the_first_bom_is_dropped():
    bom = "\ufeff".encode()
    assert parse_all(bom + bom + b"data: x\n\n") == [SseEvent(data=None, extra=(("\ufeffdata", "x"),))]


def test_field_name_split_across_chunks_is_parsed():
    assert parse_all(b"da", b"ta", b": hel", b"lo\n", b"\n") == [SseEvent(data="hello")]


def test_close_flushes_an_event_without_final_blank_line():
    parser = SseParser()
    assert parser.feed(b"data: [DONE]") == []
    assert parser.close() == [SseEvent(data="[DONE]")]


def test_close_is_idempotent_and_feed_after_close_fails():
    parser = SseParser()
    parser.feed(b"data: x\n")
    assert parser.close() == [SseEvent(data="x")]
    assert parser.close() == []
    with pytest.raises(RuntimeError):
        parser.feed(b"data: y\n\n")


def test_encode_data_round_trips_through_the_parser():
    assert encode_data('{"a":1}') == b'data: {"a":1}\n\n'
    assert encode_data(b"x") == b"data: x\n\n"
    assert parse_all(encode_data("line one\nline two\r\nline three")) == [
        SseEvent(data="line one\nline two\nline three")
    ]


def test_encode_comment_round_trips_through_the_parser():
    assert encode_comment(" keep-alive") == b": keep-alive\n\n"
    assert parse_all(encode_comment(" a\nb")) == [SseEvent(data=None, comments=(" a", "b"))]
    assert parse_all(encode_comments((" one", " two"))) == [SseEvent(data=None, comments=(" one", " two"))]


def test_done_frame_parses_as_done():
    assert parse_all(DONE_FRAME) == [SseEvent(data="[DONE]")]


# -- property: any split of a stream yields the same events ------------------------------------------

_line_text = st.text(
    alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="\r\n\x00\ufeff"),
    max_size=12,
)
_field_name = _line_text.filter(lambda n: n and ":" not in n and n not in {"data", "event", "id", "retry"})
_newline = st.sampled_from(["\n", "\r\n", "\r"])


@st.composite
def _event_and_lines(draw: st.DrawFn) -> tuple[SseEvent, list[str]]:
    comments = draw(st.lists(_line_text, max_size=2))
    data = draw(st.none() | st.lists(_line_text, min_size=1, max_size=3))
    event = draw(st.none() | _line_text.filter(bool))
    id_ = draw(st.none() | _line_text)
    extra = draw(st.lists(st.tuples(_field_name, _line_text), max_size=2))
    if not (comments or data is not None or event or id_ is not None or extra):
        data = [""]
    lines = [f":{c}" for c in comments]
    lines += [f"event: {event}"] if event else []
    lines += [f"id: {id_}"] if id_ is not None else []
    lines += [f"{name}: {value}" for name, value in extra]
    lines += [f"data: {d}" for d in data or []]
    expected = SseEvent(
        data="\n".join(data) if data is not None else None,
        event=event,
        id=id_,
        comments=tuple(comments),
        extra=tuple(extra),
    )
    return expected, lines


@st.composite
def _streams(draw: st.DrawFn) -> tuple[list[SseEvent], bytes]:
    events = draw(st.lists(_event_and_lines(), max_size=5))
    text = "\ufeff" if draw(st.booleans()) else ""
    for _, lines in events:
        for line in [*lines, ""]:
            newline = draw(_newline)
            if not line and text.endswith("\r") and newline[0] == "\n":
                newline = "\r"  # CR then LF would be one line ending, not an empty line
            text += line + newline
    if events and draw(st.booleans()):  # sometimes the final blank line is missing
        text = text.rstrip("\r\n") + draw(_newline)
    return [expected for expected, _ in events], text.encode()


@given(_streams(), st.data())
def test_any_chunking_of_a_stream_yields_the_same_events(stream, data):
    expected, raw = stream
    cuts = sorted(data.draw(st.lists(st.integers(0, len(raw)), max_size=8)))
    chunks = [raw[a:b] for a, b in zip([0, *cuts], [*cuts, len(raw)], strict=True)]
    assert parse_all(raw) == expected
    assert parse_all(*chunks) == expected


@given(_streams())
def test_byte_by_byte_feeding_yields_the_same_events(stream):
    expected, raw = stream
    assert parse_bytewise(raw) == expected

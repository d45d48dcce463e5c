from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.pii.findings import Finding
from gateway.pii.pseudonyms import Pseudonymizer
from gateway.pii.redaction import AnswerRedactor
from gateway.pii.stream import DEFAULT_WINDOW, ScanRequest, StreamWindow, WindowSettings, hold_start
from tests.unit.pii.fakes import RegexDetector

DETECTOR = RegexDetector()
ACTIONS = {"EMAIL_ADDRESS": "mask", "PHONE_NUMBER": "hash", "CREDIT_CARD": "mask", "PERSON": "pseudonymize"}
KEY = b"stream-test-key"


def _redactor() -> AnswerRedactor:
    p = Pseudonymizer()
    p.placeholder_for("PERSON", "Alice Jones")
    p.placeholder_for("EMAIL_ADDRESS", "alice@example.com")
    return AnswerRedactor(ACTIONS, p, hash_key=KEY)


def _stream(chunks, *, window_settings=DEFAULT_WINDOW, redactor=None, clock=None):
    """Drive a window like the async wrapper does; returns the emitted pieces (final flush last)."""
    redactor = redactor or _redactor()
    window = StreamWindow(window_settings)
    pieces = []
    for position, chunk in enumerate(chunks):
        scan = window.push(chunk, now=clock(position) if clock else 0.0)
        if scan is not None:
            segment = window.release(scan, DETECTOR.find_sync(scan.text))
            pieces.append(redactor.apply(segment.text, segment.findings))
    scan = window.finish()
    if scan is not None:
        segment = window.release(scan, DETECTOR.find_sync(scan.text))
        pieces.append(redactor.apply(segment.text, segment.findings))
    return pieces


def _whole(text):
    return _redactor().apply(text, DETECTOR.find_sync(text))


def test_an_email_split_into_single_characters_is_never_emitted_in_part():
    text = "Write to bob.smith@example.org today, please."

    pieces = _stream(list(text))

    assert "".join(pieces) == "Write to <EMAIL_ADDRESS> today, please."
    assert not any(fragment in piece for piece in pieces for fragment in ("bob", "@", "example"))


def test_a_placeholder_split_into_single_characters_is_restored_and_never_emitted_in_part():
    text = "Hello <PERSON_1>, your mail <EMAIL_ADDRESS_1> works."

    pieces = _stream(list(text))

    assert "".join(pieces) == "Hello Alice Jones, your mail alice@example.com works."
    assert not any("<" in piece for piece in pieces)


def test_multi_token_entities_split_across_chunks_are_caught():
    text = "Card 4111 1111 1111 1111 belongs to John Smith from Bob."

    pieces = _stream(list(text))

    assert "".join(pieces) == _whole(text)
    assert "4111" not in "".join(pieces)
    assert not any("John" in piece for piece in pieces)


def test_the_first_complete_word_goes_out_at_once():
    window = StreamWindow()

    assert window.push("Hel", now=0.0) is None
    scan = window.push("lo, th", now=0.0)

    assert scan is not None
    assert window.release(scan, DETECTOR.find_sync(scan.text)).text == "Hello, "
    assert window.pending_chars == len("th")


def test_only_what_could_still_be_an_entity_is_held_back():
    text = "Sure, the answer is 42 and"

    assert text[hold_start(text) :] == "42 and"
    assert "Sure, the answer is Alice "[hold_start("Sure, the answer is Alice ") :] == "Alice "
    assert hold_start("Done. ") == len("Done. ")
    assert hold_start("Hello,") == len("Hello,")
    assert "call <PERSON_"[hold_start("call <PERSON_") :] == "<PERSON_"
    assert hold_start("The ") == len("The ")
    assert "see **Alice "[hold_start("see **Alice ") :] == "**Alice "


def test_a_finding_reaching_into_the_held_tail_is_held_whole():
    window = StreamWindow(WindowSettings(scan_chars=1))
    window.push("x", now=0.0)  # nothing complete yet
    scan = window.push("yz and then 555-123", now=0.0)
    assert scan is not None

    segment = window.release(scan, (Finding("PHONE_NUMBER", len("xyz and "), len(scan.text), 0.7),))

    assert segment.text == "xyz and "


def test_detector_calls_are_rare_for_single_character_deltas():
    text = ("The quick brown fox jumps over the lazy dog, then rests. " * 40)[:2000]
    window_settings = WindowSettings(scan_chars=48)
    window = StreamWindow(window_settings)
    scans = 0
    for char in text:
        scan = window.push(char, now=0.0)
        if scan is not None:
            scans += 1
            window.release(scan, ())

    assert scans <= len(text) // 40
    assert scans >= len(text) // 200


def test_a_slow_stream_is_scanned_after_the_delay_even_with_few_characters():
    window = StreamWindow(WindowSettings(scan_chars=1000, max_delay_s=0.1))
    first = window.push("ok ", now=0.0)
    window.release(first, ())

    assert window.push("there ", now=0.05) is None
    scan = window.push("you ", now=0.2)

    assert scan is not None
    assert window.release(scan, ()).text == "there you "


def test_a_long_run_without_spaces_is_capped():
    window = StreamWindow(WindowSettings(max_hold_chars=100, scan_chars=10))
    emitted = ""
    for _ in range(300):
        scan = window.push("ab0", now=0.0)
        if scan is not None:
            emitted += window.release(scan, ()).text
        assert window.pending_chars <= 100 + 10 + 3  # cap + one scan's worth + one delta

    assert len(emitted) + window.pending_chars == 900
    assert len(emitted) >= 900 - 113


def test_cjk_text_streams_with_a_short_hold_and_names_are_caught():
    text = "请联系张三确认订单信息谢谢您的耐心等待我们会尽快处理李四的退款申请" * 2
    pieces = _stream(list(text), window_settings=WindowSettings(cjk_hold_chars=12, scan_chars=8))

    assert "".join(pieces) == _whole(text)
    assert "张三" not in "".join(pieces)
    assert max(len(piece) for piece in pieces[:-1]) < 40


def test_context_of_emitted_text_is_passed_to_the_detector_but_not_redacted_again():
    window = StreamWindow(WindowSettings(context_chars=7))
    window.release(window.push("My SSN is ", now=0.0), ())
    scan = window.push("123 45 6789 ok then", now=0.0) or window.finish()

    assert scan.text.startswith("SSN is ")
    segment = window.release(scan, (Finding("US_SSN", scan.offset, scan.offset + 11, 0.9), Finding("X", 0, 3, 1)))

    assert segment.findings == (Finding("US_SSN", 0, 11, 0.9),)


def test_the_scan_protocol_is_enforced():
    window = StreamWindow()
    scan = window.push("Hello, ", now=0.0)

    with pytest.raises(RuntimeError):
        window.push("more", now=0.0)
    with pytest.raises(RuntimeError):
        window.release(ScanRequest(scan.text, scan.offset, final=False), ())


_FRAGMENTS = [
    "hello",
    "World",
    "the",
    "answer:",
    "42",
    "Alice Jones",
    "Bob",
    "Bobby",
    "John Smith",
    "bob.smith@example.org",
    "555-123-4567",
    "4111 1111 1111 1111",
    "<PERSON_1>",
    "<PERSON_1>'s",
    "<EMAIL_ADDRESS_1>",
    "<PERSON_2>",
    "<",
    "J.",
    "Dr.",
    "(see",
    "x<PERSON_1>y",
    "张三",
    "The",
    "Sure",
    "**Alice Jones**",
    "name:John Smith",
]
_SEPARATORS = [" ", " ", "  ", "\n", ", ", ". ", ""]


@st.composite
def _text_and_cuts(draw):
    words = draw(st.lists(st.sampled_from(_FRAGMENTS), min_size=1, max_size=14))
    text = "".join(word + draw(st.sampled_from(_SEPARATORS)) for word in words)
    cuts = sorted(draw(st.sets(st.integers(1, max(len(text) - 1, 1)), max_size=len(text))))
    return text, cuts


@settings(max_examples=150, deadline=None)
@given(_text_and_cuts(), st.sampled_from([1, 16, 48]))
def test_any_chunking_gives_the_same_output_as_one_chunk(case, scan_chars):
    text, cuts = case
    chunks = [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True)]

    pieces = _stream(chunks, window_settings=WindowSettings(scan_chars=scan_chars), clock=lambda i: i * 0.03)

    assert "".join(pieces) == _whole(text)


def test_window_settings_reject_values_that_would_stall_or_leak():
    with pytest.raises(ValueError):
        WindowSettings(scan_chars=0)
    with pytest.raises(ValueError):
        WindowSettings(context_chars=-1)


def test_a_capped_run_without_spaces_never_splits_a_placeholder():
    text = "a" * 30 + "<PERSON_1>" + "b" * 30 + "<EMAIL_ADDRESS_1>" + "c" * 5
    pieces = _stream(list(text), window_settings=WindowSettings(max_hold_chars=8, scan_chars=4))

    assert "".join(pieces) == _whole(text)
    assert "Alice Jones" in "".join(pieces)
    assert not any("<PERSON" in piece or "<EMAIL" in piece for piece in pieces)


def test_the_cjk_hold_keeps_a_trailing_latin_or_digit_run_whole():
    text = "请拨打电话联系客服号码abc12345"
    window_settings = WindowSettings(cjk_hold_chars=4)

    assert text[hold_start(text, window_settings) :] == "abc12345"
    assert "请拨打电话联系客服号码"[hold_start("请拨打电话联系客服号码", window_settings) :] == "客服号码"

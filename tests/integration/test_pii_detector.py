# ruff: noqa: RUF001 - Chinese full-width punctuation is part of the test texts
"""The presidio-backed PII detector with the real spaCy model: behaviour, cache, failures.

The detector is built once per module (loading the model takes a second); tests that need
other settings build their own.
"""

from __future__ import annotations

import itertools
import socket

import anyio
import pytest
from prometheus_client import REGISTRY
from structlog.testing import capture_logs

from gateway.errors import PiiDetectorUnavailable
from gateway.pii.analyzer import PresidioDetector, build_detector, supported_entities
from gateway.pii.findings import PiiDetector
from gateway.pii.settings import DEFAULT_ENTITIES, PiiSettings

pytestmark = [pytest.mark.integration]


@pytest.fixture(scope="module")
def detector() -> PresidioDetector:
    return build_detector(PiiSettings())


def kinds(text: str, detector: PresidioDetector) -> set[tuple[str, str]]:
    return {(f.entity_type, text[f.start : f.end]) for f in detector.analyze(text)}


def test_detector_satisfies_the_port(detector):
    port: PiiDetector = detector
    assert port is detector
    assert detector.ner_enabled


@pytest.mark.anyio
async def test_find_returns_findings_for_each_text_in_order(detector):
    texts = ["Email me at ada@example.com", "nothing to see here", "Call +1 (415) 555-2671 now"]
    results = await detector.find(texts)
    assert [[f.entity_type for f in found] for found in results] == [["EMAIL_ADDRESS"], [], ["PHONE_NUMBER"]]


def test_english_prompt_with_name_email_phone_and_card(detector):
    text = "Hi, I'm Maria Garcia, email maria.garcia@example.org, phone 415-555-0134, card 4111 1111 1111 1111."
    found = kinds(text, detector)
    assert {
        ("PERSON", "Maria Garcia"),
        ("EMAIL_ADDRESS", "maria.garcia@example.org"),
        ("PHONE_NUMBER", "415-555-0134"),
        ("CREDIT_CARD", "4111 1111 1111 1111"),
    } <= found


def test_chinese_prompt_with_name_mobile_id_and_address(detector):
    text = "请联系张伟先生，手机13812345678，身份证号11010519491231002X，地址：北京市朝阳区建国路88号"
    assert {
        ("PERSON", "张伟"),
        ("PHONE_NUMBER", "13812345678"),
        ("CN_RESIDENT_ID", "11010519491231002X"),
        ("ADDRESS", "北京市朝阳区建国路88号"),
    } <= kinds(text, detector)


def test_lower_case_names_are_found_through_the_capitalised_copy(detector):
    text = "please forward the invoice to maria garcia and david o'brien before friday"
    people = {value for kind, value in kinds(text, detector) if kind == "PERSON"}
    assert people & {"maria garcia", "david o'brien"}


def test_secrets_in_code_are_found(detector):
    text = 'client = OpenAI(api_key="sk-proj-abcDEF1234567890abcdEFGH1234567890xyz")\nAWS=AKIAIOSFODNN7EXAMPLE'
    assert {kind for kind, _ in kinds(text, detector)} >= {"API_KEY", "AWS_ACCESS_KEY"}


@pytest.mark.parametrize(
    "text",
    [
        "Order #4821937465 shipped on 2024-01-15T10:30:00Z via build 3f786850e387550fdab836ed7e6dc881de23001b",
        "request 123e4567-e89b-12d3-a456-426614174000 took 30000 ms on version 1.2.3",
        "Card 4111 1111 1111 1112 was rejected as invalid",
        "这个身份证号110105194912310021校验位不对",
        "Explain the difference between a process and a thread in Python.",
        "See https://docs.python.org/3/library/re.html for details, published 2023-10-02.",
    ],
)
def test_technical_tokens_invalid_ids_urls_and_dates_are_not_reported(detector, text):
    assert detector.analyze(text) == ()


def test_findings_do_not_overlap(detector):
    text = "From: Ada Lovelace <ada.lovelace@example.com>\nDear Dr. Charles Babbage, call 020 7946 0958."
    findings = detector.analyze(text)
    assert all(a.end <= b.start for a, b in itertools.pairwise(findings))


def test_only_configured_entities_are_reported():
    narrow = build_detector(PiiSettings(entities=("EMAIL_ADDRESS",), cache_size=0))
    found = narrow.analyze("John Smith, john@example.com, 415-555-0134")
    assert {f.entity_type for f in found} == {"EMAIL_ADDRESS"}


def test_every_default_entity_is_supported():
    assert set(DEFAULT_ENTITIES) <= set(supported_entities())


def _cache_counts() -> tuple[float, float]:
    hits = REGISTRY.get_sample_value("gateway_pii_cache_hits_total") or 0.0
    misses = REGISTRY.get_sample_value("gateway_pii_cache_misses_total") or 0.0
    return hits, misses


@pytest.mark.anyio
async def test_a_multi_turn_chat_only_analyses_new_messages(detector):
    turns = ["My name is Olga Petrova.", "I live in Oslo.", "What's the weather like?"]
    await detector.find(turns[:2])
    hits, misses = _cache_counts()
    await detector.find(turns)
    after_hits, after_misses = _cache_counts()
    assert (after_hits - hits, after_misses - misses) == (2, 1)


def test_cache_holds_digests_and_findings_never_text(detector):
    text = "Call Grace Hopper on 415-555-0100"
    detector.analyze(text)
    entries = detector._cache._entries
    assert all(isinstance(key, bytes) and len(key) == 32 for key in entries)
    assert text.encode() not in b"".join(entries)
    assert all(not isinstance(value, str) for findings in entries.values() for value in findings)


def test_cache_key_depends_on_the_configuration():
    one = build_detector(PiiSettings(score_threshold=0.4))
    other = build_detector(PiiSettings(score_threshold=0.6))
    assert one._cache.key("same text") != other._cache.key("same text")


@pytest.mark.anyio
async def test_analysis_past_the_timeout_raises_detector_unavailable():
    slow = build_detector(PiiSettings(timeout_s=0.001, cache_size=0))
    with pytest.raises(PiiDetectorUnavailable):
        await slow.find(["Ada Lovelace wrote to Charles Babbage. " * 2000])


@pytest.mark.anyio
async def test_analysis_error_raises_detector_unavailable_and_is_logged():
    patient = build_detector(PiiSettings(timeout_s=60, cache_size=0))
    too_long = "Ab " * 400_000  # longer than spaCy's max_length: the pipeline refuses it
    with capture_logs() as logs, pytest.raises(PiiDetectorUnavailable):
        await patient.find([too_long])
    assert any(entry["event"] == "pii.failed" for entry in logs)


@pytest.mark.anyio
async def test_concurrent_finds_all_complete_within_the_limit():
    limited = build_detector(PiiSettings(max_concurrency=1, cache_size=0))
    results: list[int] = []

    async def one(index: int) -> None:
        found = await limited.find([f"Mail user{index}@example.com"])
        results.append(len(found[0]))

    async with anyio.create_task_group() as group:
        for index in range(8):
            group.start_soon(one, index)
    assert results == [1] * 8


def test_missing_spacy_model_turns_ner_off_and_keeps_patterns():
    with capture_logs() as logs:
        no_ner = build_detector(PiiSettings(spacy_model="xx_model_that_is_not_installed"))
    assert not no_ner.ner_enabled
    assert any(entry["event"] == "pii.ner_off" for entry in logs)
    found = no_ner.analyze("Email grace@example.com or call +44 20 7946 0958")
    assert {f.entity_type for f in found} == {"EMAIL_ADDRESS", "PHONE_NUMBER"}


def test_detection_opens_no_network_connection(detector, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    fresh = build_detector(PiiSettings(cache_size=0))
    assert [f.entity_type for f in fresh.analyze("write to someone@newdomain.example.co.uk")] == ["EMAIL_ADDRESS"]


@pytest.mark.anyio
async def test_parallel_analyses_find_the_same_as_sequential_ones(detector):
    parallel = build_detector(PiiSettings(max_concurrency=4, cache_size=0))
    texts = [f"Ticket {n}: Ada Lovelace (ada{n}@example.com) called from +44 20 7946 09{n:02d}." for n in range(16)]
    expected = [detector.analyze(text) for text in texts]
    results: dict[int, object] = {}

    async def one(index: int) -> None:
        results[index] = (await parallel.find([texts[index]]))[0]

    async with anyio.create_task_group() as group:
        for index in range(len(texts)):
            group.start_soon(one, index)
    assert [results[index] for index in range(len(texts))] == expected

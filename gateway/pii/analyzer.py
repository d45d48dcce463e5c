"""The PII detector: one presidio `AnalyzerEngine` plus our recognizers, run off the event loop.

This is the only module that imports presidio; the spaCy pipeline it runs is loaded by
`spacy_pipeline.py`. It builds the engine once
(`build_detector`), wraps our pure scanners (`recognizers/`) as presidio recognizers, adds
spaCy NER for names and places (`recognizers/ner_spans.py`), drops look-alikes that hurt
precision (`recognizers/lookalikes.py`) and resolves overlaps. It does not decide what to
redact: that is policy and `redaction.py`.

Presidio built-ins used: email (with an offline domain check), credit card, IBAN, IP
address, US SSN/ITIN/passport, crypto wallets; URL, dates and a few noisy US/UK IDs only
when configured. Presidio's phone recognizer is replaced by `PhoneShapeScanner`
(`recognizers/phones.py` says why).

NER: the spaCy pipeline keeps only its `ner` component (tagger, parser and lemmatizer are
not needed and cost most of the time) plus a one-line component that sets lemmas to
lower-case words, which is what presidio's context matching compares; the lemmatizer's
word index is kept as a lexicon of ordinary English words before it is dropped. If the
configured model is not installed, a blank tokenizer takes its place, pattern recognizers
still run and `pii.ner_off` is logged; nothing is ever downloaded. Text written all in
lower or upper case is given to NER as a same-length copy with its name-like words
capitalised, so offsets map back one to one.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable

import anyio
import anyio.to_thread
import structlog
import tldextract
from presidio_analyzer import AnalyzerEngine, EntityRecognizer, RecognizerRegistry, RecognizerResult
from presidio_analyzer.context_aware_enhancers import LemmaContextAwareEnhancer
from presidio_analyzer.nlp_engine import NerModelConfiguration, NlpArtifacts, SpacyNlpEngine
from presidio_analyzer.predefined_recognizers import (
    CreditCardRecognizer,
    CryptoRecognizer,
    DateRecognizer,
    EmailRecognizer,
    IbanRecognizer,
    IpRecognizer,
    MedicalLicenseRecognizer,
    NhsRecognizer,
    UrlRecognizer,
    UsBankRecognizer,
    UsItinRecognizer,
    UsLicenseRecognizer,
    UsPassportRecognizer,
    UsSsnRecognizer,
)
from spacy.language import Language
from spacy.tokens import Doc

from gateway.errors import PiiDetectorUnavailable
from gateway.pii import metrics
from gateway.pii.cache import FindingsCache
from gateway.pii.findings import Finding
from gateway.pii.recognizers.addresses import AddressScanner
from gateway.pii.recognizers.base import Scanner
from gateway.pii.recognizers.dates import DateOfBirthScanner
from gateway.pii.recognizers.email_names import EmailNameScanner
from gateway.pii.recognizers.lookalikes import drop_look_alikes, tidy_email
from gateway.pii.recognizers.names import ContextNameScanner, is_mostly_one_case
from gateway.pii.recognizers.ner_spans import NER_LABELS, capitalise_words, ner_findings
from gateway.pii.recognizers.overlaps import resolve_overlaps
from gateway.pii.recognizers.phones import PhoneShapeScanner
from gateway.pii.recognizers.secrets import SECRET_ENTITIES, SecretScanner
from gateway.pii.recognizers.zh import ChineseIdScanner
from gateway.pii.recognizers.zh_names import ChineseNameScanner
from gateway.pii.settings import PiiSettings
from gateway.pii.spacy_pipeline import load_pipeline

log = structlog.get_logger(__name__)

# Presidio's context enhancer logs the words around every finding, values included, at DEBUG
# ("Context list is: ... john.smith@example.com ..."), and its decision tracer logs matched text.
# They stay below the gateway's log level whatever it is.
_PRESIDIO_LOGGERS = ("presidio-analyzer", "decision_process")


class _OfflineEmailRecognizer(EmailRecognizer):
    """Presidio's email recognizer with a domain check that never fetches the public suffix list.

    The stock recognizer calls `tldextract.extract`, which downloads the list on first use.
    """

    def __init__(self) -> None:
        super().__init__()
        self._extractor = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None, fallback_to_snapshot=True)

    def validate_result(self, pattern_text: str) -> bool:
        return bool(self._extractor(pattern_text).fqdn)


class _BisectContextEnhancer(LemmaContextAwareEnhancer):
    """Presidio's lemma context enhancer, finding a match's token by bisection.

    The stock version walks the whole token list for every finding: quadratic in prompt
    length, and the largest cost after NER on a long prompt.
    """

    @staticmethod
    def _find_index_of_match_token(word: str, start: int, tokens: Doc, tokens_indices: list[int]) -> int:
        index = max(0, bisect.bisect_right(tokens_indices, start) - 1)
        if start >= tokens_indices[index] + len(tokens[index]):
            index += 1
        if index >= len(tokens_indices):
            raise ValueError(f"no token at offset {start} (match of length {len(word)})")
        return index


class _InjectedSpacyNlpEngine(SpacyNlpEngine):
    """Presidio's spaCy engine around a pipeline we loaded ourselves (no download, no extra pipes)."""

    def __init__(self, nlp: Language, *, language: str) -> None:
        # We read entities from the spaCy doc ourselves (`ner_spans.py`); presidio's copy stays empty.
        ner = nlp.get_pipe("ner") if "ner" in nlp.pipe_names else None
        labels_to_ignore = list(getattr(ner, "labels", ()))
        super().__init__(
            models=[{"lang_code": language, "model_name": "injected"}],
            ner_model_configuration=NerModelConfiguration(labels_to_ignore=labels_to_ignore),
        )
        self.nlp = {language: nlp}  # type: ignore[assignment] # presidio types it None until load()

    def load(self) -> None:
        """Nothing to load: the pipeline was injected."""


class _ScannerRecognizer(EntityRecognizer):
    """One of our pure scanners as a presidio recognizer."""

    def __init__(self, scanner: Scanner, *, language: str) -> None:
        self._scanner = scanner
        super().__init__(
            supported_entities=list(scanner.entities), name=type(scanner).__name__, supported_language=language
        )

    def load(self) -> None:
        """Scanners are pure; nothing to load."""

    def analyze(
        self,
        text: str,
        entities: list[str],
        nlp_artifacts: NlpArtifacts | None = None,  # noqa: ARG002 - presidio's interface; scanners need no NLP
    ) -> list[RecognizerResult]:
        wanted = set(entities)
        return [
            RecognizerResult(f.entity_type, f.start, f.end, f.score)
            for f in self._scanner.scan(text)
            if f.entity_type in wanted
        ]


# Presidio recognizers per entity type; only those for configured entities are built.
_PRESIDIO_RECOGNIZERS: dict[str, Callable[[], EntityRecognizer]] = {
    "EMAIL_ADDRESS": _OfflineEmailRecognizer,
    "CREDIT_CARD": CreditCardRecognizer,
    "IBAN_CODE": IbanRecognizer,
    "IP_ADDRESS": IpRecognizer,
    "US_SSN": UsSsnRecognizer,
    "US_ITIN": UsItinRecognizer,
    "US_PASSPORT": UsPassportRecognizer,
    "CRYPTO": CryptoRecognizer,
    "URL": UrlRecognizer,
    "DATE_TIME": DateRecognizer,
    "MEDICAL_LICENSE": MedicalLicenseRecognizer,
    "US_BANK_NUMBER": UsBankRecognizer,
    "US_DRIVER_LICENSE": UsLicenseRecognizer,
    "UK_NHS": NhsRecognizer,
}


class PresidioDetector:
    """`PiiDetector` backed by one presidio `AnalyzerEngine`, with our recognizers and a cache.

    `find` runs analysis in worker threads (at most `max_concurrency` at once) under
    `timeout_s`; any failure raises `PiiDetectorUnavailable` so the caller can fail closed.
    `analyze` is the same analysis, synchronous, for callers already off the event loop.
    """

    def __init__(
        self,
        settings: PiiSettings,
        *,
        engine: AnalyzerEngine,
        ner_on: bool,
        language: str,
        lexicon: frozenset[str] = frozenset(),
    ) -> None:
        self._settings = settings
        self._engine = engine
        self._ner_on = ner_on
        self._lexicon = lexicon
        self._wanted = frozenset(settings.entities)
        self._language = language
        supported = set(engine.get_supported_entities(language))
        self._entities = [entity for entity in settings.entities if entity in supported]
        self._min_threshold = min([settings.score_threshold, *settings.entity_thresholds.values()])
        self._limiter = anyio.CapacityLimiter(settings.max_concurrency)
        # Taken by the worker thread itself: an analysis abandoned at the timeout keeps its slot
        # until it really ends (the limiter above is released at once), so no more than
        # `max_concurrency` analyses ever run, however many calls time out.
        self._running = threading.BoundedSemaphore(settings.max_concurrency)
        self._cache = FindingsCache(settings.cache_size, fingerprint=self.fingerprint)

    @property
    def settings(self) -> PiiSettings:
        """The settings this detector was built with."""
        return self._settings

    @property
    def ner_enabled(self) -> bool:
        """Whether spaCy NER is part of the analysis (false when the model is not installed)."""
        return self._ner_on

    @property
    def fingerprint(self) -> str:
        """A digest of everything that changes findings: model, entities, thresholds, code version."""
        config = self._settings.model_dump(
            include={"spacy_model", "entities", "score_threshold", "entity_thresholds", "normalize_case"}
        )
        payload = json.dumps([config, self.ner_enabled, _DETECTOR_VERSION], sort_keys=True, default=list)
        return hashlib.sha256(payload.encode()).hexdigest()

    async def find(self, texts: list[str], /) -> list[tuple[Finding, ...]]:
        """Findings for each text, in order; cached texts are not analysed again."""
        results: list[tuple[Finding, ...] | None] = [self._cache.get(text) for text in texts]
        missing = [index for index, found in enumerate(results) if found is None]
        if missing:
            fresh = await self._analyze_off_loop([texts[index] for index in missing])
            for index, findings in zip(missing, fresh, strict=True):
                results[index] = findings
                self._cache.put(texts[index], findings)
        return [found if found is not None else () for found in results]

    async def _analyze_off_loop(self, texts: list[str]) -> list[tuple[Finding, ...]]:
        abandoned = threading.Event()
        try:
            with anyio.fail_after(self._settings.timeout_s):
                return await anyio.to_thread.run_sync(
                    self._analyze_many, texts, abandoned, limiter=self._limiter, abandon_on_cancel=True
                )
        except TimeoutError as exc:
            metrics.DETECTOR_FAILURES.labels(reason="timeout").inc()
            # A timeout's traceback says nothing; the event says what happened.
            log.error("pii.timeout", texts=len(texts), timeout_s=self._settings.timeout_s)  # noqa: TRY400
            raise PiiDetectorUnavailable(f"PII detection took longer than {self._settings.timeout_s}s") from exc
        except PiiDetectorUnavailable:
            raise
        except Exception as exc:
            metrics.DETECTOR_FAILURES.labels(reason="error").inc()
            log.exception("pii.failed", texts=len(texts), error=type(exc).__name__)
            raise PiiDetectorUnavailable("PII detection failed") from exc
        finally:
            abandoned.set()

    def _analyze_many(self, texts: list[str], abandoned: threading.Event) -> list[tuple[Finding, ...]]:
        """In a worker thread: wait for a running slot, then analyse until the caller gives up.

        The result of an abandoned call is never read, so it stops at the next text.
        """
        found: list[tuple[Finding, ...]] = []
        with self._running:
            for text in texts:
                if abandoned.is_set():
                    break
                found.append(self._analyze_uncached(text))
        return found

    def analyze(self, text: str) -> tuple[Finding, ...]:
        """Findings in one text, synchronously (uses and fills the cache).

        Blocks for the analysis: call it from a worker thread, not the event loop.
        """
        cached = self._cache.get(text)
        if cached is not None:
            return cached
        findings = self._analyze_uncached(text)
        self._cache.put(text, findings)
        return findings

    def warm_up(self) -> None:
        """Analyse a fixed sample once, so lazy set-up is paid at start-up and not by the first call.

        Presidio compiles its patterns and the offline email check loads the public suffix list
        on first use: about 100 ms, several times that on a busy machine, which could push the
        first prompt past `timeout_s` and fail it closed. Leaves the cache and metrics alone.
        """
        artifacts = self._engine.nlp_engine.process_text(_WARM_UP_TEXT, self._language)
        self._engine.analyze(
            text=_WARM_UP_TEXT,
            language=self._language,
            entities=self._entities,
            nlp_artifacts=artifacts,
            score_threshold=self._min_threshold,
        )

    def _analyze_uncached(self, text: str) -> tuple[Finding, ...]:
        if not text.strip():
            return ()
        began = time.perf_counter()
        normalised = self._settings.normalize_case and is_mostly_one_case(text)
        nlp_text = capitalise_words(text, self._lexicon) if normalised else text
        artifacts = self._engine.nlp_engine.process_text(nlp_text, self._language)
        raw = self._engine.analyze(
            text=text,
            language=self._language,
            entities=self._entities,
            nlp_artifacts=artifacts,
            score_threshold=self._min_threshold,
        )
        found = [tidy_email(text, Finding(r.entity_type, r.start, r.end, float(r.score))) for r in raw]
        if self._ner_on:
            ents = ((ent.label_, ent.start_char, ent.end_char) for ent in artifacts.tokens.ents)
            found += ner_findings(text, ents, wanted=self._wanted, cased=nlp_text if normalised else None)
        kept = [f for f in found if f.score >= self._settings.threshold_for(f.entity_type)]
        # A credential wins any overlap: `https://ghp_...@github.com` is a token, not an email.
        findings = resolve_overlaps(drop_look_alikes(text, kept), prefer=SECRET_ENTITIES)
        metrics.ANALYSIS_SECONDS.observe(time.perf_counter() - began)
        for finding in findings:
            metrics.FINDINGS.labels(entity_type=finding.entity_type).inc()
        return findings


# Synthetic values (a reserved domain, a fictional 555 number, a test card number) that make
# every lazily initialised recognizer run once.
_WARM_UP_TEXT = (
    "Write to Jane Doe at jane.doe@example.com or call +1 415 555 0134 from 10.0.0.1; "
    "card 4111 1111 1111 1111, 手机13812345678."
)

# Bump when recognizer logic changes so cached findings of the old logic are not reused.
_DETECTOR_VERSION = 3


def _scanners() -> list[Scanner]:
    return [
        SecretScanner(),
        ChineseIdScanner(),
        ChineseNameScanner(),
        AddressScanner(),
        ContextNameScanner(),
        EmailNameScanner(),
        PhoneShapeScanner(),
        DateOfBirthScanner(),
    ]


def build_detector(settings: PiiSettings) -> PresidioDetector:
    """Build the detector once at start-up: loads the spaCy model and every recognizer.

    Also raises presidio's own loggers to WARNING: at DEBUG they write analysed text.
    """
    for name in _PRESIDIO_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    pipeline = load_pipeline(settings.spacy_model)
    nlp, ner_on = pipeline.nlp, pipeline.ner_on
    language = nlp.lang or "en"
    nlp_engine = _InjectedSpacyNlpEngine(nlp, language=language)
    wanted = set(settings.entities)
    recognizers: list[EntityRecognizer] = [
        factory() for entity, factory in _PRESIDIO_RECOGNIZERS.items() if entity in wanted
    ]
    scanners = _scanners()
    recognizers += [
        _ScannerRecognizer(scanner, language=language) for scanner in scanners if wanted.intersection(scanner.entities)
    ]
    for recognizer in recognizers:
        recognizer.supported_language = language
    registry = RecognizerRegistry(recognizers=recognizers, supported_languages=[language])
    engine = AnalyzerEngine(
        registry=registry,
        nlp_engine=nlp_engine,
        supported_languages=[language],
        context_aware_enhancer=_BisectContextEnhancer(),
    )
    log.info(
        "pii.detector_built",
        model=settings.spacy_model,
        ner=ner_on,
        entities=len(wanted),
        recognizers=len(recognizers),
    )
    detector = PresidioDetector(settings, engine=engine, ner_on=ner_on, language=language, lexicon=pipeline.lexicon)
    detector.warm_up()
    return detector


def supported_entities() -> tuple[str, ...]:
    """Every entity type the detector can report when configured to."""
    ours: set[str] = set()
    for scanner in _scanners():
        ours.update(scanner.entities)
    return tuple(sorted(ours | set(_PRESIDIO_RECOGNIZERS) | set(NER_LABELS.values())))

"""Guarding answers: scan what the model wrote, redact it, restore the caller's pseudonyms.

The async shell around the pure parts: `AnswerGuard` is built per request from the detector,
the request's actions and its `Pseudonymizer`, and handles a whole non-streamed body
(`guard_body`) or a stream, chunk by chunk (`guard_chunk` + `flush_chunk`) or channel by
channel (`channel(key).feed()` + `flush()`). Order for every answer text: scan the text as the
model wrote it (with placeholders), apply the request's actions (`block` masks: the answer is
already on its way), then restore placeholders to the caller's values.

Fails closed: if the detector fails, `PiiDetectorUnavailable` is raised and no unscanned text
comes out; the relay ends the stream with an error event. It does not parse SSE, talk HTTP or
decide actions; logs carry counts and entity types, never text.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Container, Mapping, Sequence
from typing import Any

import structlog

from gateway.errors import PiiDetectorUnavailable
from gateway.pii.findings import Finding, PiiDetector
from gateway.pii.locations import (
    ChannelKey,
    TextKind,
    answer_texts,
    channel_kind,
    delta_texts,
    finished_choices,
    replace_texts,
    with_channel_texts,
)
from gateway.pii.pseudonyms import Pseudonymizer
from gateway.pii.redaction import AnswerRedactor
from gateway.pii.scan import scan_texts
from gateway.pii.stream import DEFAULT_WINDOW, ScanRequest, StreamWindow, WindowSettings
from gateway.pipeline import Context, Endpoint

PSEUDONYMIZER_KEY = "pii.pseudonymizer"
"""`Context.extras` key under which `ApplyPiiActions` leaves the request's `Pseudonymizer`."""

_log = structlog.get_logger(__name__)
_CHUNK_META = ("id", "object", "created", "model", "system_fingerprint")


class StreamRedactor:
    """One streamed answer text (a channel): feed deltas, get back text safe to emit.

    Returned text is scanned, redacted and has its placeholders restored; together the
    returned pieces and `flush()` equal redacting the whole text at once. After a detector
    failure every further call raises `PiiDetectorUnavailable`.
    """

    __slots__ = ("_clock", "_detector", "_failed", "_kind", "_redactor", "_timeout_s", "_window")

    def __init__(
        self,
        detector: PiiDetector,
        redactor: AnswerRedactor,
        *,
        kind: TextKind = "text",
        window: WindowSettings = DEFAULT_WINDOW,
        timeout_s: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._detector = detector
        self._redactor = redactor
        self._kind: TextKind = kind
        self._window = StreamWindow(window)
        self._timeout_s = timeout_s
        self._clock = clock
        self._failed = False

    def __repr__(self) -> str:
        return f"<StreamRedactor kind={self._kind} pending_chars={self._window.pending_chars}>"

    @property
    def pending_chars(self) -> int:
        """How many characters are held back, waiting for more text or for `flush()`."""
        return self._window.pending_chars

    async def feed(self, delta: str) -> str:
        """Text to emit after this delta (often empty while a word is still incomplete)."""
        scan = self._push(delta)
        return "" if scan is None else self._complete(scan, await self._scan_one(scan))

    async def flush(self) -> str:
        """Everything still held back, scanned and redacted. Call when the channel ends."""
        scan = self._finish()
        return "" if scan is None else self._complete(scan, await self._scan_one(scan))

    def _push(self, delta: str, *, final: bool = False) -> ScanRequest | None:
        self._raise_if_failed()
        return self._window.push(delta, now=self._clock(), final=final)

    def _finish(self) -> ScanRequest | None:
        self._raise_if_failed()
        return self._window.finish()

    def _complete(self, scan: ScanRequest, findings: tuple[Finding, ...]) -> str:
        segment = self._window.release(scan, findings)
        return self._redactor.apply(segment.text, segment.findings, kind=self._kind) if segment.text else ""

    async def _scan_one(self, scan: ScanRequest) -> tuple[Finding, ...]:
        if scan.trivial:
            return ()
        return (await _scan_answer(self._detector, [scan.text], self._timeout_s, [self]))[0]

    def _raise_if_failed(self) -> None:
        if self._failed:
            raise PiiDetectorUnavailable("PII detection failed earlier in this stream")


class AnswerGuard:
    """Scans and redacts one request's answer; build one per request.

    Streams: pass every parsed chunk through `guard_chunk()` and, before `[DONE]` (or when the
    upstream stream just ends), send `flush_chunk()` if it returns a chunk. Or drive channels
    directly with `channel(key)`. `response_counts` tallies entity types found in the answer.
    """

    __slots__ = ("_channels", "_detector", "_failed", "_redactor", "_timeout_s", "_window")

    def __init__(
        self,
        detector: PiiDetector,
        actions: Mapping[str, str],
        pseudonymizer: Pseudonymizer | None = None,
        *,
        hash_key: bytes | None = None,
        window: WindowSettings = DEFAULT_WINDOW,
        timeout_s: float | None = None,
    ) -> None:
        self._detector = detector
        self._redactor = AnswerRedactor(actions, pseudonymizer, hash_key=hash_key)
        self._window = window
        self._timeout_s = timeout_s
        self._channels: dict[ChannelKey, StreamRedactor] = {}
        self._failed = False

    @classmethod
    def for_context(
        cls,
        ctx: Context,
        detector: PiiDetector,
        *,
        hash_key: bytes | None = None,
        window: WindowSettings = DEFAULT_WINDOW,
        timeout_s: float | None = None,
    ) -> AnswerGuard:
        """The guard for a call that went through the pipeline: its actions and pseudonyms."""
        pseudonymizer = ctx.extras.get(PSEUDONYMIZER_KEY)
        return cls(
            detector,
            ctx.pii_actions,
            pseudonymizer if isinstance(pseudonymizer, Pseudonymizer) else None,
            hash_key=hash_key,
            window=window,
            timeout_s=timeout_s,
        )

    def __repr__(self) -> str:
        return f"<AnswerGuard channels={len(self._channels)}>"

    @property
    def response_counts(self) -> dict[str, int]:
        """Entity type -> number found in the answer so far (streamed or not)."""
        return self._redactor.counts

    @property
    def stored_text(self) -> str:
        """The answer so far as the audit log may keep it: redacted, pseudonyms left as placeholders."""
        return self._redactor.stored_text

    @property
    def has_work(self) -> bool:
        """False when no action applies and nothing awaits restoring: scanning would only count."""
        return self._redactor.has_work

    def channel(self, key: ChannelKey, *, kind: TextKind | None = None) -> StreamRedactor:
        """The redactor of one answer channel, created on first use (`json` for argument channels)."""
        redactor = self._channels.get(key)
        if redactor is None:
            redactor = self._channels[key] = StreamRedactor(
                self._detector,
                self._redactor,
                kind=kind or channel_kind(key),
                window=self._window,
                timeout_s=self._timeout_s,
            )
        return redactor

    async def guard_body(self, body: Mapping[str, Any], endpoint: Endpoint) -> tuple[dict[str, Any], dict[str, int]]:
        """A non-streamed answer with its texts redacted, and the entity counts found in it.

        One detector call for all texts. The input body is not changed.
        """
        locations = answer_texts(body, endpoint)
        if not locations:
            return dict(body), {}
        results = await self._scan([loc.text for loc in locations], [])
        before = Counter(self._redactor.counts)
        replacements = {}
        for location, findings in zip(locations, results, strict=True):
            text = self._redactor.apply(location.text, findings, kind=location.kind)
            if text != location.text:
                replacements[location.path] = text
        counts = dict(Counter(self._redactor.counts) - before)
        if counts:
            _log.info("pii.answer_scanned", entity_counts=counts, texts=len(locations), changed=len(replacements))
        return replace_texts(body, replacements), counts

    async def guard_chunk(self, chunk: Mapping[str, Any], endpoint: Endpoint) -> dict[str, Any]:
        """A streamed chunk with its text fragments replaced by what is safe to emit now.

        Fragments still held back come out in later chunks; a choice's held text is added to
        the chunk that carries its `finish_reason`. At most one detector call per chunk.
        """
        if self._failed:
            raise PiiDetectorUnavailable("PII detection failed earlier in this answer")
        fragments = delta_texts(chunk, endpoint)
        ending = set(finished_choices(chunk))
        if not fragments and not ending:
            return dict(chunk)
        texts: dict[ChannelKey, str] = {}
        work: list[tuple[ChannelKey, StreamRedactor, ScanRequest]] = []
        for fragment in fragments:
            key = fragment.channel
            redactor = self.channel(key, kind=fragment.location.kind)
            texts[key] = ""
            scan = redactor._push(fragment.location.text, final=key[0] in ending)  # noqa: SLF001 - batching
            if scan is not None:
                work.append((key, redactor, scan))
        work.extend(self._finishing(ending, texts, skip=set(texts)))
        await self._run(work, texts)
        return with_channel_texts(chunk, endpoint, texts)

    async def flush_chunk(self, endpoint: Endpoint, template: Mapping[str, Any] | None = None) -> dict[str, Any] | None:
        """A chunk with everything still held back on any channel, or None if nothing is.

        Call it when the upstream stream ends; `id`, `object`, `created` and `model` are
        copied from `template` (e.g. the last chunk seen).
        """
        texts: dict[ChannelKey, str] = {}
        work = list(self._finishing({key[0] for key in self._channels}, texts))
        await self._run(work, texts)
        texts = {key: text for key, text in texts.items() if text}
        if not texts:
            return None
        base = {name: template[name] for name in _CHUNK_META if template is not None and name in template}
        return with_channel_texts({**base, "choices": []}, endpoint, texts)

    async def _scan(self, texts: list[str], redactors: Sequence[StreamRedactor]) -> list[tuple[Finding, ...]]:
        """Scan through `_scan_answer`; after one failure every later call fails too."""
        if self._failed:
            raise PiiDetectorUnavailable("PII detection failed earlier in this answer")
        try:
            return await _scan_answer(self._detector, texts, self._timeout_s, redactors)
        except PiiDetectorUnavailable:
            self._failed = True
            raise

    def _finishing(
        self, choices: Container[object], texts: dict[ChannelKey, str], *, skip: set[ChannelKey] | None = None
    ) -> list[tuple[ChannelKey, StreamRedactor, ScanRequest]]:
        """Final scans for every channel of the given choices, except those in `skip`."""
        work = []
        for key, redactor in self._channels.items():
            if key[0] in choices and (skip is None or key not in skip):
                scan = redactor._finish()  # noqa: SLF001 - same module: batching
                if scan is not None:
                    texts.setdefault(key, "")
                    work.append((key, redactor, scan))
        return work

    async def _run(
        self, work: Sequence[tuple[ChannelKey, StreamRedactor, ScanRequest]], texts: dict[ChannelKey, str]
    ) -> None:
        scanned = [item for item in work if not item[2].trivial]
        results = iter(
            await self._scan([scan.text for _, _, scan in scanned], [redactor for _, redactor, _ in scanned])
            if scanned
            else []
        )
        for key, redactor, scan in work:
            findings = () if scan.trivial else next(results)
            texts[key] = texts.get(key, "") + redactor._complete(scan, findings)  # noqa: SLF001


async def _scan_answer(
    detector: PiiDetector, texts: list[str], timeout_s: float | None, redactors: Sequence[StreamRedactor]
) -> list[tuple[Finding, ...]]:
    """Scan answer texts; on failure poison the channels involved, log, and re-raise."""
    try:
        return await scan_texts(detector, texts, timeout_s=timeout_s)
    except PiiDetectorUnavailable as exc:
        for redactor in redactors:
            redactor._failed = True  # noqa: SLF001 - same module
        cause = exc.__cause__
        _log.warning(
            "pii.unavailable",
            direction="response",
            texts=len(texts),
            error_type=type(cause).__name__ if cause is not None else type(exc).__name__,
        )
        raise

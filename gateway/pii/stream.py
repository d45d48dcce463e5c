"""The window that decides which part of a streamed answer text is safe to scan and emit.

Sans-I/O: `StreamWindow` takes the deltas of one answer channel (choice 0 content, choice 0
tool call 1 arguments, ...) and says when the detector should look (`ScanRequest`) and, given
the findings, which text may go out now (`Segment`). It does not call the detector, redact or
restore; `answer.py` wraps it with those.

What it holds back is only what an entity or a placeholder could still be part of:

- the trailing, unfinished token (`john.doe@exa`, `<PERSON_`), unless it ends with `, ; ! ?`,
  or it is the answer's first delta and that delta is one common sentence starter ("Sure",
  "The"): that one goes out at once, unscanned, so time to first token does not wait for the
  second token. At worst it is the first letters of a longer word split by the tokenizer ("Hi"
  of "Hiroshi"); the rest of that word is still scanned with it as context;
- tokens before it that could continue into the next one across a single space: tokens with
  digits (card and phone groups), capitalised words (names; not common sentence starters such
  as "The"), initials (`J.`), up to `max_join_tokens` of them;
- any finding that reaches into the held tail (`555-123` may grow into a full number);
- in CJK text, which has no spaces, only the last `cjk_hold_chars` characters of a run.

Everything before that is released at once. The detector is asked rarely: for the first
words (time to first token), then once `scan_chars` characters are ready or the oldest ready
character has waited `max_delay_s`, and at the end. Never per 1-character delta.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from gateway.pii.findings import Finding
from gateway.pii.redaction import resolve_overlaps

_CJK_PUNCTUATION = "\u3000-\u303f\uff01\uff08\uff09\uff0c\uff1a\uff1b\uff1f"
_TOKEN = re.compile(rf"[^\s{_CJK_PUNCTUATION}]+")
_CJK_RANGES = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
_CJK = re.compile(f"[{_CJK_RANGES}]")
_ASCII_WORD_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789@._+-")
_CLOSING = frozenset(",;!?")
_SENTENCE_END = frozenset(".,;:!?")
_JOINING_SPACE = frozenset(" \t\u00a0")
_INITIAL = re.compile(r"[^\W\d_]\.")
_LAST_WORD = re.compile(rf"[^\W\d_{_CJK_RANGES}]+\Z")
# Capitalised words that start sentences but never a name, card or address: not held back, so
# the first words of an answer ("The", "Sure") go out without waiting for the next token. (A
# word list reads better as one string than as a list literal, hence the noqa.)
_SENTENCE_STARTERS = frozenset(
    "A An And As At But By Certainly For From Hello Here Hi How However I If In It Its Let "  # noqa: SIM905
    "No Not Of Okay On Or Our Please She So Sure Thanks That The Then There These They This "
    "To We Well What When Where Which While Who Why With Yes You Your".split()
)
_PARTIAL_PLACEHOLDER = re.compile(r"<[A-Z0-9_]*\Z")
_MAX_PLACEHOLDER_CHARS = 64


@dataclass(frozen=True, slots=True)
class WindowSettings:
    """How much a stream window holds back and how often it asks for a scan."""

    scan_chars: int = 48
    """Scan once this many characters are ready to go out."""
    max_delay_s: float = 0.1
    """...or once the oldest ready character has waited this long."""
    max_hold_chars: int = 1024
    """Never hold back more than this (a run without spaces, e.g. a long base64 blob)."""
    context_chars: int = 64
    """Already emitted text passed along to the detector as context (e.g. 'my SSN is')."""
    max_join_tokens: int = 6
    """How many tokens before the last one may still belong to an unfinished entity."""
    cjk_hold_chars: int = 12
    """Characters held back at the end of a CJK run."""

    def __post_init__(self) -> None:
        if min(self.scan_chars, self.max_hold_chars, self.cjk_hold_chars) < 1:
            raise ValueError("scan_chars, max_hold_chars and cjk_hold_chars must be at least 1")
        if min(self.max_delay_s, self.context_chars, self.max_join_tokens) < 0:
            raise ValueError("max_delay_s, context_chars and max_join_tokens must not be negative")


DEFAULT_WINDOW = WindowSettings()


@dataclass(frozen=True, slots=True)
class ScanRequest:
    """Text the detector must analyse before the window can release anything.

    `text` is recent emitted context followed by all pending text; pending starts at `offset`.
    """

    text: str = field(repr=False)
    offset: int
    final: bool
    trivial: bool = False
    """True when the text is only the answer's first word, a common sentence starter: no detector
    flags it, so the caller may skip the scan and release it with no findings."""


@dataclass(frozen=True, slots=True)
class Segment:
    """Raw text that may be emitted now (after redaction) and its findings, relative to it."""

    text: str = field(repr=False)
    findings: tuple[Finding, ...] = ()


class StreamWindow:
    """The hold-back window of one answer channel.

    Call `push()` for each delta; when it returns a `ScanRequest`, run the detector on its
    text and pass the findings to `release()`, which returns the segment to emit. At the end
    of the channel call `finish()` (and `release()`) to get the rest. One scan at a time.
    """

    __slots__ = ("_context", "_emitted_any", "_outstanding", "_pending", "_ready_since", "_settings")

    def __init__(self, settings: WindowSettings = DEFAULT_WINDOW) -> None:
        self._settings = settings
        self._pending = ""
        self._context = ""
        self._emitted_any = False
        self._ready_since: float | None = None
        self._outstanding: ScanRequest | None = None

    def __repr__(self) -> str:
        return f"<StreamWindow pending_chars={len(self._pending)}>"

    @property
    def pending_chars(self) -> int:
        """How many characters are held back."""
        return len(self._pending)

    def push(self, delta: str, *, now: float, final: bool = False) -> ScanRequest | None:
        """Add a delta; returns a scan request when text is ready and a scan is due.

        `now` is a monotonic time in seconds (the caller's clock). `final=True` means the
        channel ends with this delta: same as pushing it, then `finish()`.
        """
        self._require_no_scan()
        whole_delta = not self._pending
        self._pending += delta
        if final:
            return self.finish()
        if whole_delta and not self._emitted_any and _is_opening_word(self._pending):
            return self._request(final=False, trivial=True)
        cut = hold_start(self._pending, self._settings)
        if cut == 0:
            return None
        if self._ready_since is None:
            self._ready_since = now
        due = (
            not self._emitted_any
            or cut >= self._settings.scan_chars
            or now - self._ready_since >= self._settings.max_delay_s
        )
        return self._request(final=False) if due else None

    def finish(self) -> ScanRequest | None:
        """A final scan request for everything pending, or None if nothing is."""
        self._require_no_scan()
        return self._request(final=True) if self._pending else None

    def release(self, scan: ScanRequest, findings: tuple[Finding, ...] | list[Finding]) -> Segment:
        """The segment that may go out now, given the findings for `scan.text`."""
        if scan is not self._outstanding:
            raise RuntimeError("release() needs the scan request this window handed out last")
        self._outstanding = None
        pending = self._pending
        local = _localize(findings, scan.offset, len(pending))
        cut = len(pending) if scan.final or scan.trivial else _cut_around(pending, local, self._settings)
        segment = pending[:cut]
        self._pending = pending[cut:]
        self._ready_since = None
        if segment:
            self._emitted_any = True
            self._context = (self._context + segment)[-self._settings.context_chars :]
        kept = tuple(f for f in resolve_overlaps(local, cut) if f.end <= cut)
        return Segment(segment, kept)

    def _request(self, *, final: bool, trivial: bool = False) -> ScanRequest:
        self._outstanding = ScanRequest(self._context + self._pending, len(self._context), final, trivial)
        return self._outstanding

    def _require_no_scan(self) -> None:
        if self._outstanding is not None:
            raise RuntimeError("a scan is outstanding: release() it first")


def hold_start(text: str, settings: WindowSettings = DEFAULT_WINDOW) -> int:
    """Where the part of `text` that must be held back starts (`len(text)` if none).

    Only looks at the text's shape; `StreamWindow` moves the cut further back for findings.
    """
    start = _token_hold_start(text, settings)
    return max(start, len(text) - settings.max_hold_chars)


def _token_hold_start(text: str, settings: WindowSettings) -> int:
    tokens = list(_TOKEN.finditer(text))
    end = len(text)
    if not tokens:
        return end
    last = tokens[-1]
    if last.end() == end and last.group()[-1] not in _CLOSING:
        start = _partial_token_start(text, last.start(), settings)
        if start > last.start():
            return start
        next_start, position = last.start(), len(tokens) - 2
    else:
        start, next_start, position = end, end, len(tokens) - 1
    joined = 0
    while position >= 0 and joined < settings.max_join_tokens:
        token = tokens[position]
        separator = text[token.end() : next_start]
        if len(separator) != 1 or separator not in _JOINING_SPACE or not _may_continue(token.group()):
            break
        start = next_start = token.start()
        position -= 1
        joined += 1
    return start


def _partial_token_start(text: str, token_start: int, settings: WindowSettings) -> int:
    """Start of the unfinished last token, or of its CJK tail when it is a CJK run."""
    if not _CJK.search(text, token_start):
        return token_start
    start = max(token_start, len(text) - settings.cjk_hold_chars)
    while start > token_start and text[start - 1] in _ASCII_WORD_CHARS:
        start -= 1
    return start


def _may_continue(token: str) -> bool:
    """Whether a finished token could be the first part of a multi-token entity."""
    if _INITIAL.fullmatch(token):
        return True
    if token[-1] in _SENTENCE_END:
        return False
    if any(char.isdigit() for char in token):
        return True
    # The word the token ends with: "**Alice", "(Alice" and "name:Alice" all end with a name.
    word = _LAST_WORD.search(token)
    return word is not None and word.group()[0].isupper() and word.group() not in _SENTENCE_STARTERS


def _is_opening_word(text: str) -> bool:
    """Whether `text` (one whole delta) is one common sentence starter of two letters or more.

    One whole delta, as tokenizers send words: a word that arrives letter by letter is held
    like any other, so "A" of "Alice" or "An" of "Anna" never goes out early.
    """
    word = text.lstrip()
    return len(word) > 1 and word in _SENTENCE_STARTERS


def _localize(findings: tuple[Finding, ...] | list[Finding], offset: int, length: int) -> list[Finding]:
    """Findings in pending-text coordinates; those wholly in the emitted context are dropped."""
    local: list[Finding] = []
    for f in findings:
        start, end = max(f.start - offset, 0), min(f.end - offset, length)
        if start < end:
            local.append(Finding(f.entity_type, start, end, f.score))
    return local


def _cut_around(pending: str, findings: list[Finding], settings: WindowSettings) -> int:
    """The release cut: the shape-based hold start, moved back so no finding or placeholder is split."""
    cut = hold_start(pending, settings)
    moved = True
    while moved:
        moved = False
        for f in findings:
            if f.start < cut <= f.end:
                cut, moved = f.start, True
        partial = _PARTIAL_PLACEHOLDER.search(pending, max(0, cut - _MAX_PLACEHOLDER_CHARS), cut)
        if partial is not None and partial.start() < cut:
            cut, moved = partial.start(), True
    return cut

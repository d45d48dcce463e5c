"""Turn the overlapping findings of several recognizers into one non-overlapping list.

Pure. Recognizers disagree: NER and the context scanner both find `Dr. Ada Lovelace` with
different edges, a bank card may also look like a phone number. Findings of the same type
that overlap are merged into their union (the span the caller must cover anyway); findings
of different types that overlap are decided by score, then by length, then by position.
"""

from __future__ import annotations

from collections.abc import Iterable

from gateway.pii.findings import Finding


def merge_same_type(findings: Iterable[Finding]) -> list[Finding]:
    """Merge overlapping findings of one entity type into their union."""
    merged: list[Finding] = []
    for finding in sorted(findings, key=lambda f: (f.entity_type, f.start, -f.end)):
        last = merged[-1] if merged else None
        if last is not None and last.entity_type == finding.entity_type and finding.start < last.end:
            merged[-1] = Finding(
                last.entity_type, last.start, max(last.end, finding.end), max(last.score, finding.score)
            )
        else:
            merged.append(finding)
    return merged


def resolve_overlaps(findings: Iterable[Finding], *, prefer: frozenset[str] = frozenset()) -> tuple[Finding, ...]:
    """Non-overlapping findings in text order: types in `prefer` win, then higher score, then length.

    Same-type overlaps are merged first (see `merge_same_type`). A finding that loses keeps
    the part of its span no winner covers (a name that an over-long email match ate half
    of keeps its first half), so losing an overlap never un-redacts characters.
    """
    candidates = merge_same_type(f for f in findings if f.end > f.start)
    candidates.sort(key=lambda f: (f.entity_type not in prefer, -f.score, -(f.end - f.start), f.start, f.entity_type))
    kept: list[Finding] = []
    for finding in candidates:
        pieces = [(finding.start, finding.end)]
        for other in kept:
            pieces = [part for start, end in pieces for part in _subtract(start, end, other.start, other.end)]
        kept.extend(Finding(finding.entity_type, start, end, finding.score) for start, end in pieces)
    kept.sort(key=lambda f: (f.start, f.end))
    return tuple(kept)


def _subtract(start: int, end: int, cut_start: int, cut_end: int) -> list[tuple[int, int]]:
    """The parts of [start, end) outside [cut_start, cut_end)."""
    if cut_end <= start or cut_start >= end:
        return [(start, end)]
    parts = []
    if start < cut_start:
        parts.append((start, cut_start))
    if cut_end < end:
        parts.append((cut_end, end))
    return parts

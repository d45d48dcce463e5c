"""Quality of PII detection against a labelled corpus: precision, recall and leak rate.

The metrics are pure functions of gold spans and findings. Matching is by span overlap,
not exact edges: a finding that covers part of a name still stops that part from leaking,
and annotators disagree on edges (`Dr. Ada Lovelace` or `Ada Lovelace`).

- Per-type precision: share of findings of type T that overlap a gold span of type T.
- Per-type recall: share of gold spans of type T overlapped by a finding of type T.
- Precision (any type): share of findings that overlap some gold span, whatever its type:
  what matters to the gateway is whether it redacted something that was not PII.
- Leak rate: share of gold PII characters not covered by any finding (type-agnostic): what
  would reach the model unredacted.

A corpus is JSONL: `text`, `spans: [{start, end, entity_type}]`, optional `id`, `lang`,
`category`. `gateway pii eval` (`cli.py`, also `python -m gateway.pii.evaluation`) runs the real
detector over one and prints the table. Not a test: the thresholds the test suite holds live in
`tests/integration/test_pii_quality.py`.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from gateway.pii.findings import Finding

DEFAULT_CORPUS = Path("tests/data/pii_corpus.jsonl")


@dataclass(frozen=True, slots=True)
class GoldSpan:
    """A labelled entity in a corpus text."""

    start: int
    end: int
    entity_type: str


@dataclass(frozen=True, slots=True)
class Example:
    """One corpus record: a text and its gold spans (none for a negative example)."""

    id: str
    text: str
    spans: tuple[GoldSpan, ...]
    lang: str = "en"
    category: str = ""


@dataclass(frozen=True, slots=True)
class TypeScore:
    """Counts for one entity type; a `Report` holds one per type seen in gold or findings."""

    entity_type: str
    findings: int = 0
    correct_findings: int = 0
    gold: int = 0
    found_gold: int = 0

    @property
    def precision(self) -> float:
        """Share of this type's findings that overlap gold of this type (1.0 when there are none)."""
        return self.correct_findings / self.findings if self.findings else 1.0

    @property
    def recall(self) -> float:
        """Share of this type's gold spans overlapped by a finding of this type (1.0 when none)."""
        return self.found_gold / self.gold if self.gold else 1.0


@dataclass(frozen=True, slots=True)
class FalsePositive:
    """A finding that overlaps no gold span: where to look when precision drops."""

    example_id: str
    entity_type: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Report:
    """Corpus-level quality of a detector."""

    per_type: dict[str, TypeScore]
    findings: int
    correct_findings: int
    gold: int
    found_gold: int
    gold_chars: int
    leaked_chars: int
    leak_by_lang: dict[str, tuple[int, int]] = field(default_factory=dict)
    """lang -> (leaked chars, gold chars)."""
    false_positives: tuple[FalsePositive, ...] = ()

    @property
    def precision(self) -> float:
        """Share of findings overlapping any gold span (type-agnostic)."""
        return self.correct_findings / self.findings if self.findings else 1.0

    @property
    def typed_precision(self) -> float:
        """Share of findings overlapping a gold span of their own type."""
        correct = sum(score.correct_findings for score in self.per_type.values())
        return correct / self.findings if self.findings else 1.0

    @property
    def recall(self) -> float:
        """Share of gold spans overlapped by any finding (type-agnostic)."""
        return self.found_gold / self.gold if self.gold else 1.0

    @property
    def leak_rate(self) -> float:
        """Share of gold PII characters no finding covers."""
        return self.leaked_chars / self.gold_chars if self.gold_chars else 0.0

    def leak_rate_for(self, *langs: str) -> float:
        """Leak rate over the examples of the given languages."""
        leaked = sum(self.leak_by_lang.get(lang, (0, 0))[0] for lang in langs)
        total = sum(self.leak_by_lang.get(lang, (0, 0))[1] for lang in langs)
        return leaked / total if total else 0.0


def _overlaps(a_start: int, a_end: int, b_start: int, b_end: int) -> bool:
    return a_start < b_end and b_start < a_end


def evaluate(examples: Sequence[Example], predictions: Sequence[Sequence[Finding]]) -> Report:
    """Score `predictions[i]` against `examples[i].spans` for every example."""
    if len(examples) != len(predictions):
        raise ValueError("one prediction list per example is needed")
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    findings = correct = gold = found = gold_chars = leaked = 0
    by_lang: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    false_positives = []
    for example, found_here in zip(examples, predictions, strict=True):
        for finding in found_here:
            findings += 1
            row = counts[finding.entity_type]
            row[0] += 1
            hits = [g for g in example.spans if _overlaps(g.start, g.end, finding.start, finding.end)]
            if hits:
                correct += 1
            else:
                false_positives.append(FalsePositive(example.id, finding.entity_type, finding.start, finding.end))
            if any(g.entity_type == finding.entity_type for g in hits):
                row[1] += 1
        for span in example.spans:
            gold += 1
            row = counts[span.entity_type]
            row[2] += 1
            covering = [f for f in found_here if _overlaps(f.start, f.end, span.start, span.end)]
            if covering:
                found += 1
            if any(f.entity_type == span.entity_type for f in covering):
                row[3] += 1
            covered: set[int] = set()
            for f in covering:
                covered.update(range(max(f.start, span.start), min(f.end, span.end)))
            length = span.end - span.start
            missed = length - len(covered)
            gold_chars += length
            leaked += missed
            by_lang[example.lang][0] += missed
            by_lang[example.lang][1] += length
    per_type = {name: TypeScore(name, *row) for name, row in sorted(counts.items())}
    return Report(
        per_type=per_type,
        findings=findings,
        correct_findings=correct,
        gold=gold,
        found_gold=found,
        gold_chars=gold_chars,
        leaked_chars=leaked,
        leak_by_lang={lang: (pair[0], pair[1]) for lang, pair in sorted(by_lang.items())},
        false_positives=tuple(false_positives),
    )


def load_corpus(path: Path) -> list[Example]:
    """Read a JSONL corpus; every gold span must lie inside its text."""
    examples = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        record = json.loads(line)
        text = record["text"]
        spans = tuple(GoldSpan(s["start"], s["end"], s["entity_type"]) for s in record.get("spans", ()))
        for span in spans:
            if not 0 <= span.start < span.end <= len(text):
                raise ValueError(f"{path}:{number}: span {span} outside the text")
        examples.append(
            Example(
                id=str(record.get("id", number)),
                text=text,
                spans=spans,
                lang=record.get("lang", "en"),
                category=record.get("category", ""),
            )
        )
    return examples


def format_report(report: Report) -> str:
    """A plain-text table of per-type and overall numbers."""
    lines = [f"{'entity type':<20} {'findings':>8} {'precision':>9} {'gold':>6} {'recall':>7}"]
    lines += [
        f"{score.entity_type:<20} {score.findings:>8} {score.precision:>9.3f} {score.gold:>6} {score.recall:>7.3f}"
        for score in report.per_type.values()
    ]
    lines += [
        "",
        f"precision (any type)   {report.precision:.3f}   ({report.correct_findings}/{report.findings})",
        f"precision (same type)  {report.typed_precision:.3f}",
        f"recall (any type)      {report.recall:.3f}   ({report.found_gold}/{report.gold})",
        f"leak rate              {report.leak_rate:.4f} ({report.leaked_chars}/{report.gold_chars} chars)",
    ]
    lines += [
        f"leak rate [{lang}]{' ' * max(0, 10 - len(lang))} {leaked / total if total else 0.0:.4f} ({leaked}/{total})"
        for lang, (leaked, total) in report.leak_by_lang.items()
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m gateway.pii.evaluation`: the same as `gateway pii eval` (see `cli.py`)."""
    from gateway.pii.cli import pii_eval_main  # noqa: PLC0415 - cli imports this module

    return pii_eval_main(argv)


def write_errors(
    out: TextIO, examples: Sequence[Example], predictions: Sequence[Sequence[Finding]], report: Report, limit: int
) -> None:
    """Print up to `limit` false positives and missed gold spans, for a developer tuning recognizers.

    Prints corpus text: for synthetic corpora only.
    """
    write = out.write
    texts = {example.id: example.text for example in examples}
    for fp in report.false_positives[:limit]:
        write(f"FP {fp.example_id} {fp.entity_type}: {texts[fp.example_id][fp.start : fp.end]!r}\n")
    shown = 0
    for example, found_here in zip(examples, predictions, strict=True):
        for span in example.spans:
            if not any(_overlaps(f.start, f.end, span.start, span.end) for f in found_here) and shown < limit:
                write(f"MISS {example.id} {span.entity_type}: {example.text[span.start : span.end]!r}\n")
                shown += 1


if __name__ == "__main__":
    raise SystemExit(main())

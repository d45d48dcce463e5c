"""`gateway pii eval`: how well the detector does on a labelled corpus, with an optional quality gate.

Builds the real detector (the deployment's `pii` settings with `--config`, else the defaults),
runs it over a JSONL corpus (see `evaluation.load_corpus`), prints per-type precision and recall
and the leak rate, and with gates set returns 1 when a number is worse than its gate. The metrics
themselves are in `evaluation.py`; this module only parses arguments and reports. It prints
corpus text only with `--show-errors`, which is for a developer tuning recognizers on synthetic
data, never for production prompts.

Exit codes: 0 every gate held (or none was set), 1 a gate failed, 2 bad arguments, corpus or config.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from gateway.config import ConfigError, load_settings
from gateway.pii.evaluation import DEFAULT_CORPUS, Report, evaluate, format_report, load_corpus, write_errors
from gateway.pii.settings import PiiSettings

EXIT_OK = 0
EXIT_GATE_FAILED = 1
EXIT_UNUSABLE = 2

PROMISED_MIN_PRECISION = 0.90
PROMISED_MAX_LEAK_RATE = 0.01
PROMISED_MAX_LEAK_RATE_ZH = 0.02
"""The numbers the project promises on its corpus (issue 3); `--check` applies all three."""

_CHINESE = ("zh", "mixed")


@dataclass(frozen=True, slots=True)
class Gates:
    """Quality gates; None leaves a number unchecked."""

    min_precision: float | None = None
    max_leak_rate: float | None = None
    max_leak_rate_zh: float | None = None

    def failures(self, report: Report) -> list[str]:
        """One line per gate the report misses (empty when all hold)."""
        failed: list[str] = []
        if self.min_precision is not None:
            for name, value in (("precision", report.precision), ("typed precision", report.typed_precision)):
                if value < self.min_precision:
                    failed.append(f"{name} {value:.3f} < {self.min_precision:.3f}")
        if self.max_leak_rate is not None and report.leak_rate > self.max_leak_rate:
            failed.append(f"leak rate {report.leak_rate:.4f} > {self.max_leak_rate:.4f}")
        zh_rate = report.leak_rate_for(*_CHINESE)
        if self.max_leak_rate_zh is not None and zh_rate > self.max_leak_rate_zh:
            failed.append(f"leak rate [zh+mixed] {zh_rate:.4f} > {self.max_leak_rate_zh:.4f}")
        return failed


DESCRIPTION = "Precision, recall and leak rate of PII detection on a labelled corpus."


def add_eval_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the arguments of `gateway pii eval` to a (sub)parser; `pii_eval` reads them."""
    parser.add_argument("corpus", nargs="?", type=Path, default=DEFAULT_CORPUS, help="JSONL corpus with gold spans")
    parser.add_argument("--config", type=Path, default=None, help="evaluate the `pii` settings of this gateway config")
    parser.add_argument("--model", default=None, help="spaCy model, e.g. en_core_web_lg (overrides the settings)")
    parser.add_argument("--show-errors", type=int, default=0, metavar="N", help="print up to N misses and FPs")
    parser.add_argument("--check", action="store_true", help="gate on the promised numbers (precision, leak rates)")
    parser.add_argument("--min-precision", type=float, default=None, help="fail below this precision")
    parser.add_argument("--max-leak-rate", type=float, default=None, help="fail above this overall leak rate")
    parser.add_argument("--max-leak-rate-zh", type=float, default=None, help="fail above this Chinese leak rate")


def _settings(config: Path | None, model: str | None) -> PiiSettings:
    base = PiiSettings() if config is None else load_settings(config).pii
    update: dict[str, object] = {"cache_size": 0}
    if model is not None:
        update["spacy_model"] = model
    return base.model_copy(update=update)


def _gates(args: argparse.Namespace) -> Gates:
    def chosen(value: float | None, promised: float) -> float | None:
        return value if value is not None else (promised if args.check else None)

    return Gates(
        min_precision=chosen(args.min_precision, PROMISED_MIN_PRECISION),
        max_leak_rate=chosen(args.max_leak_rate, PROMISED_MAX_LEAK_RATE),
        max_leak_rate_zh=chosen(args.max_leak_rate_zh, PROMISED_MAX_LEAK_RATE_ZH),
    )


def pii_eval_main(argv: Sequence[str] | None = None, *, out: TextIO | None = None) -> int:
    """Parse `gateway pii eval` arguments and run it; returns the process exit code."""
    parser = argparse.ArgumentParser(prog="gateway pii eval", description=DESCRIPTION)
    add_eval_arguments(parser)
    return pii_eval(parser.parse_args(argv), out=out)


def pii_eval(args: argparse.Namespace, *, out: TextIO | None = None) -> int:
    """Run the evaluation for arguments parsed by a parser `add_eval_arguments` set up."""
    out = out or sys.stdout
    try:
        examples = load_corpus(args.corpus)
        settings = _settings(args.config, args.model)
    except (OSError, ValueError, ConfigError) as exc:
        out.write(f"gateway pii eval: {exc}\n")
        return EXIT_UNUSABLE
    from gateway.pii.analyzer import build_detector  # noqa: PLC0415 - presidio and spaCy load slowly

    detector = build_detector(settings)
    began = time.perf_counter()
    predictions = [detector.analyze(example.text) for example in examples]
    elapsed = time.perf_counter() - began
    report = evaluate(examples, predictions)
    out.write(f"model={settings.spacy_model} ner={detector.ner_enabled} corpus={args.corpus}\n")
    out.write(format_report(report) + "\n")
    out.write(f"{len(examples)} texts in {elapsed:.2f}s ({1000 * elapsed / max(1, len(examples)):.1f} ms/text)\n")
    if args.show_errors:
        write_errors(out, examples, predictions, report, args.show_errors)
    failed = _gates(args).failures(report)
    for line in failed:
        out.write(f"FAILED {line}\n")
    return EXIT_GATE_FAILED if failed else EXIT_OK

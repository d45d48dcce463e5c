# ruff: noqa: RUF001 - Chinese full-width punctuation is part of the sample prompt
"""Latency of PII detection per prompt: p50 and p99 with spaCy NER on and the cache off.

Run: `.venv/bin/python benchmarks/pii_bench.py [--iterations 200]`. Measures the synchronous
`PresidioDetector.analyze` (the work `find()` does in a worker thread), for a 50-word and a
1000-word prompt that mix prose, a name, an email, a phone number and code. Bounded: a
fixed number of iterations after a short warm-up. Target: p50 <= 10 ms for 50 words.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

from gateway.pii.analyzer import build_detector
from gateway.pii.settings import PiiSettings

PROMPT_50 = (
    "Hi, I'm Maria Garcia from the billing team. Please draft a short reply to the customer at "
    "j.smith@example.com who called from 415-555-0134 about invoice INV-20931, apologise for the "
    "delay, and confirm the refund of $120 will arrive within five business days. Keep it friendly "
    "and under a hundred words."
)
PARAGRAPHS = [
    "Our deployment pipeline builds the service with version 2.14.1 and pushes the image to the registry.",
    "Yesterday David Chen reported that requests to the checkout endpoint time out after thirty seconds.",
    "The log line reads: 2024-03-05T10:22:31Z ERROR payment.declined order=ORD-2024-000183 retry=2.",
    "Can you explain why the retry policy does not back off, and suggest a fix in Python with tenacity?",
    "Contact the on-call engineer at oncall@example.org or +44 20 7946 0958 if the incident escalates.",
    "我们的客户张伟反映，手机13812345678收不到验证码，请帮忙排查短信网关的问题。",
    "The configuration sets max_tokens to 512, temperature to 0.2 and uses the gpt-4o model by default.",
    "Please summarise the discussion, list the action items and name an owner for each of them.",
]


def _prompt_of(words: int) -> str:
    text: list[str] = []
    index = 0
    while len(" ".join(text).split()) < words:
        text.append(PARAGRAPHS[index % len(PARAGRAPHS)])
        index += 1
    return " ".join(" ".join(text).split()[:words])


def _measure(run: Callable[[str], object], text: str, iterations: int) -> tuple[float, float]:
    for _ in range(min(10, iterations)):
        run(text)
    samples = []
    for _ in range(iterations):
        began = time.perf_counter()
        run(text)
        samples.append((time.perf_counter() - began) * 1000)
    samples.sort()
    p99 = samples[min(len(samples) - 1, round(0.99 * (len(samples) - 1)))]
    return statistics.median(samples), p99


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--iterations", type=int, default=200, help="timed runs for the 50-word prompt")
    parser.add_argument("--model", default=None, help="spaCy model (default: the settings default)")
    args = parser.parse_args()
    settings = PiiSettings(cache_size=0) if args.model is None else PiiSettings(cache_size=0, spacy_model=args.model)
    detector = build_detector(settings)
    print(f"model={settings.spacy_model} ner={detector.ner_enabled} cache=off")
    for words, iterations in ((50, args.iterations), (1000, max(10, args.iterations // 10))):
        text = PROMPT_50 if words == 50 else _prompt_of(words)
        p50, p99 = _measure(detector.analyze, text, iterations)
        print(f"{len(text.split()):>5} words  p50 {p50:7.2f} ms  p99 {p99:7.2f} ms  ({iterations} runs)")


if __name__ == "__main__":
    main()

"""PII findings: what a detector found where, as plain values.

Pure: no presidio here. Offsets are Python string indices into the analysed text,
`end` exclusive. A finding never carries the matched value; callers slice the text
they own when they need it, so findings can be logged, cached and audited safely.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Finding:
    """One detected entity: its type (Presidio naming, e.g. `EMAIL_ADDRESS`), span and score."""

    entity_type: str
    start: int
    end: int
    score: float


class PiiDetector(Protocol):
    """Finds PII in texts. Implementations run heavy analysis off the event loop."""

    async def find(self, texts: list[str], /) -> list[tuple[Finding, ...]]:
        """Findings for each text, in the order given."""
        ...

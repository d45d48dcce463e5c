"""A bounded, thread-safe LRU of PII findings per text, so a chat's old turns are not re-analysed.

Keys are SHA-256 digests of the detector's configuration fingerprint and the text; values
are the findings (types, offsets, scores). Neither holds the text itself, so the cache can
never leak a prompt. The fingerprint makes a new configuration (model, thresholds,
entities) start from a clean slate instead of serving findings made under the old one.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict

from gateway.pii import metrics
from gateway.pii.findings import Finding


class FindingsCache:
    """LRU cache of findings keyed by `sha256(fingerprint + text)`; safe to share between threads.

    A `max_entries` of 0 disables caching (every lookup is a miss and nothing is stored).
    Hits and misses are counted in `gateway_pii_cache_hits_total` / `..._misses_total`.
    """

    def __init__(self, max_entries: int, *, fingerprint: str) -> None:
        if max_entries < 0:
            raise ValueError("max_entries must be >= 0")
        self._max_entries = max_entries
        self._prefix = hashlib.sha256(fingerprint.encode()).digest()
        self._entries: OrderedDict[bytes, tuple[Finding, ...]] = OrderedDict()
        self._lock = threading.Lock()

    def key(self, text: str) -> bytes:
        """The cache key of `text`: a digest, never the text."""
        return hashlib.sha256(self._prefix + text.encode("utf-8", "surrogatepass")).digest()

    def get(self, text: str) -> tuple[Finding, ...] | None:
        """Cached findings of `text`, or None (and a miss is counted)."""
        key = self.key(text)
        with self._lock:
            findings = self._entries.get(key)
            if findings is not None:
                self._entries.move_to_end(key)
        if findings is None:
            metrics.CACHE_MISSES.inc()
        else:
            metrics.CACHE_HITS.inc()
        return findings

    def put(self, text: str, findings: tuple[Finding, ...]) -> None:
        """Store the findings of `text`, evicting the least recently used entry when full."""
        if not self._max_entries:
            return
        key = self.key(text)
        with self._lock:
            self._entries[key] = findings
            self._entries.move_to_end(key)
            while len(self._entries) > self._max_entries:
                self._entries.popitem(last=False)

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

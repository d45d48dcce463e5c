from __future__ import annotations

import threading

import pytest

from gateway.pii.cache import FindingsCache
from gateway.pii.findings import Finding

FOUND = (Finding("PERSON", 0, 3, 0.9),)


def test_stored_findings_are_returned_for_the_same_text():
    cache = FindingsCache(4, fingerprint="cfg")
    cache.put("Ada", FOUND)
    assert cache.get("Ada") == FOUND
    assert cache.get("Grace") is None


def test_least_recently_used_entry_is_evicted_when_full():
    cache = FindingsCache(2, fingerprint="cfg")
    cache.put("one", FOUND)
    cache.put("two", ())
    cache.get("one")
    cache.put("three", ())
    assert (cache.get("one"), cache.get("two"), len(cache)) == (FOUND, None, 2)


def test_size_zero_disables_the_cache():
    cache = FindingsCache(0, fingerprint="cfg")
    cache.put("Ada", FOUND)
    assert cache.get("Ada") is None
    assert len(cache) == 0


def test_keys_are_digests_that_depend_on_the_fingerprint():
    assert FindingsCache(1, fingerprint="a").key("Ada") != FindingsCache(1, fingerprint="b").key("Ada")
    assert len(FindingsCache(1, fingerprint="a").key("Ada")) == 32


def test_negative_size_is_refused():
    with pytest.raises(ValueError, match="max_entries"):
        FindingsCache(-1, fingerprint="cfg")


def test_concurrent_writers_keep_the_bound():
    cache = FindingsCache(50, fingerprint="cfg")

    def write(offset: int) -> None:
        for index in range(500):
            cache.put(f"text {offset} {index}", FOUND)
            cache.get(f"text {offset} {index - 1}")

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(cache) == 50

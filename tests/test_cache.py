"""The one cache idea: a bounded, thread-safe LRU; named caches evicted by model; expiring values."""

from __future__ import annotations

import threading
import time

import pytest

from explorer import cache


def test_lru_keeps_the_most_recent_and_reports_evictions():
    evicted = []
    lru = cache.LRU(2, on_evict=lambda key, value: evicted.append(key))
    lru.get("a", lambda: 1)
    lru.get("b", lambda: 2)
    lru.get("a", lambda: 99)  # a hit: not recomputed, and now the most recent
    lru.get("c", lambda: 3)
    assert lru.peek("a") == 1 and lru.peek("b") is None and lru.peek("c") == 3 and evicted == ["b"]


def test_many_threads_asking_at_once_compute_once():
    calls = []

    def slow():
        calls.append(1)
        time.sleep(0.1)
        return object()

    lru, results = cache.LRU(4), []
    threads = [threading.Thread(target=lambda: results.append(lru.get("k", slow))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 1 and len({id(r) for r in results}) == 1


def test_a_failed_computation_is_not_cached():
    lru = cache.LRU(2)
    with pytest.raises(ZeroDivisionError):
        lru.get("k", lambda: 1 / 0)
    assert lru.get("k", lambda: 5) == 5


def test_evict_drops_one_models_entries_from_every_named_cache():
    first, second = cache.named("test-first", 4), cache.named("test-second", 4)
    first.put(("model-a", "x"), 1)
    second.put(("model-a", "y"), 2)
    second.put(("model-b", "y"), 3)
    cache.evict("model-a")
    assert first.peek(("model-a", "x")) is None and second.peek(("model-a", "y")) is None
    assert second.peek(("model-b", "y")) == 3
    assert cache.named("test-first", 4) is first


def test_expiring_recomputes_after_its_time():
    values = iter(range(10))
    expiring = cache.Expiring(0.05, lambda: next(values))
    assert expiring() == expiring() == 0
    time.sleep(0.06)
    assert expiring() == 1

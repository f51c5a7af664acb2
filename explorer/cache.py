"""The app's only caches: bounded, thread-safe LRUs, each registered under a name.

Every cache that holds something derived from a model (an attention forward, a tokenizer's
merge rules) keys its entries by the model's name first, so that when the model registry
evicts a model, `evict(name)` drops everything computed from it, in every cache at once.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

Value = TypeVar("Value")

_NAMED: dict[str, LRU] = {}
_NAMED_LOCK = threading.Lock()


class LRU(Generic[Value]):
    """A bounded least-recently-used map. `get(key, compute)` computes a missing value once even
    when several threads ask at the same time (one lock per key while it is computed)."""

    def __init__(self, capacity: int, on_evict: Callable[[Hashable, Value], None] | None = None):
        self.capacity = capacity
        self._on_evict = on_evict or (lambda key, value: None)
        self._entries: OrderedDict[Hashable, Value] = OrderedDict()
        self._lock = threading.Lock()
        self._computing: dict[Hashable, threading.Lock] = {}

    def get(self, key: Hashable, compute: Callable[[], Value]) -> Value:
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                return self._entries[key]
            key_lock = self._computing.setdefault(key, threading.Lock())
        with key_lock:
            with self._lock:  # another thread may have finished it while we waited
                if key in self._entries:
                    return self._entries[key]
            try:
                value = compute()
            finally:
                with self._lock:
                    self._computing.pop(key, None)
            self.put(key, value)
            return value

    def put(self, key: Hashable, value: Value) -> None:
        evicted = []
        with self._lock:
            self._entries[key] = value
            self._entries.move_to_end(key)
            while len(self._entries) > self.capacity:
                evicted.append(self._entries.popitem(last=False))
        for old_key, old_value in evicted:
            self._on_evict(old_key, old_value)

    def peek(self, key: Hashable) -> Value | None:
        """The value without computing it or changing its recency."""
        with self._lock:
            return self._entries.get(key)

    def values(self) -> list[Value]:
        with self._lock:
            return list(self._entries.values())

    def pop_where(self, predicate: Callable[[Hashable], bool]) -> None:
        with self._lock:
            doomed = [key for key in self._entries if predicate(key)]
            for key in doomed:
                del self._entries[key]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)


def named(name: str, capacity: int) -> LRU:
    """The cache called `name` (made on first use): one per idea, listed for `clear_all`."""
    with _NAMED_LOCK:
        if name not in _NAMED:
            _NAMED[name] = LRU(capacity)
        return _NAMED[name]


def evict(model_name: str) -> None:
    """Drop whatever any named cache computed from this model (keys start with its name)."""
    with _NAMED_LOCK:
        caches = list(_NAMED.values())
    for lru in caches:
        lru.pop_where(lambda key: isinstance(key, tuple) and key[:1] == (model_name,))


def clear_all() -> None:
    with _NAMED_LOCK:
        caches = list(_NAMED.values())
    for lru in caches:
        lru.clear()


class Expiring(Generic[Value]):
    """One value recomputed when older than `seconds` (e.g. whether the hub is reachable)."""

    def __init__(self, seconds: float, compute: Callable[[], Value]):
        self.seconds = seconds
        self._compute = compute
        self._value: tuple[float, Value] | None = None
        self._lock = threading.Lock()

    def __call__(self) -> Value:
        with self._lock:
            if self._value is None or time.monotonic() - self._value[0] > self.seconds:
                self._value = (time.monotonic(), self._compute())
            return self._value[1]

    def forget(self) -> None:
        with self._lock:
            self._value = None

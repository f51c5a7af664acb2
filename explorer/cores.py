"""How many torch threads a request computes with: every core while it is the app's only request, the
app's per-request count (`PLM_EXPLORER_THREADS`, default 1) while others run beside it.

A lone lecturer's Masked-LM fill, attention forward or tuning run is made of large matrix products
that two threads finish in about half the time of one; two requests at once keep one thread each, so
they do not fight over two cores. torch keeps a thread count per OS thread (once that thread has run
an op), so a request sets its own for its duration and puts the old one back after; a thread started
meanwhile may inherit the last count set anywhere, which is why the generation scheduler's thread sets
`REQUEST_THREADS` itself.
"""

from __future__ import annotations

import contextlib
import math
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import torch


def available_cores() -> int:
    """The cores this process may run on: its CPU affinity, capped by a cgroup CPU quota (a container
    such as a Space may see all of the host's cores but be allowed only two of them)."""
    cores = len(os.sched_getaffinity(0))
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
    except (OSError, ValueError):
        return cores
    return cores if quota == "max" else max(1, min(cores, math.ceil(int(quota) / int(period))))


REQUEST_THREADS = int(os.environ.get("PLM_EXPLORER_THREADS", "1"))  # each request's threads beside others
ALONE_THREADS = int(os.environ.get("PLM_EXPLORER_ALONE_THREADS", "0")) or available_cores()  # a lone request's


class Occupancy:
    """The requests computing now, and the threads each takes when it starts (or goes on) computing."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running = 0

    @contextlib.contextmanager
    def computing(self) -> Iterator[int]:
        """Count this request while it computes, on ALONE_THREADS threads if no other request is
        running, else REQUEST_THREADS; yields that count. The thread's own count is restored after."""
        with self._lock:
            threads = ALONE_THREADS if self._running == 0 else REQUEST_THREADS
            self._running += 1
        before = torch.get_num_threads()
        torch.set_num_threads(threads)
        try:
            yield threads
        finally:
            torch.set_num_threads(before)
            with self._lock:
                self._running -= 1


RUNNING = Occupancy()  # the app's requests (views/common.user_errors counts each one)

"""How many torch threads a request computes with: `PLM_EXPLORER_ALONE_THREADS` while it is the app's
only request, the per-request count (`PLM_EXPLORER_THREADS`, default 1) while others run beside it.

Both default to 1. On a machine whose cores are the app's own, a lone lecturer's Masked-LM fill or
tuning run may take two: a Chinese cloze fill on Gemma took 0.78x the time on two threads on a quiet
machine here, but 2-9x longer when another process was busy on one of the two cores (a thread of
the team waits at every barrier for the one that lost its core), so it is opt-in. Two requests at
once keep one thread each. torch keeps a thread count per OS thread (once that thread has run an
op), so a request sets its own for its duration and puts the old one back after; a thread started
meanwhile may inherit the last count set anywhere, which is why the generation scheduler's thread
sets `REQUEST_THREADS` itself. The count of running requests also tells background work (compiling)
when to start: between requests.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import threading
import time
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
# A lone request's threads; "all" = every core this process may use (`available_cores`).
_ALONE = os.environ.get("PLM_EXPLORER_ALONE_THREADS", "")
ALONE_THREADS = available_cores() if _ALONE == "all" else int(_ALONE or REQUEST_THREADS)


def lowest_priority() -> None:
    """Give the calling thread (and the processes it starts: a compiler's C++ builds) the CPU only when
    nothing else wants it (nice 19). Linux keeps a nice value per thread; elsewhere this does nothing."""
    if sys.platform == "linux":
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)


CHECK_EVERY = 4096  # a thread giving way looks at the requests this often (Python calls): ~1 ms of its work


class Occupancy:
    """The requests computing now, and the threads each takes when it starts (or goes on) computing."""

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._running = 0
        self._last_seen = -math.inf  # when a request last stopped computing, or a page was last served (time.monotonic)

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
                self._last_seen = time.monotonic()
                self._lock.notify_all()

    def seen(self) -> None:
        """Someone is using the app now (the web server got a request: a page, its scripts, its config).
        Background work giving way waits until it has been quiet for a while; it takes no threads."""
        self._last_seen = time.monotonic()

    def wait_quiet(self, seconds: float, longest: float = math.inf) -> bool:
        """Block until no request has computed, and no page was served, for `seconds` (True), or until
        `longest` seconds have passed (False): background work that would slow the requests down
        (compiling) runs between them."""
        deadline = time.monotonic() + longest
        with self._lock:
            while self._busy(seconds):
                if (left := deadline - time.monotonic()) <= 0:
                    return False
                wait = left if self._running else min(left, seconds - (time.monotonic() - self._last_seen))
                self._lock.wait(None if wait == math.inf else max(wait, 0.0))
            return True

    def _busy(self, quiet: float) -> bool:
        return bool(self._running) or time.monotonic() - self._last_seen < quiet

    @contextlib.contextmanager
    def giving_way(self, quiet: float, longest_pause: float) -> Iterator[None]:
        """Run this thread's Python only between requests: every CHECK_EVERY of its calls, it waits
        while a request computes or a page is being served (`wait_quiet(quiet)`). For background work
        that is mostly Python, so shares the interpreter's lock with the requests (compiling: beside it
        a 2 s generation took 16 s; giving way, 1.4 s, for twice the compile's CPU).

        A pause lasts at most `longest_pause` (a paused thread may hold a lock a request needs, e.g. a
        module it is importing); after a pause that long it works on for a tenth of it before looking
        again, so under endless traffic it still gets done, at a tenth of its pace."""
        calls, unchecked_until = 0, -math.inf

        def check(frame, event, arg) -> None:
            nonlocal calls, unchecked_until
            calls += 1
            if calls % CHECK_EVERY or time.monotonic() < unchecked_until or not self._busy(quiet):
                return
            if not self.wait_quiet(quiet, longest_pause):
                unchecked_until = time.monotonic() + longest_pause / 10

        sys.setprofile(check)  # this thread's only
        try:
            yield
        finally:
            sys.setprofile(None)


# The app's requests (views/common.user_errors counts each one) and page visits (views/traffic.py).
RUNNING = Occupancy()

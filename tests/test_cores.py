"""A request alone computes on the lone count of threads; beside others, on the per-request count; its own
count comes back after. Through `views.common.user_errors`, as every handler of the app runs."""

from __future__ import annotations

import contextlib
import os
import threading
import time

import pytest
import torch

from explorer import cores
from explorer.checks import ExplorerError
from explorer.views.common import user_errors


@pytest.fixture
def counts(monkeypatch):
    """Distinct counts (3 alone, 1 beside others), so the test sees which one was chosen."""
    monkeypatch.setattr(cores, "ALONE_THREADS", 3)
    monkeypatch.setattr(cores, "REQUEST_THREADS", 1)
    monkeypatch.setattr(cores, "RUNNING", cores.Occupancy())
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


def test_available_cores_is_at_least_one_and_at_most_the_affinity():
    assert 1 <= cores.available_cores() <= len(os.sched_getaffinity(0))


def test_alone_the_lone_count_beside_another_the_request_count_and_the_count_comes_back(counts):
    with cores.RUNNING.computing() as first:
        assert first == 3 and torch.get_num_threads() == 3
        with cores.RUNNING.computing() as second:
            assert second == 1 and torch.get_num_threads() == 1
        assert torch.get_num_threads() == 3
    assert torch.get_num_threads() == 2
    with cores.RUNNING.computing() as again:  # the others left: alone again
        assert again == 3


def test_a_failure_still_leaves_the_count_and_the_occupancy(counts):
    with pytest.raises(ValueError), cores.RUNNING.computing():
        raise ValueError("boom")
    assert torch.get_num_threads() == 2
    with cores.RUNNING.computing() as threads:
        assert threads == 3


def test_a_handler_alone_gets_the_lone_count_and_one_beside_another(counts):
    seen, inside, leave = {}, threading.Event(), threading.Event()

    @user_errors
    def slow():
        seen["slow"] = torch.get_num_threads()
        inside.set()
        leave.wait(10)

    @user_errors
    def quick():
        seen["quick"] = torch.get_num_threads()

    runner = threading.Thread(target=slow)
    runner.start()
    inside.wait(10)
    quick()
    leave.set()
    runner.join()
    assert seen == {"slow": 3, "quick": 1}
    quick()
    assert seen["quick"] == 3 and torch.get_num_threads() == 2


def test_a_stream_decides_at_each_step_and_a_failing_handler_frees_its_place(counts):
    @user_errors
    def stream():
        yield torch.get_num_threads()
        yield torch.get_num_threads()

    @user_errors
    def fails():
        raise ExplorerError("bad input")

    steps = stream()
    assert next(steps) == 3
    with cores.RUNNING.computing():  # another request arrives between the stream's steps
        assert next(steps) == 1
    with pytest.raises(Exception, match="bad input"):
        fails()
    with cores.RUNNING.computing() as threads:
        assert threads == 3


@contextlib.contextmanager
def a_request_computing():
    """A request computing in another thread until the block ends."""
    inside, leave = threading.Event(), threading.Event()

    def request():
        with cores.RUNNING.computing():
            inside.set()
            leave.wait(10)

    runner = threading.Thread(target=request)
    runner.start()
    inside.wait(10)
    try:
        yield
    finally:
        leave.set()
        runner.join()


def test_background_work_waits_until_no_request_has_computed_for_a_while(counts):
    started = []

    def background():
        cores.RUNNING.wait_quiet(0.3)
        started.append(time.monotonic())

    with a_request_computing():
        waiter = threading.Thread(target=background)
        waiter.start()
        waiter.join(0.5)
        assert not started  # a request is computing
    ended = time.monotonic()
    waiter.join(10)
    assert started and started[0] - ended >= 0.25  # then it waited for the quiet time


def test_a_thread_giving_way_stops_while_a_request_computes(counts):
    progress, stop = [], threading.Event()

    def background():
        with cores.RUNNING.giving_way(quiet=0.05, longest_pause=10):
            while not stop.is_set():
                progress.append(abs(-1))  # Python calls: where it looks at the requests

    worker = threading.Thread(target=background)
    worker.start()
    time.sleep(0.1)
    with a_request_computing():
        time.sleep(0.1)  # it reaches its next look and stops
        paused = len(progress)
        time.sleep(0.3)
        assert len(progress) - paused < cores.CHECK_EVERY  # at most what it did before its next look
    time.sleep(0.3)
    assert len(progress) > paused + cores.CHECK_EVERY  # the request left: it goes on
    stop.set()
    worker.join(10)


def test_waiting_for_quiet_gives_up_after_the_longest_pause(counts):
    with cores.RUNNING.computing():
        started = time.monotonic()
        cores.RUNNING.wait_quiet(1.0, longest=0.2)
        assert 0.15 < time.monotonic() - started < 2


def test_a_page_served_counts_as_activity_for_the_quiet_time(counts):
    assert cores.RUNNING.wait_quiet(0.2, longest=0)  # quiet: nothing seen yet
    cores.RUNNING.seen()
    assert not cores.RUNNING.wait_quiet(0.2, longest=0)  # just seen: not quiet
    started = time.monotonic()
    assert cores.RUNNING.wait_quiet(0.2)  # quiet again once 0.2 s have passed with no page
    assert 0.15 < time.monotonic() - started < 2


def test_giving_way_under_endless_traffic_still_works_a_tenth_of_the_time(counts):
    progress, stop = [], threading.Event()

    def background():
        with cores.RUNNING.giving_way(quiet=0.05, longest_pause=0.5):
            while not stop.is_set():
                progress.append(abs(-1))

    with a_request_computing():  # a request that never ends
        worker = threading.Thread(target=background)
        worker.start()
        time.sleep(0.3)
        assert len(progress) < cores.CHECK_EVERY  # paused at its first look
        time.sleep(0.3)  # the longest pause is over: it works on for 0.05 s before looking again
        assert len(progress) > cores.CHECK_EVERY
        stop.set()
    worker.join(10)


def test_lowest_priority_is_this_threads_alone():
    niceness, before = {}, os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    def background():
        cores.lowest_priority()
        niceness["background"] = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    worker = threading.Thread(target=background)
    worker.start()
    worker.join(10)
    assert niceness["background"] == 19
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == before  # the calling thread is untouched

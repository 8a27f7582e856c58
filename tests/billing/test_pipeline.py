"""billing.pipeline: a producer in a forked child gives what it gives in this process."""

from __future__ import annotations

import os
import threading

import pytest

from billing import pipeline

from .conftest import REAL_CAN_FORK


def _numbers():
    for n in range(50):
        yield n, os.getpid()


def test_items_come_from_a_child_process_in_order():
    got = list(pipeline.items(_numbers))
    assert [n for n, _pid in got] == list(range(50))
    assert {pid for _n, pid in got} != {os.getpid()}


def test_with_another_thread_running_the_producer_runs_here(monkeypatch):
    monkeypatch.setattr(pipeline, "_can_fork", REAL_CAN_FORK)
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        got = list(pipeline.items(_numbers))
    finally:
        stop.set()
        other.join()
    assert [n for n, _pid in got] == list(range(50))
    assert {pid for _n, pid in got} == {os.getpid()}


def _fails():
    yield 1
    raise ValueError("bad row")


def test_an_exception_in_the_child_is_raised_here_with_its_traceback():
    got = []
    with pytest.raises(pipeline.ChildFailed, match="ValueError: bad row"):
        for item in pipeline.items(_fails):
            got.append(item)
    assert got == [1]

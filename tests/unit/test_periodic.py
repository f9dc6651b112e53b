"""The background task loop: steps repeat, a failing step is logged and run again, stop ends it."""

import logging
import threading

import pytest

from steelyard.periodic import Periodic


def test_a_failing_step_is_logged_and_run_again(caplog: pytest.LogCaptureFixture) -> None:
    calls: list[int] = []
    third = threading.Event()

    def step() -> None:
        calls.append(len(calls))
        if len(calls) == 3:
            third.set()
        if len(calls) == 1:
            raise RuntimeError("database is locked")

    task = Periodic("test task", 0.01, step, logging.getLogger("test.periodic"))
    with caplog.at_level(logging.ERROR, logger="test.periodic"):
        task.start()
        assert third.wait(30)
        task.stop()
    assert len(calls) >= 3
    assert [r.getMessage() for r in caplog.records] == ["test task failed"]


def test_stop_ends_the_thread_and_needs_no_start() -> None:
    ran = threading.Event()
    task = Periodic("test task", 0.01, ran.set, logging.getLogger("test.periodic"))
    task.stop()  # never started: nothing to join
    task = Periodic("test task", 0.01, ran.set, logging.getLogger("test.periodic"))
    task.start()
    assert ran.wait(30)
    task.stop()
    assert not task._thread.is_alive()

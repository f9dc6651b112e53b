"""A step run every `interval_s` on a daemon thread of its own, until stopped: the background
tasks of the server (status observation, threshold alerts, usage accrual) share this loop.

A step that raises is logged and run again at the next interval: a busy database or an agent
restarting must not end the task.
"""

import logging
import threading
from collections.abc import Callable

STOP_WAIT_S = 10.0


class Periodic:
    def __init__(
        self, name: str, interval_s: float, step: Callable[[], object], log: logging.Logger
    ) -> None:
        self._name = name
        self._interval_s = interval_s
        self._step = step
        self._log = log
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread.ident is not None:
            self._thread.join(timeout=STOP_WAIT_S)

    def _run(self) -> None:
        while not self._stopping.wait(self._interval_s):
            try:
                self._step()
            except Exception:
                self._log.exception("%s failed", self._name)

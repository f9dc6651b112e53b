"""The usage accrual task: every `interval_s`, accrue every load balancer's seconds and bytes
into hourly usage records (db.usage has the bookkeeping that makes it safe to repeat)."""

import logging
import threading
from collections.abc import Callable
from datetime import datetime

from sqlalchemy.orm import Session

from steelyard.db.usage import accrue_usage

log = logging.getLogger(__name__)
DEFAULT_INTERVAL_S = 60.0


class UsageAccrual:
    def __init__(
        self,
        sessions: Callable[[], Session],
        clock: Callable[[], datetime],
        interval_s: float = DEFAULT_INTERVAL_S,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._interval = interval_s
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="usage-accrual", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread.ident is not None:
            self._thread.join(timeout=10)

    def accrue(self) -> int:
        with self._sessions() as session:
            accrued = accrue_usage(session, self._clock())
            session.commit()
        return accrued

    def _run(self) -> None:
        while not self._stopping.wait(self._interval):
            try:
                self.accrue()
            except Exception:
                log.exception("accruing usage failed")

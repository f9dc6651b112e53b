"""The usage accrual task: every `interval_s`, accrue every load balancer's seconds and bytes
into hourly usage records (db.usage has the bookkeeping that makes it safe to repeat)."""

import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy.orm import Session

from steelyard.db.usage import accrue_usage
from steelyard.periodic import Periodic

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
        self._task = Periodic("usage accrual", interval_s, self.accrue, log)

    def start(self) -> None:
        self._task.start()

    def stop(self) -> None:
        self._task.stop()

    def accrue(self) -> int:
        with self._sessions() as session:
            accrued = accrue_usage(session, self._clock())
            session.commit()
        return accrued

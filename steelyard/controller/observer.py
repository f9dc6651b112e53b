"""Statuses from reality: polls each appliance's HAProxy stats through its agent and writes
operating statuses and counters. An appliance that lost its config is resynced."""

import logging
import threading
from collections.abc import Callable
from datetime import datetime

from sqlalchemy.orm import Session

from steelyard.controller.ports import ApplianceAgent
from steelyard.controller.statuses import ListenerCounters, observe
from steelyard.db.operating import (
    CounterDelta,
    add_listener_counters,
    observed_loadbalancers,
    request_resync,
    set_loadbalancer_status,
    write_statuses,
)
from steelyard.db.snapshot import load_snapshot
from steelyard.model.enums import OperatingStatus

log = logging.getLogger(__name__)


def counter_delta(previous: ListenerCounters | None, now: ListenerCounters) -> CounterDelta:
    """HAProxy's counters restart at zero on reload: a drop means a new process."""

    def gained(before: int, after: int) -> int:
        return after if after < before else after - before

    if previous is None:
        previous = ListenerCounters(0, 0, 0, 0, 0)
    return CounterDelta(
        bytes_in=gained(previous.bytes_in, now.bytes_in),
        bytes_out=gained(previous.bytes_out, now.bytes_out),
        total_connections=gained(previous.total_connections, now.total_connections),
        request_errors=gained(previous.request_errors, now.request_errors),
        active_connections=now.active_connections,
    )


class StatusObserver:
    def __init__(
        self,
        sessions: Callable[[], Session],
        agent: ApplianceAgent,
        clock: Callable[[], datetime],
        on_resync: Callable[[str], None],
        interval_s: float = 1.0,
    ) -> None:
        self._sessions = sessions
        self._agent = agent
        self._clock = clock
        self._on_resync = on_resync
        self._interval = interval_s
        self._last: dict[str, ListenerCounters] = {}
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="status-observer", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stopping.wait(self._interval):
            try:
                self.observe_all()
            except Exception:
                log.exception("status observation failed")

    def observe_all(self) -> None:
        with self._sessions() as session:
            targets = observed_loadbalancers(session)
        for lb_id, appliance in targets:
            self.observe_one(lb_id, appliance)

    def observe_one(self, lb_id: str, appliance: str) -> None:
        info = self._agent.get_appliance(appliance)
        if info is None or not info.running:
            log.warning("appliance %s of %s is not running: resync", appliance, lb_id)
            with self._sessions() as session:
                set_loadbalancer_status(session, lb_id, OperatingStatus.ERROR)
                request_resync(session, lb_id)
                session.commit()
            self._on_resync(lb_id)
            return
        rows = self._agent.stats(appliance)
        with self._sessions() as session:
            snap = load_snapshot(session, lb_id)
            if snap is None or snap.deleting:
                return
            statuses, counters = observe(snap.spec, rows)
            write_statuses(session, lb_id, statuses)
            deltas = {lid: counter_delta(self._last.get(lid), now) for lid, now in counters.items()}
            add_listener_counters(session, lb_id, deltas, self._clock())
            session.commit()
        self._last.update(counters)

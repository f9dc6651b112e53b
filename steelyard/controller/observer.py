"""Statuses from reality: polls each appliance's HAProxy stats through its agent and writes
operating statuses and counters. An appliance that lost its config is resynced."""

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from steelyard.agent.contract import ListenerProtection
from steelyard.controller.breach import BreachTracker
from steelyard.controller.ports import ApplianceAgent
from steelyard.controller.statuses import ListenerCounters, observe
from steelyard.db.events import record_event
from steelyard.db.operating import (
    CounterDelta,
    add_listener_counters,
    add_rejections,
    observed_loadbalancers,
    request_resync,
    set_loadbalancer_status,
    write_statuses,
)
from steelyard.db.snapshot import load_snapshot
from steelyard.model.enums import OperatingStatus

log = logging.getLogger(__name__)
NOT_RUNNING_SIGHTINGS = 2


def gained(before: int, after: int) -> int:
    """HAProxy's counters restart at zero on reload: a drop means a new process."""
    return after if after < before else after - before


def counter_delta(previous: ListenerCounters | None, now: ListenerCounters) -> CounterDelta:
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
        self._last_rejected: dict[str, dict[str, int]] = {}
        self._not_running: dict[str, int] = {}
        self._breaches = BreachTracker()
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
        if info is not None and info.running:
            self._not_running.pop(appliance, None)
        else:
            # A reload can catch the master between workers: act on the second sighting only.
            self._not_running[appliance] = self._not_running.get(appliance, 0) + 1
            if self._not_running[appliance] < NOT_RUNNING_SIGHTINGS:
                return
            del self._not_running[appliance]
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
        if any(listener.protection is not None for listener in snap.spec.listeners):
            self.observe_protection(lb_id, appliance)

    def observe_protection(self, lb_id: str, appliance: str) -> None:
        """Rejection counters per reason into the database; a sustained breach (or its end)
        into the event log, naming the busiest sources."""
        listeners = self._agent.protection_stats(appliance)
        added: dict[str, dict[str, int]] = {}
        events: list[BreachEvent] = []
        for listener in listeners:
            before = self._last_rejected.get(listener.listener_id, {})
            added[listener.listener_id] = {
                reason: gain
                for reason, count in listener.rejected.items()
                if (gain := gained(before.get(reason, 0), count)) > 0
            }
            self._last_rejected[listener.listener_id] = dict(listener.rejected)
            change = self._breaches.observe(listener.listener_id, sum(listener.rejected.values()))
            if change is not None:
                events.append(_breach_event(change, listener))
        with self._sessions() as session:
            now = self._clock()
            add_rejections(session, lb_id, added, now)
            for event in events:
                record_event(
                    session,
                    type=event.type,
                    severity=event.severity,
                    message=event.message,
                    loadbalancer_id=lb_id,
                    listener_id=event.listener_id,
                    details=event.details,
                    now=now,
                )
            session.commit()


@dataclass(frozen=True)
class BreachEvent:
    type: str
    severity: str
    listener_id: str
    message: str
    details: dict[str, object]


def _breach_event(change: str, listener: ListenerProtection) -> BreachEvent:
    if change == "breach":
        busiest = ", ".join(source.address for source in listener.top_sources[:3]) or "unknown"
        return BreachEvent(
            "protection.breach",
            "warning",
            listener.listener_id,
            f"listener {listener.listener_id} is refusing traffic steadily "
            f"(top sources: {busiest})",
            {
                "rejected": listener.rejected,
                "top_sources": [source.model_dump() for source in listener.top_sources[:10]],
            },
        )
    return BreachEvent(
        "protection.calm",
        "info",
        listener.listener_id,
        f"listener {listener.listener_id}: rejections are back below the alert threshold",
        {"rejected": listener.rejected},
    )

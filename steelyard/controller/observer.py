"""Statuses from reality.

Operating statuses and traffic counters come from the appliances' heartbeats: the health
manager hands each flush's accepted heartbeats to `HeartbeatStatuses` (injected by the
composition root, so that health/ needs nothing of controller/). `StatusObserver` polls each
appliance's agent: an appliance whose HAProxy is not running is resynced, and the protection
counters and breach events of protected listeners are read.
"""

import logging
import math
import time
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from steelyard.agent.contract import ListenerProtection, StatRow
from steelyard.controller.breach import BreachTracker
from steelyard.controller.ports import ApplianceAgent
from steelyard.controller.statuses import observe
from steelyard.db.counters import (
    CUMULATIVE,
    LoadBalancerGains,
    Traffic,
    add_traffic,
    counted_appliances,
    plus,
)
from steelyard.db.events import record_event
from steelyard.db.operating import (
    ObservedStatuses,
    add_rejections,
    observed_loadbalancers,
    request_resync,
    set_loadbalancer_status,
    write_statuses,
)
from steelyard.db.snapshot import load_snapshot
from steelyard.model.enums import OperatingStatus
from steelyard.model.heartbeat import ApplianceReport, Heartbeat, ProxyRow
from steelyard.periodic import Periodic

log = logging.getLogger(__name__)
NOT_RUNNING_SIGHTINGS = 2
ACTIVE_TTL_S = 10.0  # an appliance not heard of for this long adds no open connections


def gained(before: int, after: int) -> int:
    """HAProxy's counters restart at zero on reload: a drop means a new process."""
    return after if after < before else after - before


def traffic_of(row: ProxyRow) -> Traffic:
    return Traffic(
        bytes_in=row.bin,
        bytes_out=row.bout,
        active_connections=row.scur,
        total_connections=row.stot,
        request_errors=row.ereq,
        connection_errors=row.econ,
        response_errors=row.eresp,
        requests=row.req_tot,
        hrsp_1xx=row.hrsp_1xx,
        hrsp_2xx=row.hrsp_2xx,
        hrsp_3xx=row.hrsp_3xx,
        hrsp_4xx=row.hrsp_4xx,
        hrsp_5xx=row.hrsp_5xx,
        hrsp_other=row.hrsp_other,
    )


def counter_delta(previous: Traffic | None, now: Traffic) -> Traffic:
    """What a row gained since `previous`. A reload restarts all of a process's counters at
    zero: when any of them dropped, everything `now` holds is new."""
    if previous is None or any(getattr(now, f) < getattr(previous, f) for f in CUMULATIVE):
        return now
    gains = {name: getattr(now, name) - getattr(previous, name) for name in CUMULATIVE}
    return Traffic(active_connections=now.active_connections, **gains)


def status_source(heartbeats: Sequence[Heartbeat]) -> Heartbeat | None:
    """The heartbeat whose rows set a load balancer's statuses: one with complete rows from a
    running HAProxy; with keepalived, only the MASTER's (it carries the traffic)."""
    usable = [hb for hb in heartbeats if hb.haproxy_running and not hb.truncated]
    if any(hb.vrrp_state is not None for hb in heartbeats):
        usable = [hb for hb in usable if hb.vrrp_state == "MASTER"]
    return min(usable, key=lambda hb: hb.appliance, default=None)


def _fingerprint(heartbeat: Heartbeat) -> Hashable:
    """What statuses depend on: the config generation, names, statuses and weights."""
    return heartbeat.appliance, heartbeat.generation, heartbeat.stats.shape()


class HeartbeatStatuses:
    """Heartbeat rows into operating statuses and traffic counters.

    Counters are kept per appliance and row (FRONTEND: a listener, BACKEND: a pool, a server:
    a member), so that the appliances of one load balancer add up: each adds what it gained
    since its last heartbeat (`counter_delta`: a drop means HAProxy reloaded and counts from
    zero). The first heartbeat of an appliance counts whole, unless its counters were written
    before (by this process's predecessor, say, before a restart): then it is only the baseline,
    so that a restart does not count an appliance's history twice (the gains of the seconds
    before the restart that were not written yet are lost instead). Open connections are the
    sum of each appliance's last report (for ACTIVE_TTL_S). Each appliance's FRONTEND gains are
    also kept on their own (Octavia's amphora stats). Gains are collected in memory and
    written for a load balancer at most every `counters_every_s`, with the rows they update
    read in a few queries per call.

    Statuses are computed from `status_source` only when its rows or config generation
    changed, or every `refresh_s`: loading a load balancer's spec is the costly part. Specs
    are read in a read-only session, so that the one write transaction per call (counters and
    changed statuses) holds the database's write lock only for the writes.
    """

    def __init__(
        self,
        sessions: Callable[[], Session],
        read_sessions: Callable[[], Session],
        refresh_s: float = 60.0,
        counters_every_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sessions = sessions
        self._read_sessions = read_sessions
        self._refresh_s = refresh_s
        self._counters_every_s = counters_every_s
        self._clock = clock
        self._last: dict[str, dict[tuple[str, str], Traffic]] = {}  # per appliance, row
        # open connections per (load balancer, kind, key), per appliance: (scur, when seen)
        self._active: dict[tuple[str, str, Hashable], dict[str, tuple[int, float]]] = {}
        self._gained: dict[str, LoadBalancerGains] = {}
        self._written: dict[str, float] = {}  # when a load balancer's counters were written
        self._seen: dict[str, tuple[Hashable, float]] = {}

    def __call__(self, reports: Sequence[ApplianceReport], now: datetime) -> None:
        by_lb: dict[str, list[Heartbeat]] = {}
        for report in reports:
            by_lb.setdefault(report.loadbalancer_id, []).append(report.heartbeat)
        at = self._clock()
        unseen = {report.heartbeat.appliance for report in reports} - self._last.keys()
        baseline = self._counted_before(unseen) if unseen else set()
        due: dict[str, LoadBalancerGains] = {}
        changed: dict[str, Heartbeat] = {}
        for lb_id, heartbeats in by_lb.items():
            self._gain(lb_id, heartbeats, at, baseline)
            if at - self._written.get(lb_id, -math.inf) >= self._counters_every_s:
                due[lb_id] = self._take(lb_id, at)
            source = status_source(heartbeats)
            if source is not None and self._due(lb_id, source, at):
                changed[lb_id] = source
        statuses = self._statuses(changed) if changed else {}
        if not any(due.values()) and not statuses:
            return
        with self._sessions() as session:
            add_traffic(session, due, now)
            for lb_id, seen in statuses.items():
                write_statuses(session, lb_id, seen, now)
            session.commit()

    def _counted_before(self, appliances: set[str]) -> set[str]:
        with self._read_sessions() as session:
            return counted_appliances(session, appliances)

    def _gain(self, lb_id: str, heartbeats: list[Heartbeat], at: float, baseline: set[str]) -> None:
        gains = self._gained.setdefault(lb_id, LoadBalancerGains())
        for heartbeat in heartbeats:
            appliance = heartbeat.appliance
            last = self._last.get(appliance, {})
            only_now = appliance in baseline  # counted by an earlier process: a baseline
            # A truncated heartbeat lacks the server rows: keep their last values for the next.
            seen = dict(last) if heartbeat.truncated else {}
            for row in heartbeat.stats.rows():
                key = (row.pxname, row.svname)
                now = seen[key] = traffic_of(row)
                if only_now:
                    delta = Traffic(active_connections=now.active_connections)
                else:
                    delta = counter_delta(last.get(key), now)
                if row.svname == "FRONTEND":
                    _add_to(gains.listeners, row.pxname, delta)
                    _add_to(gains.appliances, (appliance, row.pxname), delta)
                    self._note_active(lb_id, "listener", row.pxname, appliance, row.scur, at)
                elif row.svname == "BACKEND":
                    _add_to(gains.pools, row.pxname, delta)
                    self._note_active(lb_id, "pool", row.pxname, appliance, row.scur, at)
                else:
                    _add_to(gains.members, key, delta)
                    self._note_active(lb_id, "member", key, appliance, row.scur, at)
            self._last[appliance] = seen

    def _note_active(
        self, lb_id: str, kind: str, key: Hashable, appliance: str, scur: int, at: float
    ) -> None:
        self._active.setdefault((lb_id, kind, key), {})[appliance] = (scur, at)

    def _take(self, lb_id: str, at: float) -> LoadBalancerGains:
        """The gains to write for `lb_id`, with the open connections of all its appliances."""
        self._written[lb_id] = at
        gains = self._gained.pop(lb_id, LoadBalancerGains())
        kinds: tuple[tuple[str, dict[Any, Traffic]], ...] = (
            ("listener", gains.listeners),
            ("pool", gains.pools),
            ("member", gains.members),
        )
        for kind, found in kinds:
            for key, traffic in found.items():
                active = self._active[(lb_id, kind, key)]
                for appliance, (_, seen) in list(active.items()):
                    if at - seen > ACTIVE_TTL_S:
                        del active[appliance]
                total = sum(scur for scur, _ in active.values())
                found[key] = replace(traffic, active_connections=total)
        return gains

    def _due(self, lb_id: str, source: Heartbeat, at: float) -> bool:
        fingerprint = _fingerprint(source)
        seen = self._seen.get(lb_id)
        if seen is not None and seen[0] == fingerprint and at - seen[1] < self._refresh_s:
            return False
        self._seen[lb_id] = (fingerprint, at)
        return True

    def _statuses(self, sources: dict[str, Heartbeat]) -> dict[str, ObservedStatuses]:
        found = {}
        with self._read_sessions() as session:
            for lb_id, source in sources.items():
                snap = load_snapshot(session, lb_id)
                if snap is None or snap.deleting:
                    continue
                rows = [StatRow.model_construct(**_fields(row)) for row in source.stats.rows()]
                found[lb_id], _ = observe(snap.spec, rows)
        return found


def _add_to(gains: dict[Any, Traffic], key: Hashable, delta: Traffic) -> None:
    before = gains.get(key)
    gains[key] = delta if before is None else plus(before, delta)


def _fields(row: ProxyRow) -> dict[str, Any]:
    return {name: getattr(row, name) for name in ProxyRow.__dataclass_fields__}


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
        self._last_rejected: dict[str, dict[str, int]] = {}
        self._not_running: dict[str, int] = {}
        self._breaches = BreachTracker()
        self._task = Periodic("status observation", interval_s, self.observe_all, log)

    def start(self) -> None:
        self._task.start()

    def stop(self) -> None:
        self._task.stop()

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
                set_loadbalancer_status(session, lb_id, OperatingStatus.ERROR, self._clock())
                request_resync(session, lb_id)
                session.commit()
            self._on_resync(lb_id)
            return
        with self._sessions() as session:
            snap = load_snapshot(session, lb_id)
        if snap is None or snap.deleting:
            return
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

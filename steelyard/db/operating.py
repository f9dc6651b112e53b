"""Writes what the data plane reports: operating statuses (counters: db.counters)."""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from steelyard.db import models as m
from steelyard.db.state_events import StatusChange, record_status_changes
from steelyard.model.enums import OperatingStatus


@dataclass(frozen=True)
class ObservedStatuses:
    loadbalancer: OperatingStatus
    listeners: dict[str, OperatingStatus]
    pools: dict[str, OperatingStatus]
    members: dict[str, OperatingStatus]
    healthmonitors: dict[str, OperatingStatus]


def _set_changed(
    session: Session, table: type[m.Provisioned], statuses: dict[str, OperatingStatus]
) -> list[StatusChange]:
    """Write the statuses that differ from the stored ones; (id, before, after) of each."""
    if not statuses:
        return []
    current = {
        obj_id: status
        for obj_id, status in session.execute(
            select(table.id, table.operating_status).where(table.id.in_(list(statuses)))
        )
    }
    changed = []
    for obj_id, status in statuses.items():
        if obj_id in current and current[obj_id] != status.value:
            session.execute(
                update(table).where(table.id == obj_id).values(operating_status=status.value)
            )
            changed.append((obj_id, current[obj_id], status.value))
    return changed


def write_statuses(session: Session, lb_id: str, seen: ObservedStatuses, now: datetime) -> None:
    """Store what the data plane reports, with an event for every change (monitors get none
    of their own: their members' events say it)."""
    changes = {
        "loadbalancer": _set_changed(session, m.LoadBalancer, {lb_id: seen.loadbalancer}),
        "listener": _set_changed(session, m.Listener, seen.listeners),
        "pool": _set_changed(session, m.Pool, seen.pools),
        "member": _set_changed(session, m.Member, seen.members),
    }
    _set_changed(session, m.HealthMonitor, seen.healthmonitors)
    record_status_changes(session, lb_id, changes, now)


def set_loadbalancer_status(
    session: Session, lb_id: str, status: OperatingStatus, now: datetime
) -> None:
    changed = _set_changed(session, m.LoadBalancer, {lb_id: status})
    record_status_changes(session, lb_id, {"loadbalancer": changed}, now)


def request_resync(session: Session, lb_id: str) -> None:
    """The appliance lost its config (restart, crash), or an operator or drift asks for the
    config again: make the load balancer dirty, and count the request so that an apply already
    running does not mark it clean (db/outcomes.record_applied)."""
    session.execute(
        update(m.LoadBalancer)
        .where(m.LoadBalancer.id == lb_id, m.LoadBalancer.deleting.is_(False))
        .values(applied_generation=0, resyncs_requested=m.LoadBalancer.resyncs_requested + 1)
    )
    session.execute(
        update(m.Appliance).where(m.Appliance.loadbalancer_id == lb_id).values(applied_generation=0)
    )


def observed_loadbalancers(session: Session) -> list[tuple[str, str]]:
    """(load balancer id, appliance name) of every appliance that has a config in force."""
    rows = session.execute(
        select(m.Appliance.loadbalancer_id, m.Appliance.name)
        .join(m.LoadBalancer, m.LoadBalancer.id == m.Appliance.loadbalancer_id)
        .where(m.Appliance.applied_generation > 0, m.LoadBalancer.deleting.is_(False))
    ).all()
    return [(lb_id, name) for lb_id, name in rows if lb_id is not None]


def add_rejections(
    session: Session, lb_id: str, gained: dict[str, dict[str, int]], now: datetime
) -> None:
    """Add what each listener's protection refused since the last observation, per reason."""
    for listener_id, by_reason in gained.items():
        if session.get(m.Listener, listener_id) is None:
            continue  # deleted meanwhile
        for reason, count in by_reason.items():
            row = session.get(m.ListenerRejections, (listener_id, reason))
            if row is None:
                row = m.ListenerRejections(
                    listener_id=listener_id,
                    reason=reason,
                    loadbalancer_id=lb_id,
                    count=0,
                    updated_at=now,
                )
                session.add(row)
            row.count += count
            row.updated_at = now

"""What the reconciler writes back: success, deletion done, failure with backoff, appliances."""

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, case, delete, select, update
from sqlalchemy.orm import Session

from steelyard.db import models as m
from steelyard.db.counters import remove_counters, remove_loadbalancer_counters
from steelyard.db.snapshot import Doomed, LbSnapshot
from steelyard.db.state_events import record_active, record_apply_failure, record_removed
from steelyard.db.usage import close_usage
from steelyard.model.enums import OperatingStatus, ProvisioningStatus

SETTLING = (
    ProvisioningStatus.PENDING_CREATE.value,
    ProvisioningStatus.PENDING_UPDATE.value,
    ProvisioningStatus.ERROR.value,
)
ONLINE = OperatingStatus.ONLINE.value
OFFLINE = OperatingStatus.OFFLINE.value
ERROR_AFTER_ATTEMPTS = 3
MAX_BACKOFF = timedelta(seconds=30)


def backoff(attempts: int) -> timedelta:
    return min(timedelta(milliseconds=250 * 2 ** min(attempts, 10)), MAX_BACKOFF)


def _children(lb_id: str) -> list[tuple[type[m.Provisioned], ColumnElement[bool]]]:
    """Each child table with the condition that selects this load balancer's rows."""
    pools = select(m.Pool.id).where(m.Pool.loadbalancer_id == lb_id).scalar_subquery()
    listeners = select(m.Listener.id).where(m.Listener.loadbalancer_id == lb_id).scalar_subquery()
    policies = select(m.L7Policy.id).where(m.L7Policy.listener_id.in_(listeners)).scalar_subquery()
    return [
        (m.Listener, m.Listener.loadbalancer_id == lb_id),
        (m.Pool, m.Pool.loadbalancer_id == lb_id),
        (m.Member, m.Member.pool_id.in_(pools)),
        (m.HealthMonitor, m.HealthMonitor.pool_id.in_(pools)),
        (m.L7Policy, m.L7Policy.listener_id.in_(listeners)),
        (m.L7Rule, m.L7Rule.l7policy_id.in_(policies)),
    ]


def _remove_doomed(session: Session, doomed: Doomed) -> None:
    # Children first: members and monitors reference pools, rules policies, policies listeners.
    session.execute(delete(m.L7Rule).where(m.L7Rule.id.in_(doomed.l7rules)))
    session.execute(delete(m.L7Policy).where(m.L7Policy.id.in_(doomed.l7policies)))
    session.execute(delete(m.Member).where(m.Member.id.in_(doomed.members)))
    session.execute(delete(m.HealthMonitor).where(m.HealthMonitor.id.in_(doomed.healthmonitors)))
    session.execute(
        delete(m.ListenerStats).where(m.ListenerStats.listener_id.in_(doomed.listeners))
    )
    remove_counters(session, doomed.listeners, doomed.pools, doomed.members)
    session.execute(delete(m.Listener).where(m.Listener.id.in_(doomed.listeners)))
    session.execute(
        update(m.Listener)
        .where(m.Listener.default_pool_id.in_(doomed.pools))
        .values(default_pool_id=None)
    )
    session.execute(delete(m.Pool).where(m.Pool.id.in_(doomed.pools)))


def record_applied(
    session: Session,
    lb_id: str,
    generation: int,
    doomed: Doomed,
    now: datetime,
    *,
    resyncs_seen: int,
) -> None:
    """The data plane matches `generation`. Statuses settle only if nothing newer is queued:
    a write that arrived during the apply keeps its PENDING status until its own apply. A
    resync asked for during the apply (more than `resyncs_seen`, the snapshot's count) keeps
    the load balancer dirty: the next run ensures every appliance again."""
    _remove_doomed(session, doomed)
    lb = session.get_one(m.LoadBalancer, lb_id)
    if lb.resyncs_requested == resyncs_seen:
        lb.applied_generation = max(lb.applied_generation, generation)
    lb.attempts = 0
    lb.next_attempt_at = None
    lb.last_error = None
    if lb.desired_generation != generation:
        return
    active = ProvisioningStatus.ACTIVE.value
    previous = lb.provisioning_status
    if previous in SETTLING:
        lb.provisioning_status = active
        lb.updated_at = now
    activated: dict[str, int] = {}
    for table, belongs in _children(lb_id):
        values: dict[str, Any] = {"provisioning_status": active, "updated_at": now}
        if table in (m.L7Policy, m.L7Rule):
            # Nothing observes their health: ONLINE while enabled, as Octavia marks them.
            values["operating_status"] = case((table.admin_state_up, ONLINE), else_=OFFLINE)
        done = session.execute(
            update(table)
            .where(belongs, table.provisioning_status.in_(SETTLING))
            .values(values)
            .execution_options(synchronize_session=False)
        )
        activated[table.__tablename__] = done.rowcount  # type: ignore[attr-defined]
    if previous in SETTLING or any(activated.values()):
        record_active(session, lb_id, generation, previous, activated, now)


def record_snapshot_applied(session: Session, lb_id: str, snap: LbSnapshot, now: datetime) -> None:
    """Everything `snap` asked for is in force (record_applied with the snapshot's own)."""
    record_applied(
        session, lb_id, snap.generation, snap.doomed, now, resyncs_seen=snap.resyncs_requested
    )


def record_deleted(session: Session, lb_id: str, now: datetime) -> None:
    """Teardown finished: remove the load balancer and everything under it."""
    if session.get(m.LoadBalancer, lb_id) is not None:
        record_removed(session, lb_id, now)
    for table, belongs in reversed(_children(lb_id)):  # members and monitors before pools
        session.execute(delete(table).where(belongs))
    close_usage(session, lb_id)  # its last seconds and bytes, before its counters go
    session.execute(delete(m.ListenerStats).where(m.ListenerStats.loadbalancer_id == lb_id))
    remove_loadbalancer_counters(session, lb_id)
    session.execute(
        delete(m.ListenerRejections).where(m.ListenerRejections.loadbalancer_id == lb_id)
    )
    session.execute(delete(m.Appliance).where(m.Appliance.loadbalancer_id == lb_id))
    session.execute(delete(m.LoadBalancer).where(m.LoadBalancer.id == lb_id))


def record_failure(session: Session, lb_id: str, error: str, now: datetime) -> timedelta:
    """Retry later with exponential backoff; after a few attempts the tenant sees ERROR
    (still retried: ERROR is not a dead end)."""
    lb = session.get(m.LoadBalancer, lb_id)
    if lb is None:
        return timedelta(0)
    lb.attempts += 1
    delay = backoff(lb.attempts)
    lb.next_attempt_at = now + delay
    new_error = lb.attempts == 1 or lb.last_error != error[:4000]
    lb.last_error = error[:4000]
    went_to_error = False
    if lb.attempts >= ERROR_AFTER_ATTEMPTS and not lb.deleting:
        went_to_error = lb.provisioning_status != ProvisioningStatus.ERROR.value
        lb.provisioning_status = ProvisioningStatus.ERROR.value
        lb.operating_status = OperatingStatus.ERROR.value
    record_apply_failure(session, lb, error, new_error, went_to_error, delay, now)
    return delay


def upsert_appliance(
    session: Session,
    *,
    lb_id: str,
    name: str,
    slot: int,
    compute_driver: str,
    netns: str | None,
    host: str,
    vip_address: str,
    now: datetime,
    new_id: str,
) -> None:
    row = session.scalar(select(m.Appliance).where(m.Appliance.name == name))
    if row is None:
        session.add(
            m.Appliance(
                id=new_id,
                loadbalancer_id=lb_id,
                name=name,
                slot=slot,
                status="ALLOCATED",
                compute_driver=compute_driver,
                netns=netns,
                host=host,
                vip_address=vip_address,
                created_at=now,
            )
        )
        return
    row.netns, row.vip_address, row.status, row.updated_at = netns, vip_address, "ALLOCATED", now


def record_appliance_config(
    session: Session, name: str, generation: int, sha256: str, now: datetime
) -> None:
    session.execute(
        update(m.Appliance)
        .where(m.Appliance.name == name)
        .values(applied_generation=generation, config_sha256=sha256, last_seen_at=now)
    )

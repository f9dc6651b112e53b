"""What the health manager reads and writes: appliances and their heartbeats, failures, the
circuit breaker, and each manager's counters (in the deployment settings, so that the API,
which may run in another process, can show them)."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import BindParameter, Table, bindparam, case, func, select, update
from sqlalchemy.orm import Session

from steelyard.db import models as m
from steelyard.db.access import WrittenMany
from steelyard.db.events import record_event
from steelyard.db.operating import request_resync
from steelyard.model.faults import Conflict
from steelyard.model.health import (
    HEARTBEAT_OUTCOMES,
    ApplianceCounts,
    CircuitBreaker,
    HealthOut,
    HeartbeatCounts,
    ManagerStatus,
)

BREAKER_KEY = "health.circuit_breaker"
MANAGER_KEY_PREFIX = "health.manager."
# Serving appliances. Spares (READY) have no address to send heartbeats from until they are
# adopted; the spare pool's keeper checks them through the agent instead.
WATCHED_STATUSES = ("ALLOCATED",)
FAILED = "FAILED"
DELETED = "DELETED"
ID_BATCH = 500  # ids per query (SQLite limits the bound parameters of a statement)
_APPLIANCES: Table = m.Appliance.__table__  # type: ignore[assignment]  # it is one


@dataclass(frozen=True)
class KnownAppliance:
    id: str
    name: str
    loadbalancer_id: str | None
    status: str
    heartbeat_seq: int
    last_heartbeat_at: datetime | None
    created_at: datetime


def known_appliances(session: Session) -> list[KnownAppliance]:
    """Every appliance whose heartbeats are accepted (all but DELETED)."""
    a = m.Appliance
    rows = session.execute(
        select(
            a.id,
            a.name,
            a.loadbalancer_id,
            a.status,
            a.heartbeat_seq,
            a.last_heartbeat_at,
            a.created_at,
        ).where(a.status != DELETED)
    ).all()
    return [KnownAppliance(*row) for row in rows]


@dataclass(frozen=True)
class HeartbeatRecord:
    appliance_id: str
    seq: int
    received_at: datetime
    generation: int | None  # the config generation HAProxy runs; None: leave as recorded
    config_sha256: str | None
    role: str | None  # MASTER or BACKUP from keepalived; None: leave as recorded


def record_heartbeats(session: Session, records: Sequence[HeartbeatRecord]) -> None:
    """One UPDATE, executed for every record. The sequence number only grows: another
    health manager may have recorded a later heartbeat of the same appliance meanwhile."""
    if not records:
        return
    c = _APPLIANCES.c
    seq: BindParameter[int] = bindparam("b_seq")
    at: BindParameter[datetime] = bindparam("b_at")
    statement = (
        update(_APPLIANCES)
        .where(c.id == bindparam("b_id"))
        .values(
            heartbeat_seq=case((c.heartbeat_seq > seq, c.heartbeat_seq), else_=seq),
            last_heartbeat_at=case((c.last_heartbeat_at > at, c.last_heartbeat_at), else_=at),
            applied_generation=func.coalesce(bindparam("b_generation"), c.applied_generation),
            # The hash the reconciler recorded is kept (drift is judged against it: a
            # heartbeat reports what is on disk, hand edits included); a heartbeat only fills
            # it in for an appliance the reconciler has not recorded one for.
            config_sha256=func.coalesce(c.config_sha256, bindparam("b_sha")),
            role=func.coalesce(bindparam("b_role"), c.role),
        )
    )
    session.execute(
        statement,
        [
            {
                "b_id": r.appliance_id,
                "b_seq": r.seq,
                "b_at": r.received_at,
                "b_generation": r.generation,
                "b_sha": r.config_sha256,
                "b_role": r.role,
            }
            for r in records
        ],
    )


def mark_failed(session: Session, appliance_id: str, reason: str, now: datetime) -> str | None:
    """Declare a watched appliance FAILED, make its load balancer dirty so that the reconciler
    replaces it, and record a critical event. Returns the load balancer to wake the reconciler
    for (None when the appliance is no longer watched, or serves none)."""
    row = session.get(m.Appliance, appliance_id)
    if row is None or row.status not in WATCHED_STATUSES:
        return None
    row.status, row.failed_at, row.failed_reason, row.updated_at = FAILED, now, reason, now
    lb_id = row.loadbalancer_id
    if lb_id is not None:
        request_resync(session, lb_id)
        # The tenant reads its load balancer's events: which appliance is operators' business.
        message = f"an appliance of load balancer {lb_id} failed: {reason}"
    else:
        message = f"appliance {row.name} failed: {reason}"
    record_event(
        session,
        type="appliance.failed",
        severity="critical",
        message=message,
        loadbalancer_id=lb_id,
        details={"reason": reason},
        operator_details={"appliance": row.name, "appliance_id": row.id, "host": row.host},
        now=now,
    )
    return lb_id


def get_breaker(session: Session) -> CircuitBreaker:
    row = session.get(m.DeploymentSetting, BREAKER_KEY)
    return CircuitBreaker() if row is None else CircuitBreaker.model_validate(row.value)


def _put_setting(session: Session, key: str, value: dict[str, object], now: datetime) -> None:
    row = session.get(m.DeploymentSetting, key, with_for_update=True)
    if row is None:
        session.add(m.DeploymentSetting(key=key, value=value, updated_at=now))
    else:
        row.value, row.updated_at = value, now


def trip_breaker(
    session: Session, silent: Sequence[str], watched: int, now: datetime
) -> CircuitBreaker:
    """Hold automatic failover back; `silent` names the appliances that went quiet."""
    reason = (
        f"{len(silent)} of {watched} watched appliances went silent at once; automatic "
        "failover is held back until an operator releases the circuit breaker"
    )
    breaker = CircuitBreaker(
        tripped=True, tripped_at=now, silent=len(silent), watched=watched, reason=reason
    )
    _put_setting(session, BREAKER_KEY, breaker.model_dump(mode="json"), now)
    record_event(
        session,
        type="health.circuit_breaker.tripped",
        severity="critical",
        message=f"health circuit breaker tripped: {reason}",
        details={"silent": list(silent[:100]), "watched": watched},
        now=now,
    )
    return breaker


def release_breaker(session: Session, now: datetime) -> WrittenMany[CircuitBreaker]:
    """The operator's release (409 when not tripped). Failover resumes at the next check, also
    for the appliances still silent."""
    breaker = get_breaker(session)
    if not breaker.tripped:
        raise Conflict("The health circuit breaker is not tripped.")
    released = breaker.model_copy(update={"tripped": False, "released_at": now})
    _put_setting(session, BREAKER_KEY, released.model_dump(mode="json"), now)
    record_event(
        session,
        type="health.circuit_breaker.released",
        severity="warning",
        message=f"health circuit breaker released by an operator (tripped at {breaker.tripped_at})",
        details={"silent": breaker.silent, "watched": breaker.watched},
        now=now,
    )
    return WrittenMany(released, ())


def save_manager_status(session: Session, status: ManagerStatus) -> None:
    key = f"{MANAGER_KEY_PREFIX}{status.manager}"
    _put_setting(session, key, status.model_dump(mode="json"), status.updated_at)


def health_overview(session: Session) -> HealthOut:
    rows = session.scalars(
        select(m.DeploymentSetting).where(m.DeploymentSetting.key.startswith(MANAGER_KEY_PREFIX))
    ).all()
    managers = sorted(
        (ManagerStatus.model_validate(row.value) for row in rows),
        key=lambda status: status.updated_at,
        reverse=True,
    )
    totals = HeartbeatCounts(
        **{
            outcome: sum(getattr(status.heartbeats, outcome) for status in managers)
            for outcome in HEARTBEAT_OUTCOMES
        }
    )
    by_status = dict(
        session.execute(select(m.Appliance.status, func.count()).group_by(m.Appliance.status)).all()
    )
    return HealthOut(
        circuit_breaker=get_breaker(session),
        heartbeats=totals,
        appliances=ApplianceCounts(
            watched=sum(by_status.get(status, 0) for status in WATCHED_STATUSES),
            silent=managers[0].silent if managers else 0,
            failed=by_status.get(FAILED, 0),
        ),
        managers=managers,
    )

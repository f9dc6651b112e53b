"""Events for state changes the reconciler and the status writers make: a load balancer
becoming ACTIVE or ERROR, a failed apply, a deletion, and every operating status change of a
load balancer, listener, pool or member (one event per change, never one per observation).

What the tenant sees (message, details) names its own objects only; an apply's error text
(paths, hosts, HAProxy's output) goes to `operator_details`.
"""

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from steelyard.db import models as m
from steelyard.db.events import record_event
from steelyard.model import event_types as t
from steelyard.model.enums import OperatingStatus

MAX_ERROR = 2000
# kind -> (event type, table)
KINDS: dict[str, tuple[str, type[m.Provisioned]]] = {
    "loadbalancer": (t.LOADBALANCER_OPERATING, m.LoadBalancer),
    "listener": (t.LISTENER_OPERATING, m.Listener),
    "pool": (t.POOL_OPERATING, m.Pool),
    "member": (t.MEMBER_OPERATING, m.Member),
}
StatusChange = tuple[str, str, str]  # object id, before, after


def status_severity(kind: str, status: str) -> str:
    """ERROR is critical for what serves a whole listener or more, a warning for one member."""
    if status == OperatingStatus.ERROR.value:
        return "warning" if kind == "member" else "critical"
    if status == OperatingStatus.DEGRADED.value:
        return "warning"
    return "info"


Described = dict[str, tuple[str, dict[str, Any]]]  # id -> how a message names it, details


def _members(session: Session, ids: list[str]) -> Described:
    M = m.Member
    rows = session.execute(
        select(M.id, M.name, M.address, M.protocol_port, M.pool_id).where(M.id.in_(ids))
    )
    return {
        ident: (
            f"member {_hostport(address, port)}" + (f" ({name})" if name else ""),
            {"address": address, "protocol_port": port, "pool_id": pool_id, "name": name},
        )
        for ident, name, address, port, pool_id in rows
    }


def _listeners(session: Session, ids: list[str]) -> Described:
    L = m.Listener
    rows = session.execute(select(L.id, L.name, L.protocol, L.protocol_port).where(L.id.in_(ids)))
    return {
        ident: (
            f"listener {protocol}:{port}" + (f" ({name})" if name else ""),
            {"protocol": protocol, "protocol_port": port, "name": name},
        )
        for ident, name, protocol, port in rows
    }


def _describe(session: Session, kind: str, ids: list[str]) -> Described:
    if kind == "member":
        return _members(session, ids)
    if kind == "listener":
        return _listeners(session, ids)
    table = KINDS[kind][1]
    names = session.execute(select(table.id, table.name).where(table.id.in_(ids)))
    return {ident: (f"{kind} {name or ident}", {"name": name}) for ident, name in names}


def _hostport(address: str, port: int) -> str:
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


def record_status_changes(
    session: Session,
    lb_id: str,
    changes: Mapping[str, list[StatusChange]],
    now: datetime,
) -> None:
    """One event per operating status change (`changes`: per kind of KINDS)."""
    for kind, changed in changes.items():
        if not changed:
            continue
        event_type = KINDS[kind][0]
        described = _describe(session, kind, [ident for ident, _, _ in changed])
        for ident, before, after in changed:
            name, details = described.get(ident, (f"{kind} {ident}", {}))
            record_event(
                session,
                type=event_type,
                severity=status_severity(kind, after),
                message=f"{name} is {after} (was {before})",
                loadbalancer_id=lb_id,
                listener_id=ident if kind == "listener" else None,
                details={"id": ident, "kind": kind, "from": before, "to": after, **details},
                now=now,
            )


def record_active(
    session: Session,
    lb_id: str,
    generation: int,
    previous: str,
    activated: dict[str, int],
    now: datetime,
) -> None:
    recovered = " (recovered from ERROR)" if previous == "ERROR" else ""
    record_event(
        session,
        type=t.LOADBALANCER_ACTIVE,
        severity="info",
        message=f"load balancer is ACTIVE: configuration generation {generation} is in "
        f"force{recovered}",
        loadbalancer_id=lb_id,
        details={
            "generation": generation,
            "from": previous,
            "activated": {kind: n for kind, n in activated.items() if n},
        },
        now=now,
    )


def record_apply_failure(
    session: Session,
    lb: m.LoadBalancer,
    error: str,
    first_of_its_kind: bool,
    went_to_error: bool,
    delay: timedelta,
    now: datetime,
) -> None:
    """A failed apply: an event when it is new (first failure, or another error than the
    last), a critical one when the load balancer went to ERROR."""
    what = "deleting the load balancer" if lb.deleting else "applying the configuration"
    details = {"attempts": lb.attempts, "retry_in_s": round(delay.total_seconds(), 3)}
    operator = {"error": error[:MAX_ERROR]}
    if first_of_its_kind:
        record_event(
            session,
            type=t.LOADBALANCER_APPLY_FAILED,
            severity="warning",
            message=f"{what} failed (attempt {lb.attempts}); retrying in "
            f"{delay.total_seconds():g} s",
            loadbalancer_id=lb.id,
            details=details,
            operator_details=operator,
            now=now,
        )
    if went_to_error:
        record_event(
            session,
            type=t.LOADBALANCER_ERROR,
            severity="critical",
            message=f"load balancer is in ERROR: {what} failed {lb.attempts} times (still retried)",
            loadbalancer_id=lb.id,
            details=details,
            operator_details=operator,
            now=now,
        )


def record_removed(session: Session, lb_id: str, now: datetime) -> None:
    record_event(
        session,
        type=t.LOADBALANCER_DELETED,
        severity="info",
        message="load balancer deleted, with everything under it",
        loadbalancer_id=lb_id,
        now=now,
    )

"""Operator writes of protection settings (issue 5): deployment defaults, per-load-balancer
overrides and the "under attack" switch. Each bumps the generation of every load balancer
whose data plane it changes, and records an event, in the caller's transaction.
"""

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from steelyard.db import models as m
from steelyard.db.access import (
    PENDING_DELETE,
    Written,
    WrittenMany,
    bump_generations,
    get_visible,
    open_write,
    utcnow,
)
from steelyard.db.events import record_event
from steelyard.db.protection import (
    DEFAULTS_KEY,
    deployment_defaults,
    listener_effective,
    listener_protection,
    operator_layers,
    parse_protection,
    stored,
)
from steelyard.model.operator import DefaultsOut, ListenerProtectionOut, LoadBalancerProtectionOut
from steelyard.model.protection import Protection


def get_defaults(session: Session) -> DefaultsOut:
    row = session.get(m.DeploymentSetting, DEFAULTS_KEY)
    if row is None:
        return DefaultsOut(protection=Protection(), updated_at=None)
    return DefaultsOut(
        protection=parse_protection(row.value) or Protection(), updated_at=row.updated_at
    )


def _with_listeners(session: Session) -> Sequence[str]:
    """Load balancers (not being deleted) whose data plane the defaults reach, locked."""
    L, T = m.Listener, m.LoadBalancer
    listened = exists().where(L.loadbalancer_id == T.id, L.provisioning_status != PENDING_DELETE)
    query = select(T.id).where(T.deleting.is_(False), listened).order_by(T.id)
    return session.scalars(query.with_for_update()).all()


def set_defaults(session: Session, protection: Protection) -> WrittenMany[DefaultsOut]:
    """Replace the deployment defaults; every load balancer with a listener is bumped (none
    when nothing changed)."""
    now = utcnow()
    value = stored(protection) or {}
    row = session.get(m.DeploymentSetting, DEFAULTS_KEY, with_for_update=True)
    if row is not None and row.value == value:
        return WrittenMany(get_defaults(session), ())
    if row is None:
        session.add(m.DeploymentSetting(key=DEFAULTS_KEY, value=value, updated_at=now))
    else:
        row.value, row.updated_at = value, now
    touched = tuple(_with_listeners(session))
    bump_generations(session, touched, now)
    details = {"protection": value, "loadbalancers": len(touched)}
    _event(session, "protection.defaults", "Protection defaults changed", now, details=details)
    return WrittenMany(DefaultsOut(protection=protection, updated_at=now), touched)


def _event(
    session: Session,
    type: str,
    message: str,
    now: datetime,
    lb_id: str | None = None,
    severity: str = "info",
    details: dict[str, Any] | None = None,
) -> None:
    record_event(
        session,
        type=type,
        severity=severity,
        message=message,
        loadbalancer_id=lb_id,
        details=details,
        now=now,
    )


def _view(session: Session, lb: m.LoadBalancer) -> LoadBalancerProtectionOut:
    layers = (deployment_defaults(session), operator_layers(lb))
    L = m.Listener
    listeners = session.scalars(
        select(L)
        .where(L.loadbalancer_id == lb.id, L.provisioning_status != PENDING_DELETE)
        .order_by(L.created_at, L.id)
    )
    return LoadBalancerProtectionOut(
        loadbalancer_id=lb.id,
        project_id=lb.project_id,
        protection=parse_protection(lb.protection_override),
        under_attack=lb.under_attack,
        listeners=[
            ListenerProtectionOut(
                id=row.id,
                name=row.name,
                protocol=row.protocol,
                protocol_port=row.protocol_port,
                protection=listener_protection(row),
                effective_protection=listener_effective(row, layers),
            )
            for row in listeners
        ],
    )


def get_loadbalancer_protection(session: Session, lb_id: str) -> LoadBalancerProtectionOut:
    return _view(session, get_visible(session, m.LoadBalancer, lb_id, None))


def set_override(
    session: Session, lb_id: str, protection: Protection | None
) -> Written[LoadBalancerProtectionOut]:
    """Replace (None or {}: remove) a load balancer's override."""
    opened = open_write(session, m.LoadBalancer, lb_id, None)
    lb = opened.row
    lb.protection_override = stored(protection)
    message = "Protection override " + ("removed" if lb.protection_override is None else "set")
    details = {"protection": lb.protection_override}
    _event(session, "protection.override", message, opened.now, lb.id, details=details)
    session.flush()
    return Written(_view(session, lb), lb.id)


def set_under_attack(
    session: Session, lb_id: str, under_attack: bool
) -> Written[LoadBalancerProtectionOut]:
    opened = open_write(session, m.LoadBalancer, lb_id, None)
    lb = opened.row
    lb.under_attack = under_attack
    message = "Under-attack profile switched " + ("on" if under_attack else "off")
    severity = "warning" if under_attack else "info"
    _event(session, "protection.under_attack", message, opened.now, lb.id, severity)
    session.flush()
    return Written(_view(session, lb), lb.id)

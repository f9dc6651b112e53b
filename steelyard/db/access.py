"""Shared rules of every tenant write: project scoping, the parent load balancer's lock,
generation bump and Octavia's provisioning statuses (DESIGN principles 1 and 2).

A write never waits for a PENDING_* load balancer: it changes the rows, bumps
`desired_generation` and leaves the rest to the reconciler. Only a load balancer being deleted
refuses writes (409). Deleted children stay as PENDING_DELETE rows until the reconciler has
removed them from the data plane.
"""

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Any, Generic, TypeVar

from pydantic import BaseModel
from sqlalchemy import ColumnElement, case, select, update
from sqlalchemy.orm import Session

from steelyard.db import models as m
from steelyard.model.enums import OperatingStatus, ProvisioningStatus
from steelyard.model.faults import Immutable, NotFound, ValidationFailure

T = TypeVar("T")
R = TypeVar("R", bound=m.Provisioned)

PENDING_CREATE = ProvisioningStatus.PENDING_CREATE.value
PENDING_UPDATE = ProvisioningStatus.PENDING_UPDATE.value
PENDING_DELETE = ProvisioningStatus.PENDING_DELETE.value

RESOURCE_NAMES: dict[type[m.Provisioned], str] = {
    m.LoadBalancer: "Load Balancer",
    m.Listener: "Listener",
    m.Pool: "Pool",
    m.Member: "Member",
    m.HealthMonitor: "Health Monitor",
    m.L7Policy: "L7 Policy",
    m.L7Rule: "L7 Rule",
}
BUMP_BATCH = 500  # ids per UPDATE (SQLite limits the bound parameters of a statement)
REQUIRED = object()  # in update defaults: the attribute may be changed but not reset with null
# The attributes every provisioned object shows (Octavia's common fields), in response order.
COMMON_FIELDS = (
    "id",
    "name",
    "description",
    "provisioning_status",
    "operating_status",
    "admin_state_up",
    "project_id",
    "created_at",
    "updated_at",
    "tags",
)
COMMON_DEFAULTS: dict[str, Any] = {
    "name": "",
    "description": "",
    "admin_state_up": REQUIRED,
    "tags": [],
}


@dataclass(frozen=True)
class Written(Generic[T]):
    """What a write returns: the response body and the load balancer whose generation it
    bumped (the caller wakes the reconciler for it after the commit)."""

    result: T
    loadbalancer_id: str

    @property
    def touched(self) -> tuple[str, ...]:
        return (self.loadbalancer_id,)


@dataclass(frozen=True)
class WrittenMany(Generic[T]):
    """A write that bumped any number of load balancers (a deployment-wide setting)."""

    result: T
    touched: tuple[str, ...]


def utcnow() -> datetime:
    """Naive UTC, as the database stores it."""
    return datetime.now(UTC).replace(tzinfo=None)


def scoped(table: type[R], scope: str | None) -> list[ColumnElement[bool]]:
    """WHERE clauses that hide other projects' rows (`scope` None: an admin sees all)."""
    return [] if scope is None else [table.project_id == scope]


def get_visible(
    session: Session, table: type[R], ident: str, scope: str | None, *where: ColumnElement[bool]
) -> R:
    """The row, or 404 for unknown IDs and other projects' IDs alike (never 403)."""
    row = session.scalar(select(table).where(table.id == ident, *scoped(table, scope), *where))
    if row is None:
        raise NotFound(RESOURCE_NAMES[table], ident)
    return row


def loadbalancer_of(session: Session, row: m.Provisioned) -> str:
    if isinstance(row, m.LoadBalancer):
        return row.id
    if isinstance(row, m.Listener | m.Pool):
        return row.loadbalancer_id
    if isinstance(row, m.Member | m.HealthMonitor):
        return session.get_one(m.Pool, row.pool_id).loadbalancer_id
    if isinstance(row, m.L7Rule):
        row = session.get_one(m.L7Policy, row.l7policy_id)
    if isinstance(row, m.L7Policy):
        return session.get_one(m.Listener, row.listener_id).loadbalancer_id
    raise TypeError(type(row))


def bump_generations(session: Session, lb_ids: Sequence[str], now: datetime) -> None:
    """Record that these (locked) load balancers' desired state changed."""
    for start in range(0, len(lb_ids), BUMP_BATCH):
        _bump(session, lb_ids[start : start + BUMP_BATCH], now)


def _bump(session: Session, lb_ids: Sequence[str], now: datetime) -> None:
    T = m.LoadBalancer
    session.execute(
        update(T)
        .where(T.id.in_(lb_ids))
        .values(
            desired_generation=T.desired_generation + 1,
            provisioning_status=case(
                (T.provisioning_status == PENDING_CREATE, PENDING_CREATE), else_=PENDING_UPDATE
            ),
            updated_at=now,
        )
        .execution_options(synchronize_session="fetch")
    )


def touch_loadbalancer(session: Session, lb_id: str, now: datetime) -> None:
    """Lock the load balancer and record that its desired state changed."""
    lb = session.scalar(select(m.LoadBalancer).where(m.LoadBalancer.id == lb_id).with_for_update())
    if lb is None:
        raise NotFound("Load Balancer", lb_id)
    if lb.deleting:
        raise Immutable("Load Balancer", lb_id)
    bump_generations(session, [lb_id], now)


def new_row(parent: m.Provisioned, now: datetime, body: Any) -> dict[str, Any]:
    """The common columns of a new child of `parent`: it starts PENDING_CREATE and OFFLINE."""
    fields = {
        "id": str(uuid.uuid4()),
        "project_id": parent.project_id,
        "provisioning_status": PENDING_CREATE,
        "operating_status": OperatingStatus.OFFLINE.value,
        "created_at": now,
        "name": getattr(body, "name", None) or "",  # L7 rules have none
        "admin_state_up": body.admin_state_up,
        "tags": list(body.tags),
    }
    if hasattr(body, "description"):
        fields["description"] = body.description or ""
    return fields


@dataclass(frozen=True)
class Opened(Generic[R]):
    row: R
    loadbalancer_id: str
    now: datetime


def open_write(
    session: Session, table: type[R], ident: str, scope: str | None, *where: ColumnElement[bool]
) -> Opened[R]:
    """Start a write on (or under) a visible row: its load balancer is locked and bumped."""
    row = get_visible(session, table, ident, scope, *where)
    opened = Opened(row, loadbalancer_of(session, row), utcnow())
    touch_loadbalancer(session, opened.loadbalancer_id, opened.now)
    return opened


def require_live(row: m.Provisioned) -> None:
    """A child already marked PENDING_DELETE cannot be changed (it is going away)."""
    if row.provisioning_status == PENDING_DELETE:
        raise Immutable(RESOURCE_NAMES[type(row)], row.id)


def mark_updated(row: m.Provisioned, now: datetime) -> None:
    if row.provisioning_status != PENDING_CREATE:
        row.provisioning_status = PENDING_UPDATE
    row.updated_at = now


def mark_deleted(row: m.Provisioned, now: datetime) -> None:
    row.provisioning_status = PENDING_DELETE
    row.updated_at = now


def apply_update(row: m.Base | m.Provisioned, body: BaseModel, defaults: Mapping[str, Any]) -> None:
    """PUT semantics: set the attributes the client sent; null resets one to its default."""
    for name in body.model_fields_set & defaults.keys():
        value = getattr(body, name)
        if value is None:
            value = defaults[name]
            if value is REQUIRED:
                raise ValidationFailure(f"{name} may not be null.")
        if isinstance(value, Enum):
            value = value.value
        elif isinstance(value, list | dict):
            value = value.copy()
        setattr(row, name, value)


def update_row(
    session: Session,
    table: type[R],
    ident: str,
    scope: str | None,
    body: BaseModel,
    defaults: Mapping[str, Any],
    check: Callable[[R], None] = lambda _: None,
    where: Sequence[ColumnElement[bool]] = (),
) -> Opened[R]:
    """PUT on a child: apply `body`, let `check` validate the result, mark it PENDING_UPDATE.
    A failed check raises and the transaction rolls back."""
    opened = open_write(session, table, ident, scope, *where)
    require_live(opened.row)
    apply_update(opened.row, body, defaults)
    check(opened.row)
    mark_updated(opened.row, opened.now)
    session.flush()
    return opened


def delete_row(
    session: Session,
    table: type[R],
    ident: str,
    scope: str | None,
    where: Sequence[ColumnElement[bool]] = (),
) -> Opened[R]:
    opened = open_write(session, table, ident, scope, *where)
    mark_deleted(opened.row, opened.now)
    return opened

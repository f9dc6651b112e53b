"""The event log: what happened to a load balancer or the deployment (protection breaches,
operator actions; later failovers and alerts, issue 4).

An event's `message` and `details` are shown to operators and to the load balancer's project
(GET /v2/lbaas/loadbalancers/{id}/events): keep operator-only facts (hosts, appliance names)
out of events that name a load balancer, or record them without `loadbalancer_id`.
"""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from steelyard.db import models as m
from steelyard.db.access import get_visible
from steelyard.db.listing import list_page
from steelyard.model.listing import ListQuery
from steelyard.model.operator import SEVERITIES, EventOut

ATTRIBUTES = (
    "id",
    "type",
    "severity",
    "loadbalancer_id",
    "project_id",
    "listener_id",
    "created_at",
)


def record_event(
    session: Session,
    *,
    type: str,
    severity: str,
    message: str,
    loadbalancer_id: str | None = None,
    project_id: str | None = None,
    listener_id: str | None = None,
    details: dict[str, Any] | None = None,
    now: datetime,
) -> str:
    """Add an event in the caller's transaction and return its id. `project_id` defaults to
    the load balancer's project. `now` is naive UTC, as the database stores times."""
    if severity not in SEVERITIES:
        raise ValueError(f"severity must be one of {', '.join(SEVERITIES)}, not {severity!r}")
    if project_id is None and loadbalancer_id is not None:
        project_id = session.scalar(
            select(m.LoadBalancer.project_id).where(m.LoadBalancer.id == loadbalancer_id)
        )
    ident = str(uuid.uuid4())
    session.add(
        m.Event(
            id=ident,
            created_at=now,
            type=type,
            severity=severity,
            loadbalancer_id=loadbalancer_id,
            project_id=project_id,
            listener_id=listener_id,
            message=message,
            details=dict(details or {}),
        )
    )
    return ident


def _page(
    session: Session, query: ListQuery, since: datetime | None, *where: ColumnElement[bool]
) -> list[EventOut]:
    clauses = [*where, *(() if since is None else (m.Event.created_at >= since,))]
    rows = list_page(session, m.Event, query, ATTRIBUTES, clauses)
    return [EventOut.model_validate(row, from_attributes=True) for row in rows]


def list_events(session: Session, query: ListQuery, since: datetime | None) -> list[EventOut]:
    """One page of every event (operators): Octavia's filters on ATTRIBUTES, and `since`
    (naive UTC) keeps those created at or after it."""
    return _page(session, query, since)


def loadbalancer_events(
    session: Session, scope: str | None, lb_id: str, query: ListQuery, since: datetime | None
) -> list[EventOut]:
    """The same for the events of one load balancer that `scope` sees (404 otherwise)."""
    lb = get_visible(session, m.LoadBalancer, lb_id, scope)
    return _page(session, query, since, m.Event.loadbalancer_id == lb.id)

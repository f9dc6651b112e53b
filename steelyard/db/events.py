"""The event log: what happened to a load balancer or the deployment (state changes,
failovers, protection breaches, threshold crossings, operator actions). Event types are listed
in steelyard.model.event_types.

An event's `message` and `details` are shown to operators and to the load balancer's project
(GET /v2/lbaas/loadbalancers/{id}/events): keep operator-only facts (hosts, appliance names,
error texts) out of them in events that name a load balancer; put them in `operator_details`,
which only operators see (the operator log, the stream, webhooks).

Recording an event also queues its webhook deliveries, in the same transaction: an alert
committed is an alert that will be sent (or dead-lettered, itself an event).
"""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.orm import Session

from steelyard.db import models as m
from steelyard.db.access import get_visible
from steelyard.db.listing import list_page
from steelyard.model.event_types import WEBHOOK_DEAD_LETTER
from steelyard.model.listing import ListQuery
from steelyard.model.operator import SEVERITIES, EventOut, OperatorEventOut
from steelyard.model.webhook import EventFilters, matches

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
    operator_details: dict[str, Any] | None = None,
    now: datetime,
) -> str:
    """Add an event and its webhook deliveries in the caller's transaction and return its id.
    `project_id` defaults to the load balancer's project. `now` is naive UTC, as the database
    stores times."""
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
            operator_details=operator_details,
        )
    )
    routed = {
        "type": type,
        "severity": severity,
        "loadbalancer_id": loadbalancer_id,
        "project_id": project_id,
    }
    about_webhook = (details or {}).get("webhook_id") if type == WEBHOOK_DEAD_LETTER else None
    for hook in session.scalars(select(m.Webhook).where(m.Webhook.enabled.is_(True))):
        # A dead letter is not sent to the webhook that failed: it would only fail again.
        if hook.id != about_webhook and matches(filters_of(hook), routed):
            session.add(
                m.WebhookDelivery(
                    id=str(uuid.uuid4()),
                    webhook_id=hook.id,
                    event_id=ident,
                    event_type=type,
                    state="pending",
                    attempts=0,
                    next_attempt_at=now,
                    created_at=now,
                )
            )
    return ident


def filters_of(hook: m.Webhook) -> EventFilters:
    return EventFilters(
        event_types=tuple(hook.event_types),
        severities=tuple(hook.severities),
        loadbalancer_ids=tuple(hook.loadbalancer_ids),
        project_ids=tuple(hook.project_ids),
    )


def _page(
    session: Session, query: ListQuery, since: datetime | None, *where: ColumnElement[bool]
) -> list[m.Event]:
    clauses = [*where, *(() if since is None else (m.Event.created_at >= since,))]
    return list_page(session, m.Event, query, ATTRIBUTES, clauses)


def list_events(
    session: Session, query: ListQuery, since: datetime | None
) -> list[OperatorEventOut]:
    """One page of every event (operators): Octavia's filters on ATTRIBUTES, and `since`
    (naive UTC) keeps those created at or after it."""
    rows = _page(session, query, since)
    return [OperatorEventOut.model_validate(row, from_attributes=True) for row in rows]


def get_event(session: Session, event_id: str) -> OperatorEventOut | None:
    row = session.get(m.Event, event_id)
    return None if row is None else OperatorEventOut.model_validate(row, from_attributes=True)


StreamFilters = dict[str, tuple[str, ...]]  # attribute of STREAM_FILTERS -> any of the values
STREAM_FILTERS = ("type", "severity", "loadbalancer_id", "project_id", "listener_id")


def events_from(
    session: Session,
    since: datetime,
    filters: StreamFilters,
    limit: int,
    after: tuple[datetime, str] | None = None,
) -> list[OperatorEventOut]:
    """Events created at or after `since` (and strictly after the (created_at, id) cursor
    `after` when given), oldest first, that pass `filters`: what the live stream polls."""
    clauses: list[ColumnElement[bool]] = [m.Event.created_at >= since]
    if after is not None:
        at, ident = after
        clauses.append(
            or_(m.Event.created_at > at, and_(m.Event.created_at == at, m.Event.id > ident))
        )
    for name, values in filters.items():
        clauses.append(getattr(m.Event, name).in_(values))
    rows = session.scalars(
        select(m.Event).where(*clauses).order_by(m.Event.created_at, m.Event.id).limit(limit)
    )
    return [OperatorEventOut.model_validate(row, from_attributes=True) for row in rows]


def loadbalancer_events(
    session: Session, scope: str | None, lb_id: str, query: ListQuery, since: datetime | None
) -> list[EventOut]:
    """The same for the events of one load balancer that `scope` sees (404 otherwise)."""
    lb = get_visible(session, m.LoadBalancer, lb_id, scope)
    rows = _page(session, query, since, m.Event.loadbalancer_id == lb.id)
    return [EventOut.model_validate(row, from_attributes=True) for row in rows]

"""Webhooks and their deliveries: the operator's CRUD, the dead-letter list, and what the
dispatcher (steelyard.telemetry.webhooks) claims and records.

A delivery is `pending` (due at next_attempt_at), `delivered` or `dead`. The dispatcher claims
due deliveries by pushing next_attempt_at a lease ahead, so a crash mid-send only delays the
attempt (a receiver may then see an event twice: it deduplicates by the event id header).
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from steelyard.db import models as m
from steelyard.db.events import record_event
from steelyard.db.listing import list_page
from steelyard.model.event_types import WEBHOOK_DEAD_LETTER
from steelyard.model.faults import Conflict, NotFound
from steelyard.model.listing import ListQuery
from steelyard.model.operator import OperatorEventOut
from steelyard.model.webhook import DeliveryOut, WebhookCreate, WebhookOut, WebhookUpdate

WEBHOOK_ATTRIBUTES = ("id", "name", "url", "enabled", "created_at", "updated_at")
DELIVERY_ATTRIBUTES = ("id", "state", "event_id", "event_type", "attempts", "created_at")
MAX_ERROR = 1000


def seal_context(webhook_id: str) -> str:
    """What a webhook's sealed secret is bound to (db/secret_box.py)."""
    return f"webhook:{webhook_id}"


def _out(row: m.Webhook) -> WebhookOut:
    return WebhookOut(
        id=row.id,
        name=row.name,
        url=row.url,
        secret_set=bool(row.secret_sealed),
        enabled=row.enabled,
        event_types=list(row.event_types),
        severities=list(row.severities),
        loadbalancer_ids=list(row.loadbalancer_ids),
        project_ids=list(row.project_ids),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _get(session: Session, webhook_id: str) -> m.Webhook:
    row = session.get(m.Webhook, webhook_id)
    if row is None:
        raise NotFound("Webhook", webhook_id)
    return row


def create_webhook(
    session: Session, body: WebhookCreate, sealed: bytes, now: datetime, new_id: str
) -> WebhookOut:
    row = m.Webhook(
        id=new_id,
        name=body.name,
        url=body.url,
        secret_sealed=sealed,
        enabled=body.enabled,
        event_types=list(dict.fromkeys(body.event_types)),
        severities=list(dict.fromkeys(body.severities)),
        loadbalancer_ids=list(dict.fromkeys(body.loadbalancer_ids)),
        project_ids=list(dict.fromkeys(body.project_ids)),
        created_at=now,
    )
    session.add(row)
    return _out(row)


def get_webhook(session: Session, webhook_id: str) -> WebhookOut:
    return _out(_get(session, webhook_id))


def list_webhooks(session: Session, query: ListQuery) -> list[WebhookOut]:
    return [_out(row) for row in list_page(session, m.Webhook, query, WEBHOOK_ATTRIBUTES)]


def update_webhook(
    session: Session, webhook_id: str, body: WebhookUpdate, sealed: bytes | None, now: datetime
) -> WebhookOut:
    row = _get(session, webhook_id)
    given = body.model_dump(exclude_unset=True, exclude={"secret"})
    for name, value in given.items():
        if value is None and name in ("name", "url", "enabled"):
            continue  # null leaves a scalar as it is
        setattr(row, name, list(dict.fromkeys(value)) if isinstance(value, list) else value)
    if sealed is not None:
        row.secret_sealed = sealed
    row.updated_at = now
    return _out(row)


def delete_webhook(session: Session, webhook_id: str) -> None:
    row = _get(session, webhook_id)
    session.execute(delete(m.WebhookDelivery).where(m.WebhookDelivery.webhook_id == row.id))
    session.delete(row)


def _delivery_out(row: m.WebhookDelivery) -> DeliveryOut:
    return DeliveryOut.model_validate(row, from_attributes=True)


def list_deliveries(session: Session, webhook_id: str, query: ListQuery) -> list[DeliveryOut]:
    """One page of a webhook's deliveries (filter `state=dead` for its dead letters)."""
    hook = _get(session, webhook_id)
    rows = list_page(
        session,
        m.WebhookDelivery,
        query,
        DELIVERY_ATTRIBUTES,
        [m.WebhookDelivery.webhook_id == hook.id],
    )
    return [_delivery_out(row) for row in rows]


def retry_delivery(
    session: Session, webhook_id: str, delivery_id: str, now: datetime
) -> DeliveryOut:
    """Send a dead (or delivered) delivery again, with a fresh set of attempts."""
    row = session.get(m.WebhookDelivery, delivery_id)
    if row is None or row.webhook_id != _get(session, webhook_id).id:
        raise NotFound("Delivery", delivery_id)
    if row.state == "pending":
        raise Conflict(f"Delivery {delivery_id} is still pending; it is retried already.")
    row.state, row.attempts, row.next_attempt_at, row.delivered_at = "pending", 0, now, None
    return _delivery_out(row)


@dataclass(frozen=True)
class DueDelivery:
    delivery_id: str
    webhook_id: str
    url: str
    secret_sealed: bytes
    attempts: int  # made before this one
    event: OperatorEventOut


def claim_due(session: Session, now: datetime, lease: timedelta, limit: int) -> list[DueDelivery]:
    """Pending deliveries of enabled webhooks that are due, each held for `lease`."""
    D, W = m.WebhookDelivery, m.Webhook
    rows = session.execute(
        select(D, W)
        .join(W, W.id == D.webhook_id)
        .where(D.state == "pending", D.next_attempt_at <= now, W.enabled.is_(True))
        .order_by(D.next_attempt_at, D.created_at)
        .limit(limit)
    ).all()
    due = []
    for delivery, hook in rows:
        delivery.next_attempt_at = now + lease
        event = session.get(m.Event, delivery.event_id)
        if event is None:  # the event log was pruned under it: nothing left to send
            delivery.state, delivery.last_error = "dead", "the event no longer exists"
            continue
        due.append(
            DueDelivery(
                delivery_id=delivery.id,
                webhook_id=hook.id,
                url=hook.url,
                secret_sealed=hook.secret_sealed,
                attempts=delivery.attempts,
                event=OperatorEventOut.model_validate(event, from_attributes=True),
            )
        )
    return due


@dataclass(frozen=True)
class Attempt:
    """How one send went: `ok` for a 2xx answer; otherwise the status (if any) and why, and
    whether trying again is pointless (`final`: the destination is not allowed...)."""

    ok: bool
    status_code: int | None = None
    error: str | None = None
    final: bool = False


def record_attempt(
    session: Session,
    delivery_id: str,
    attempt: Attempt,
    retry_in: timedelta | None,
    now: datetime,
) -> bool:
    """Write how a send went. A failure is retried after `retry_in`; None gives up: the
    delivery is dead and a critical `webhook.dead_letter` event says so. Returns whether
    the delivery died."""
    row = session.get(m.WebhookDelivery, delivery_id)
    if row is None or row.state != "pending":
        return False  # deleted with its webhook, or retried by hand meanwhile
    row.attempts += 1
    row.last_attempt_at, row.last_status_code = now, attempt.status_code
    row.last_error = None if attempt.error is None else attempt.error[:MAX_ERROR]
    if attempt.ok:
        row.state, row.delivered_at, row.next_attempt_at = "delivered", now, None
        return False
    if retry_in is not None:
        row.next_attempt_at = now + retry_in
        return False
    row.state, row.next_attempt_at = "dead", None
    hook = session.get(m.Webhook, row.webhook_id)
    record_event(
        session,
        type=WEBHOOK_DEAD_LETTER,
        severity="critical",
        message=f"webhook {hook.name if hook else row.webhook_id!r} gave up on a "
        f"{row.event_type} event after {row.attempts} attempts: {row.last_error}",
        details={
            "webhook_id": row.webhook_id,
            "delivery_id": row.id,
            "event_id": row.event_id,
            "event_type": row.event_type,
            "attempts": row.attempts,
            "last_status_code": row.last_status_code,
            "last_error": row.last_error,
        },
        now=now,
    )
    return True

"""/webhooks: where alerts go (admins only).

    GET    /webhooks                     {"webhooks": [...], "webhooks_links": [...]}
    POST   /webhooks                     {"webhook": {"url", "secret", "name", "enabled",
                                          "event_types", "severities", "loadbalancer_ids",
                                          "project_ids"}}   (201; the secret is never shown)
    GET    /webhooks/{id}
    PUT    /webhooks/{id}                {"webhook": {...}}: what is given changes
    DELETE /webhooks/{id}                with its deliveries
    GET    /webhooks/{id}/deliveries     ?state=dead: the dead-letter list (paginated)
    POST   /webhooks/{id}/deliveries/{delivery_id}/retry   (202) send it again

Every matching event is POSTed as JSON, signed (telemetry/webhook_signature.py), retried with
backoff, and dead-lettered after the last attempt (itself a `webhook.dead_letter` event).
"""

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy.orm import Session

from steelyard.api.deps import AppDeps, body, no_content, one
from steelyard.api.listing import list_query, page
from steelyard.api.services import services_of
from steelyard.api.settings import ApiSettings
from steelyard.db import webhooks as db
from steelyard.db.access import WrittenMany, utcnow
from steelyard.db.secret_box import SecretBox
from steelyard.model.faults import BadRequest, Fault
from steelyard.model.webhook import WebhookCreateRoot, WebhookUpdateRoot

router = APIRouter(prefix="/webhooks", tags=["operator"])
Create = Annotated[WebhookCreateRoot, Depends(body(WebhookCreateRoot))]
Update = Annotated[WebhookUpdateRoot, Depends(body(WebhookUpdateRoot))]


class SealingUnavailable(Fault):
    status = 503

    def __init__(self) -> None:
        super().__init__("This server has no key to seal webhook secrets with.")


def _seal(settings: ApiSettings, webhook_id: str, secret: str) -> bytes:
    if settings.secrets_key is None:
        raise SealingUnavailable()
    return SecretBox(settings.secrets_key).seal(secret, db.seal_context(webhook_id))


def _check_url(request: Request, url: str | None) -> None:
    dispatcher = services_of(request).webhooks
    if url is None or dispatcher is None:
        return
    refused = dispatcher.check_url(url)
    if refused is not None:
        raise BadRequest(f"Invalid input for field/attribute url. Value: refused: {refused}.")


def _wake(request: Request) -> None:
    dispatcher = services_of(request).webhooks
    if dispatcher is not None:
        dispatcher.wake()


@router.get("")
def list_webhooks(request: Request, deps: AppDeps) -> JSONResponse:
    query = list_query(request, deps.settings)
    items = deps.read(lambda s: db.list_webhooks(s, query))
    return page(request, deps.settings, "webhooks", items, query)


@router.post("", status_code=201)
def create_webhook(request: Request, deps: AppDeps, req: Create) -> JSONResponse:
    _check_url(request, req.webhook.url)
    new_id, now = str(uuid.uuid4()), utcnow()
    sealed = _seal(deps.settings, new_id, req.webhook.secret)
    item = deps.write(
        lambda s: WrittenMany(db.create_webhook(s, req.webhook, sealed, now, new_id), ())
    )
    return one(request, "webhook", item, 201)


@router.get("/{webhook_id}")
def show_webhook(request: Request, webhook_id: str, deps: AppDeps) -> JSONResponse:
    return one(request, "webhook", deps.read(lambda s: db.get_webhook(s, webhook_id)))


@router.put("/{webhook_id}")
def update_webhook(request: Request, webhook_id: str, deps: AppDeps, req: Update) -> JSONResponse:
    change = req.webhook
    _check_url(request, change.url)
    sealed = None if change.secret is None else _seal(deps.settings, webhook_id, change.secret)
    now = utcnow()
    item = deps.write(
        lambda s: WrittenMany(db.update_webhook(s, webhook_id, change, sealed, now), ())
    )
    _wake(request)  # enabled again: its waiting deliveries are due
    return one(request, "webhook", item)


@router.delete("/{webhook_id}", status_code=204)
def delete_webhook(webhook_id: str, deps: AppDeps) -> Response:
    def delete(session: Session) -> WrittenMany[None]:
        db.delete_webhook(session, webhook_id)
        return WrittenMany(None, ())

    deps.write(delete)
    return no_content()


@router.get("/{webhook_id}/deliveries")
def list_deliveries(request: Request, webhook_id: str, deps: AppDeps) -> JSONResponse:
    query = list_query(request, deps.settings)
    items = deps.read(lambda s: db.list_deliveries(s, webhook_id, query))
    return page(request, deps.settings, "deliveries", items, query)


@router.post("/{webhook_id}/deliveries/{delivery_id}/retry", status_code=202)
def retry_delivery(
    request: Request, webhook_id: str, delivery_id: str, deps: AppDeps
) -> JSONResponse:
    now = utcnow()
    item = deps.write(lambda s: WrittenMany(db.retry_delivery(s, webhook_id, delivery_id, now), ()))
    _wake(request)
    return one(request, "delivery", item, 202)

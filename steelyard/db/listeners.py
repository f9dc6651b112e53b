"""Listeners: list, show, create (optionally with a new default pool), update, delete, stats."""

from sqlalchemy import select
from sqlalchemy.orm import Session

from steelyard.db import models as m
from steelyard.db import views
from steelyard.db.access import (
    COMMON_DEFAULTS,
    Written,
    apply_update,
    get_visible,
    mark_deleted,
    mark_updated,
    require_live,
    scoped,
    touch_loadbalancer,
    utcnow,
)
from steelyard.db.listing import list_page
from steelyard.db.tree import add_listener, add_tree, usable_pool
from steelyard.model.enums import ListenerProtocol
from steelyard.model.faults import ValidationFailure
from steelyard.model.fields import reason
from steelyard.model.listener import (
    DEFAULT_TIMEOUTS,
    ListenerCreate,
    ListenerOut,
    ListenerUpdate,
    check_insert_headers,
)
from steelyard.model.listing import ListQuery
from steelyard.model.status import Stats

ATTRIBUTES = (
    "id",
    "name",
    "description",
    "provisioning_status",
    "operating_status",
    "admin_state_up",
    "project_id",
    "protocol",
    "protocol_port",
    "connection_limit",
    "default_pool_id",
    "loadbalancer_id",
    "timeout_client_data",
    "timeout_member_connect",
    "timeout_member_data",
    "timeout_tcp_inspect",
    "created_at",
    "updated_at",
)
UPDATE_DEFAULTS = {**COMMON_DEFAULTS, **DEFAULT_TIMEOUTS, "connection_limit": -1}


def list_listeners(session: Session, scope: str | None, query: ListQuery) -> list[ListenerOut]:
    return views.listeners(
        list_page(session, m.Listener, query, ATTRIBUTES, scoped(m.Listener, scope))
    )


def get_listener(session: Session, scope: str | None, ident: str) -> ListenerOut:
    return views.listeners([get_visible(session, m.Listener, ident, scope)])[0]


def create_listener(
    session: Session, scope: str | None, body: ListenerCreate
) -> Written[ListenerOut]:
    lb = get_visible(session, m.LoadBalancer, body.loadbalancer_id, scope)
    now = utcnow()
    touch_loadbalancer(session, lb.id, now)
    if body.default_pool is not None:
        add_tree(session, lb, [body], [], now)
        listener = session.scalars(
            select(m.Listener).where(
                m.Listener.loadbalancer_id == lb.id,
                m.Listener.protocol_port == body.protocol_port,
            )
        ).one()
    else:
        pool_id = body.default_pool_id
        if pool_id is not None:
            usable_pool(session, lb.id, pool_id, body.protocol)
        listener = add_listener(session, lb, body, now, pool_id)
    return Written(views.listeners([listener])[0], lb.id)


def update_listener(
    session: Session, scope: str | None, ident: str, body: ListenerUpdate
) -> Written[ListenerOut]:
    listener = get_visible(session, m.Listener, ident, scope)
    now = utcnow()
    touch_loadbalancer(session, listener.loadbalancer_id, now)
    require_live(listener)
    fields = body.model_fields_set
    if "default_pool_id" in fields and body.default_pool_id is not None:
        usable_pool(session, listener.loadbalancer_id, body.default_pool_id, listener.protocol)
    if "insert_headers" in fields:
        try:
            body.insert_headers = check_insert_headers(
                ListenerProtocol(listener.protocol), body.insert_headers or {}
            )
        except ValueError as exc:
            raise ValidationFailure(reason(exc)) from None
    apply_update(listener, body, {**UPDATE_DEFAULTS, "default_pool_id": None, "insert_headers": {}})
    mark_updated(listener, now)
    return Written(views.listeners([listener])[0], listener.loadbalancer_id)


def delete_listener(session: Session, scope: str | None, ident: str) -> Written[None]:
    listener = get_visible(session, m.Listener, ident, scope)
    now = utcnow()
    touch_loadbalancer(session, listener.loadbalancer_id, now)
    mark_deleted(listener, now)
    return Written(None, listener.loadbalancer_id)


def listener_stats(session: Session, scope: str | None, ident: str) -> Stats:
    listener = get_visible(session, m.Listener, ident, scope)
    row = session.get(m.ListenerStats, listener.id)
    if row is None:
        return Stats()
    return Stats(
        bytes_in=row.bytes_in,
        bytes_out=row.bytes_out,
        active_connections=row.active_connections,
        total_connections=row.total_connections,
        request_errors=row.request_errors,
    )

"""Listeners: list, show, create (optionally with a new default pool), update, delete, stats."""

from sqlalchemy import select
from sqlalchemy.orm import Session

from steelyard.db import models as m
from steelyard.db import views
from steelyard.db.access import (
    COMMON_DEFAULTS,
    Written,
    delete_row,
    get_visible,
    open_write,
    update_row,
)
from steelyard.db.listing import attributes, list_visible, show_visible
from steelyard.db.protection import stored
from steelyard.db.quotas import within_quota
from steelyard.db.secrets import listener_tls_columns
from steelyard.db.status import rejections
from steelyard.db.tree import add_listener, add_tree, checked_allowed_cidrs, usable_pool
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
from steelyard.model.listener_protection import check_protection
from steelyard.model.listing import ListQuery
from steelyard.model.status import Stats
from steelyard.model.tls import LISTENER_TLS_DEFAULTS, stored_listener_tls

ATTRIBUTES = attributes(views.LISTENER_FIELDS, "loadbalancer_id")
UPDATE_DEFAULTS = {
    **COMMON_DEFAULTS,
    **DEFAULT_TIMEOUTS,
    "connection_limit": -1,
    "default_pool_id": None,
    "insert_headers": {},
    "allowed_cidrs": [],
    **LISTENER_TLS_DEFAULTS,
}


def list_listeners(session: Session, scope: str | None, query: ListQuery) -> list[ListenerOut]:
    return list_visible(session, m.Listener, scope, query, ATTRIBUTES, views.listeners)


def get_listener(session: Session, scope: str | None, ident: str) -> ListenerOut:
    return show_visible(session, m.Listener, scope, ident, views.listeners)


def create_listener(
    session: Session, scope: str | None, body: ListenerCreate
) -> Written[ListenerOut]:
    opened = open_write(session, m.LoadBalancer, body.loadbalancer_id, scope)
    lb = opened.row
    with within_quota(session, lb.project_id):  # a new default pool counts too
        if body.default_pool is not None or body.l7policies:
            add_tree(session, lb, [body], [], opened.now)
            listener = session.scalars(
                select(m.Listener).where(
                    m.Listener.loadbalancer_id == lb.id,
                    m.Listener.protocol_port == body.protocol_port,
                )
            ).one()
        else:
            if body.default_pool_id is not None:
                usable_pool(session, lb.id, body.default_pool_id, body.protocol)
            listener = add_listener(session, lb, body, opened.now, body.default_pool_id)
    return Written(views.listeners(session, [listener])[0], lb.id)


def update_listener(
    session: Session, scope: str | None, ident: str, body: ListenerUpdate
) -> Written[ListenerOut]:
    def check(listener: m.Listener) -> None:
        protocol = ListenerProtocol(listener.protocol)
        if "default_pool_id" in body.model_fields_set and listener.default_pool_id is not None:
            usable_pool(session, listener.loadbalancer_id, listener.default_pool_id, protocol)
        try:
            listener.insert_headers = check_insert_headers(protocol, listener.insert_headers)
        except ValueError as exc:
            raise ValidationFailure(reason(exc)) from None
        # The stored TLS attributes with this PUT's changes, checked and completed as a whole.
        tls = stored_listener_tls(listener)
        for name, value in listener_tls_columns(
            session, listener.project_id, protocol, tls
        ).items():
            setattr(listener, name, value)
        if "allowed_cidrs" in body.model_fields_set:  # the whole list; null or []: everyone
            lb = session.get_one(m.LoadBalancer, listener.loadbalancer_id)
            listener.allowed_cidrs = checked_allowed_cidrs(lb, listener.allowed_cidrs)
        if "protection" in body.model_fields_set:  # the whole object; null or {}: none
            try:
                check_protection(protocol, body.protection)
            except ValueError as exc:
                raise ValidationFailure(f"protection: {exc}") from None
            listener.protection = stored(body.protection)

    opened = update_row(session, m.Listener, ident, scope, body, UPDATE_DEFAULTS, check)
    return Written(views.listeners(session, [opened.row])[0], opened.loadbalancer_id)


def delete_listener(session: Session, scope: str | None, ident: str) -> Written[None]:
    return Written(None, delete_row(session, m.Listener, ident, scope).loadbalancer_id)


def listener_stats(session: Session, scope: str | None, ident: str) -> Stats:
    listener = get_visible(session, m.Listener, ident, scope)
    rejected = rejections(session, m.ListenerRejections.listener_id == listener.id)
    row = session.get(m.ListenerStats, listener.id)
    if row is None:
        return Stats(rejected=rejected)
    return Stats.model_validate(row, from_attributes=True).model_copy(update={"rejected": rejected})

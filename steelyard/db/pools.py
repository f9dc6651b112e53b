"""Pools: list, show, create (with members and health monitor), update, delete."""

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from steelyard.db import models as m
from steelyard.db import views
from steelyard.db.access import (
    COMMON_DEFAULTS,
    PENDING_DELETE,
    REQUIRED,
    Written,
    delete_row,
    get_visible,
    mark_updated,
    open_write,
    require_live,
    update_row,
)
from steelyard.db.l7 import check_pool_unused
from steelyard.db.listing import attributes, list_visible, show_visible
from steelyard.db.quotas import within_quota
from steelyard.db.secrets import pool_tls_columns
from steelyard.db.tree import add_pool, check_protocols
from steelyard.model.faults import Conflict, ValidationFailure
from steelyard.model.fields import reason
from steelyard.model.listing import ListQuery
from steelyard.model.pool import PoolCreate, PoolOut, PoolUpdate, merge_persistence
from steelyard.model.tls import POOL_TLS_DEFAULTS, stored_pool_tls

ATTRIBUTES = attributes(views.POOL_FIELDS, "loadbalancer_id")


def list_pools(session: Session, scope: str | None, query: ListQuery) -> list[PoolOut]:
    return list_visible(session, m.Pool, scope, query, ATTRIBUTES, views.pools)


def get_pool(session: Session, scope: str | None, ident: str) -> PoolOut:
    return show_visible(session, m.Pool, scope, ident, views.pools)


def _listener_for(session: Session, scope: str | None, body: PoolCreate) -> m.Listener | None:
    if body.listener_id is None:
        if body.loadbalancer_id is None:
            raise ValidationFailure("loadbalancer_id or listener_id must be specified.")
        return None
    listener = get_visible(session, m.Listener, body.listener_id, scope)
    if body.loadbalancer_id is not None and body.loadbalancer_id != listener.loadbalancer_id:
        raise ValidationFailure(
            f"Listener {listener.id} does not belong to Load Balancer {body.loadbalancer_id}."
        )
    require_live(listener)
    if listener.default_pool_id is not None:
        current = session.get(m.Pool, listener.default_pool_id)
        if current is not None and current.provisioning_status != PENDING_DELETE:
            raise Conflict("This listener already has a default pool")
    check_protocols(listener.protocol, body.protocol.value)
    return listener


def create_pool(session: Session, scope: str | None, body: PoolCreate) -> Written[PoolOut]:
    listener = _listener_for(session, scope, body)
    lb_id = listener.loadbalancer_id if listener else str(body.loadbalancer_id)
    opened = open_write(session, m.LoadBalancer, lb_id, scope)
    with within_quota(session, opened.row.project_id):  # its members and monitor count too
        pool = add_pool(session, opened.row, body, opened.now)
    if listener is not None:
        listener.default_pool_id = pool.id
        mark_updated(listener, opened.now)
    session.flush()
    return Written(views.pools(session, [pool])[0], lb_id)


def update_pool(
    session: Session, scope: str | None, ident: str, body: PoolUpdate
) -> Written[PoolOut]:
    def check(pool: m.Pool) -> None:
        tls = stored_pool_tls(pool)  # with this PUT's changes, checked as a whole
        for name, value in pool_tls_columns(session, pool.project_id, pool.protocol, tls).items():
            setattr(pool, name, value)
        if "session_persistence" in body.model_fields_set:
            try:
                pool.session_persistence = merge_persistence(
                    pool.session_persistence, body.session_persistence
                )
            except ValueError as exc:
                raise ValidationFailure(reason(exc)) from None

    defaults = {**COMMON_DEFAULTS, "lb_algorithm": REQUIRED, **POOL_TLS_DEFAULTS}
    opened = update_row(session, m.Pool, ident, scope, body, defaults, check)
    return Written(views.pools(session, [opened.row])[0], opened.loadbalancer_id)


def delete_pool(session: Session, scope: str | None, ident: str) -> Written[None]:
    """The pool, its members and its health monitor go; listeners lose it as default pool."""
    opened = delete_row(session, m.Pool, ident, scope)
    pool, now = opened.row, opened.now
    check_pool_unused(session, pool.id)
    doomed = {"provisioning_status": PENDING_DELETE, "updated_at": now}
    for table in (m.Member, m.HealthMonitor):
        session.execute(
            update(table)
            .where(table.pool_id == pool.id, table.provisioning_status != PENDING_DELETE)
            .values(doomed)
            .execution_options(synchronize_session=False)
        )
    for listener in session.scalars(
        select(m.Listener).where(m.Listener.default_pool_id == pool.id)
    ):
        listener.default_pool_id = None
        if listener.provisioning_status != PENDING_DELETE:
            mark_updated(listener, now)
    return Written(None, opened.loadbalancer_id)

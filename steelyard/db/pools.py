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
from steelyard.db.tree import add_pool, check_protocols
from steelyard.model.faults import Conflict, ValidationFailure
from steelyard.model.fields import reason
from steelyard.model.listing import ListQuery
from steelyard.model.pool import PoolCreate, PoolOut, PoolUpdate, merge_persistence

ATTRIBUTES = (
    "id",
    "name",
    "description",
    "provisioning_status",
    "operating_status",
    "admin_state_up",
    "project_id",
    "protocol",
    "lb_algorithm",
    "loadbalancer_id",
    "created_at",
    "updated_at",
)


def list_pools(session: Session, scope: str | None, query: ListQuery) -> list[PoolOut]:
    T = m.Pool
    return views.pools(session, list_page(session, T, query, ATTRIBUTES, scoped(T, scope)))


def get_pool(session: Session, scope: str | None, ident: str) -> PoolOut:
    return views.pools(session, [get_visible(session, m.Pool, ident, scope)])[0]


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
    lb = get_visible(session, m.LoadBalancer, lb_id, scope)
    now = utcnow()
    touch_loadbalancer(session, lb.id, now)
    pool = add_pool(session, lb, body, now)
    if listener is not None:
        listener.default_pool_id = pool.id
        mark_updated(listener, now)
    session.flush()
    return Written(views.pools(session, [pool])[0], lb.id)


def update_pool(
    session: Session, scope: str | None, ident: str, body: PoolUpdate
) -> Written[PoolOut]:
    pool = get_visible(session, m.Pool, ident, scope)
    now = utcnow()
    touch_loadbalancer(session, pool.loadbalancer_id, now)
    require_live(pool)
    if "session_persistence" in body.model_fields_set:
        try:
            pool.session_persistence = merge_persistence(
                pool.session_persistence, body.session_persistence
            )
        except ValueError as exc:
            raise ValidationFailure(reason(exc)) from None
    apply_update(pool, body, {**COMMON_DEFAULTS, "lb_algorithm": REQUIRED})
    mark_updated(pool, now)
    session.flush()
    return Written(views.pools(session, [pool])[0], pool.loadbalancer_id)


def delete_pool(session: Session, scope: str | None, ident: str) -> Written[None]:
    """The pool, its members and its health monitor go; listeners lose it as default pool."""
    pool = get_visible(session, m.Pool, ident, scope)
    now = utcnow()
    touch_loadbalancer(session, pool.loadbalancer_id, now)
    mark_deleted(pool, now)
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
    return Written(None, pool.loadbalancer_id)

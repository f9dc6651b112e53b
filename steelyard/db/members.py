"""Members of a pool: list, show, create, update, delete, and the batch update that replaces
the pool's member set (matching existing members by address and protocol_port)."""

from sqlalchemy import select
from sqlalchemy.orm import Session

from steelyard.db import models as m
from steelyard.db import views
from steelyard.db.access import (
    COMMON_DEFAULTS,
    PENDING_DELETE,
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
from steelyard.db.tree import add_member, monitored
from steelyard.model.faults import NotFound, ValidationFailure
from steelyard.model.listing import ListQuery
from steelyard.model.member import DEFAULT_WEIGHT, MemberCreate, MemberOut, MemberUpdate

ATTRIBUTES = (
    "id",
    "name",
    "provisioning_status",
    "operating_status",
    "admin_state_up",
    "project_id",
    "address",
    "protocol_port",
    "weight",
    "backup",
    "subnet_id",
    "monitor_address",
    "monitor_port",
    "created_at",
    "updated_at",
)
UPDATE_DEFAULTS = {
    **COMMON_DEFAULTS,
    "weight": DEFAULT_WEIGHT,
    "backup": False,
    "monitor_address": None,
    "monitor_port": None,
}
REPLACED = ("name", "admin_state_up", "weight", "backup", "monitor_address", "monitor_port")


def list_members(
    session: Session, scope: str | None, pool_id: str, query: ListQuery
) -> list[MemberOut]:
    pool = get_visible(session, m.Pool, pool_id, scope)
    where = [m.Member.pool_id == pool.id, *scoped(m.Member, scope)]
    return views.members(list_page(session, m.Member, query, ATTRIBUTES, where))


def _member(session: Session, scope: str | None, pool_id: str, ident: str) -> m.Member:
    pool = get_visible(session, m.Pool, pool_id, scope)
    member = get_visible(session, m.Member, ident, scope)
    if member.pool_id != pool.id:
        raise NotFound("Member", ident)
    return member


def get_member(session: Session, scope: str | None, pool_id: str, ident: str) -> MemberOut:
    return views.members([_member(session, scope, pool_id, ident)])[0]


def _live_pool(session: Session, scope: str | None, pool_id: str) -> m.Pool:
    pool = get_visible(session, m.Pool, pool_id, scope)
    touch_loadbalancer(session, pool.loadbalancer_id, utcnow())
    require_live(pool)
    return pool


def create_member(
    session: Session, scope: str | None, pool_id: str, body: MemberCreate
) -> Written[MemberOut]:
    pool = _live_pool(session, scope, pool_id)
    member = add_member(session, pool, body, utcnow(), monitored(session, pool.id))
    session.flush()
    return Written(views.members([member])[0], pool.loadbalancer_id)


def update_member(
    session: Session, scope: str | None, pool_id: str, ident: str, body: MemberUpdate
) -> Written[MemberOut]:
    member = _member(session, scope, pool_id, ident)
    now = utcnow()
    pool = session.get_one(m.Pool, member.pool_id)
    touch_loadbalancer(session, pool.loadbalancer_id, now)
    require_live(member)
    apply_update(member, body, UPDATE_DEFAULTS)
    mark_updated(member, now)
    return Written(views.members([member])[0], pool.loadbalancer_id)


def delete_member(session: Session, scope: str | None, pool_id: str, ident: str) -> Written[None]:
    member = _member(session, scope, pool_id, ident)
    now = utcnow()
    pool = session.get_one(m.Pool, member.pool_id)
    touch_loadbalancer(session, pool.loadbalancer_id, now)
    mark_deleted(member, now)
    return Written(None, pool.loadbalancer_id)


def replace_members(
    session: Session,
    scope: str | None,
    pool_id: str,
    bodies: list[MemberCreate],
    additive_only: bool,
) -> Written[None]:
    """Batch update: the request is the pool's new member set. Members are matched by
    (address, protocol_port); unmatched existing ones are deleted unless `additive_only`."""
    pool = _live_pool(session, scope, pool_id)
    now = utcnow()
    wanted = {(body.address, body.protocol_port): body for body in bodies}
    if len(wanted) < len(bodies):
        raise ValidationFailure("The same address and protocol_port appear more than once.")
    existing = {
        (row.address, row.protocol_port): row
        for row in session.scalars(select(m.Member).where(m.Member.pool_id == pool.id))
        if row.provisioning_status != PENDING_DELETE
    }
    for endpoint, row in existing.items():
        body = wanted.pop(endpoint, None)
        if body is None:
            if not additive_only:
                mark_deleted(row, now)
            continue
        changed = {name: getattr(body, name) for name in REPLACED}
        changed["name"] = changed["name"] or ""
        changed["tags"] = list(body.tags)
        if any(getattr(row, name) != value for name, value in changed.items()):
            for name, value in changed.items():
                setattr(row, name, value)
            mark_updated(row, now)
    has_monitor = monitored(session, pool.id)
    for body in wanted.values():
        add_member(session, pool, body, now, has_monitor)
    return Written(None, pool.loadbalancer_id)

"""Members of a pool: list, show, create, update, delete, and the batch update that replaces
the pool's member set (matching existing members by address and protocol_port)."""

from sqlalchemy import select
from sqlalchemy.orm import Session

from steelyard.db import models as m
from steelyard.db import views
from steelyard.db.access import (
    COMMON_DEFAULTS,
    PENDING_DELETE,
    Opened,
    Written,
    delete_row,
    get_visible,
    mark_deleted,
    mark_updated,
    open_write,
    require_live,
    update_row,
)
from steelyard.db.listing import attributes, list_visible
from steelyard.db.quotas import within_quota
from steelyard.db.tree import add_member, monitored
from steelyard.model.faults import ValidationFailure
from steelyard.model.listing import ListQuery
from steelyard.model.member import DEFAULT_WEIGHT, MemberCreate, MemberOut, MemberUpdate

ATTRIBUTES = attributes(views.MEMBER_FIELDS)
UPDATE_DEFAULTS = {
    **COMMON_DEFAULTS,
    "weight": DEFAULT_WEIGHT,
    "backup": False,
    "monitor_address": None,
    "monitor_port": None,
}
REPLACED = ("name", "admin_state_up", "weight", "backup", "monitor_address", "monitor_port")


def _in_pool(session: Session, scope: str | None, pool_id: str) -> m.Pool:
    return get_visible(session, m.Pool, pool_id, scope)


def list_members(
    session: Session, scope: str | None, pool_id: str, query: ListQuery
) -> list[MemberOut]:
    in_pool = [m.Member.pool_id == _in_pool(session, scope, pool_id).id]
    return list_visible(session, m.Member, scope, query, ATTRIBUTES, views.members, in_pool)


def get_member(session: Session, scope: str | None, pool_id: str, ident: str) -> MemberOut:
    pool = _in_pool(session, scope, pool_id)
    member = get_visible(session, m.Member, ident, scope, m.Member.pool_id == pool.id)
    return views.members(session, [member])[0]


def _open_pool(session: Session, scope: str | None, pool_id: str) -> Opened[m.Pool]:
    opened = open_write(session, m.Pool, pool_id, scope)
    require_live(opened.row)
    return opened


def create_member(
    session: Session, scope: str | None, pool_id: str, body: MemberCreate
) -> Written[MemberOut]:
    opened = _open_pool(session, scope, pool_id)
    pool = opened.row
    with within_quota(session, pool.project_id):
        member = add_member(session, pool, body, opened.now, monitored(session, pool.id))
    session.flush()
    return Written(views.members(session, [member])[0], opened.loadbalancer_id)


def update_member(
    session: Session, scope: str | None, pool_id: str, ident: str, body: MemberUpdate
) -> Written[MemberOut]:
    pool = _in_pool(session, scope, pool_id)
    in_pool = [m.Member.pool_id == pool.id]
    opened = update_row(session, m.Member, ident, scope, body, UPDATE_DEFAULTS, where=in_pool)
    return Written(views.members(session, [opened.row])[0], opened.loadbalancer_id)


def delete_member(session: Session, scope: str | None, pool_id: str, ident: str) -> Written[None]:
    pool = _in_pool(session, scope, pool_id)
    opened = delete_row(session, m.Member, ident, scope, [m.Member.pool_id == pool.id])
    return Written(None, opened.loadbalancer_id)


def replace_members(
    session: Session,
    scope: str | None,
    pool_id: str,
    bodies: list[MemberCreate],
    additive_only: bool,
) -> Written[None]:
    """Batch update: the request is the pool's new member set. Members are matched by
    (address, protocol_port); unmatched existing ones are deleted unless `additive_only`."""
    opened = _open_pool(session, scope, pool_id)
    pool, now = opened.row, opened.now
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
    with within_quota(session, pool.project_id):  # judged by the members it adds, net
        for body in wanted.values():
            add_member(session, pool, body, now, has_monitor)
    return Written(None, opened.loadbalancer_id)

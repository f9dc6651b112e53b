"""Quotas: per-project limits, the deployment defaults, and their enforcement on every create.

Enforcement counts a project's objects before and after a write (in the same transaction):
a kind whose count grew beyond its limit refuses the whole write with Octavia's 403, and the
transaction rolls back. So a fully populated create, a listener with a new default pool or a
member batch is judged by what it would add, and a replacement that adds no member more is
never refused. Objects being deleted (PENDING_DELETE) no longer count.

Concurrent creates in one project are serialized by SQLite's write lock; on PostgreSQL two
of them could both pass (no lock covers a project yet).
"""

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from steelyard.db import models as m
from steelyard.db.access import PENDING_DELETE, WrittenMany, utcnow
from steelyard.db.listing import list_page
from steelyard.model.faults import Forbidden, ValidationFailure
from steelyard.model.listing import ListQuery
from steelyard.model.quota import (
    KIND_NAMES,
    KINDS,
    UNLIMITED,
    Limits,
    QuotaLimitsOut,
    QuotaOut,
    QuotaUpdate,
)

DEFAULTS_KEY = "quota_defaults"
COUNTED: dict[str, type[m.Provisioned]] = {
    "load_balancer": m.LoadBalancer,
    "listener": m.Listener,
    "pool": m.Pool,
    "health_monitor": m.HealthMonitor,
    "member": m.Member,
    "l7policy": m.L7Policy,
    "l7rule": m.L7Rule,
}
ATTRIBUTES = ("project_id", *KINDS)


def default_limits(session: Session) -> dict[str, int]:
    """The deployment defaults: unlimited unless an admin set them."""
    row = session.get(m.DeploymentSetting, DEFAULTS_KEY)
    stored = row.value if row is not None else {}
    return {kind: int(stored.get(kind, UNLIMITED)) for kind in KINDS}


def _stored(row: m.Quota | None) -> Limits:
    return {kind: getattr(row, kind) if row is not None else None for kind in KINDS}


def effective_limits(session: Session, project_id: str) -> dict[str, int]:
    defaults = default_limits(session)
    stored = _stored(session.get(m.Quota, project_id))
    return {kind: defaults[kind] if (own := stored[kind]) is None else own for kind in KINDS}


def get_quota(session: Session, project_id: str) -> QuotaOut:
    """The project's limits with the defaults filled in (any project has one)."""
    return QuotaOut.for_project(project_id, dict(effective_limits(session, project_id)))


def get_defaults(session: Session) -> QuotaLimitsOut:
    return QuotaLimitsOut.of(dict(default_limits(session)))


def _view(_: Session, rows: list[m.Quota]) -> list[QuotaOut]:
    return [QuotaOut.for_project(row.project_id, _stored(row)) for row in rows]


def list_quotas(session: Session, scope: str | None, query: ListQuery) -> list[QuotaOut]:
    """Projects with limits of their own, as stored (null: the default), as Octavia lists
    them; a non-admin sees only its own project."""
    where = [] if scope is None else [m.Quota.project_id == scope]
    return _view(session, list_page(session, m.Quota, query, ATTRIBUTES, where))


def _limits(body: QuotaUpdate) -> Limits:
    try:
        return body.limits()
    except ValueError as exc:
        raise ValidationFailure(str(exc)) from None


def set_quota(session: Session, project_id: str, body: QuotaUpdate) -> WrittenMany[QuotaOut]:
    limits = _limits(body)
    now = utcnow()
    row = session.get(m.Quota, project_id, with_for_update=True)
    if row is None:
        row = m.Quota(project_id=project_id, created_at=now)
        session.add(row)
    else:
        row.updated_at = now
    for kind, value in limits.items():
        setattr(row, kind, value)
    session.flush()
    return WrittenMany(get_quota(session, project_id), ())


def reset_quota(session: Session, project_id: str) -> WrittenMany[None]:
    """Back to the defaults (nothing to reset is no error, as in Octavia)."""
    row = session.get(m.Quota, project_id, with_for_update=True)
    if row is not None:
        session.delete(row)
    return WrittenMany(None, ())


def set_defaults(session: Session, body: QuotaUpdate) -> WrittenMany[QuotaLimitsOut]:
    """Change the deployment defaults; null: back to unlimited."""
    limits = _limits(body)
    row = session.get(m.DeploymentSetting, DEFAULTS_KEY, with_for_update=True)
    stored = dict(row.value) if row is not None else {}
    for kind, value in limits.items():
        if value is None:
            stored.pop(kind, None)
        else:
            stored[kind] = value
    now = utcnow()
    if row is None:
        session.add(m.DeploymentSetting(key=DEFAULTS_KEY, value=stored, updated_at=now))
    else:
        row.value, row.updated_at = stored, now
    session.flush()
    return WrittenMany(get_defaults(session), ())


def reset_defaults(session: Session) -> WrittenMany[None]:
    """Back to unlimited."""
    row = session.get(m.DeploymentSetting, DEFAULTS_KEY, with_for_update=True)
    if row is not None:
        session.delete(row)
    return WrittenMany(None, ())


def _live(table: type[m.Provisioned], project_id: str) -> list[ColumnElement[bool]]:
    return [table.project_id == project_id, table.provisioning_status != PENDING_DELETE]


def usage(session: Session, project_id: str, kinds: list[str]) -> dict[str, int]:
    """How many live objects of each kind the project has."""
    return {
        kind: session.scalar(
            select(func.count()).select_from(COUNTED[kind]).where(*_live(COUNTED[kind], project_id))
        )
        or 0
        for kind in kinds
    }


@contextmanager
def within_quota(session: Session, project_id: str) -> Iterator[None]:
    """Wrap a create: raises 403 at the end when it took any kind beyond the project's limit
    (the caller's transaction then rolls back). Costs nothing while the limits are unlimited."""
    limits = {
        kind: limit
        for kind, limit in effective_limits(session, project_id).items()
        if kind in COUNTED and limit != UNLIMITED
    }
    if not limits:
        yield
        return
    before = usage(session, project_id, list(limits))
    yield
    session.flush()
    after = usage(session, project_id, list(limits))
    grew = [kind for kind in limits if after[kind] > before[kind]]
    over = [kind for kind in grew if after[kind] > limits[kind]]
    if over:
        names = ", ".join(KIND_NAMES[kind] for kind in over)
        raise Forbidden(f"Quota has been met for resources: {names}")

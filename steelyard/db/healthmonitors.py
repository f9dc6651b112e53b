"""Health monitors: list, show, create, update, delete (one per pool)."""

from typing import Any

from sqlalchemy.orm import Session

from steelyard.db import models as m
from steelyard.db import views
from steelyard.db.access import (
    COMMON_DEFAULTS,
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
from steelyard.db.tree import add_healthmonitor
from steelyard.model.enums import HealthMonitorType
from steelyard.model.faults import ValidationFailure
from steelyard.model.healthmonitor import (
    DEFAULT_MAX_RETRIES_DOWN,
    HTTP_DEFAULTS,
    HTTP_ONLY,
    HTTP_TYPES,
    HealthMonitorCreate,
    HealthMonitorOut,
    HealthMonitorUpdate,
    check_http_fields,
)
from steelyard.model.listing import ListQuery

ATTRIBUTES = (
    "id",
    "name",
    "provisioning_status",
    "operating_status",
    "admin_state_up",
    "project_id",
    "pool_id",
    "type",
    "delay",
    "timeout",
    "max_retries",
    "max_retries_down",
    "http_method",
    "url_path",
    "expected_codes",
    "http_version",
    "domain_name",
    "created_at",
    "updated_at",
)
UPDATE_DEFAULTS: dict[str, Any] = {
    **{name: value for name, value in COMMON_DEFAULTS.items() if name != "description"},
    "delay": REQUIRED,
    "timeout": REQUIRED,
    "max_retries": REQUIRED,
    "max_retries_down": DEFAULT_MAX_RETRIES_DOWN,
    "http_version": None,
    "domain_name": None,
}


def list_healthmonitors(
    session: Session, scope: str | None, query: ListQuery
) -> list[HealthMonitorOut]:
    T = m.HealthMonitor
    return views.healthmonitors(list_page(session, T, query, ATTRIBUTES, scoped(T, scope)))


def get_healthmonitor(session: Session, scope: str | None, ident: str) -> HealthMonitorOut:
    return views.healthmonitors([get_visible(session, m.HealthMonitor, ident, scope)])[0]


def create_healthmonitor(
    session: Session, scope: str | None, body: HealthMonitorCreate
) -> Written[HealthMonitorOut]:
    pool = get_visible(session, m.Pool, body.pool_id, scope)
    now = utcnow()
    touch_loadbalancer(session, pool.loadbalancer_id, now)
    require_live(pool)
    monitor = add_healthmonitor(session, pool, body, now)
    session.flush()
    return Written(views.healthmonitors([monitor])[0], pool.loadbalancer_id)


def update_healthmonitor(
    session: Session, scope: str | None, ident: str, body: HealthMonitorUpdate
) -> Written[HealthMonitorOut]:
    monitor = get_visible(session, m.HealthMonitor, ident, scope)
    now = utcnow()
    pool = session.get_one(m.Pool, monitor.pool_id)
    touch_loadbalancer(session, pool.loadbalancer_id, now)
    require_live(monitor)
    hm_type = HealthMonitorType(monitor.type)
    defaults = dict(UPDATE_DEFAULTS)
    if hm_type in HTTP_TYPES:
        defaults.update({name: HTTP_DEFAULTS[name] for name in HTTP_DEFAULTS})
    else:
        defaults.update({name: None for name in HTTP_DEFAULTS})
    apply_update(monitor, body, defaults)
    try:
        check_http_fields(hm_type, {name: getattr(monitor, name) for name in HTTP_ONLY})
    except ValueError as exc:
        raise ValidationFailure(str(exc)) from None
    mark_updated(monitor, now)
    return Written(views.healthmonitors([monitor])[0], pool.loadbalancer_id)


def delete_healthmonitor(session: Session, scope: str | None, ident: str) -> Written[None]:
    monitor = get_visible(session, m.HealthMonitor, ident, scope)
    now = utcnow()
    pool = session.get_one(m.Pool, monitor.pool_id)
    touch_loadbalancer(session, pool.loadbalancer_id, now)
    mark_deleted(monitor, now)
    return Written(None, pool.loadbalancer_id)

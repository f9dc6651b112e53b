"""Health monitors: list, show, create, update, delete (one per pool)."""

from typing import Any

from sqlalchemy.orm import Session

from steelyard.db import models as m
from steelyard.db import views
from steelyard.db.access import (
    COMMON_DEFAULTS,
    REQUIRED,
    Written,
    delete_row,
    get_visible,
    open_write,
    require_live,
    update_row,
)
from steelyard.db.listing import attributes, list_visible, show_visible
from steelyard.db.quotas import within_quota
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

ATTRIBUTES = attributes(views.HM_FIELDS, "pool_id")
UPDATE_DEFAULTS: dict[str, Any] = {
    **COMMON_DEFAULTS,
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
    return list_visible(session, T, scope, query, ATTRIBUTES, views.healthmonitors)


def get_healthmonitor(session: Session, scope: str | None, ident: str) -> HealthMonitorOut:
    return show_visible(session, m.HealthMonitor, scope, ident, views.healthmonitors)


def create_healthmonitor(
    session: Session, scope: str | None, body: HealthMonitorCreate
) -> Written[HealthMonitorOut]:
    opened = open_write(session, m.Pool, body.pool_id, scope)
    require_live(opened.row)
    with within_quota(session, opened.row.project_id):
        monitor = add_healthmonitor(session, opened.row, body, opened.now)
    session.flush()
    return Written(views.healthmonitors(session, [monitor])[0], opened.loadbalancer_id)


def update_healthmonitor(
    session: Session, scope: str | None, ident: str, body: HealthMonitorUpdate
) -> Written[HealthMonitorOut]:
    hm_type = HealthMonitorType(get_visible(session, m.HealthMonitor, ident, scope).type)
    http = hm_type in HTTP_TYPES
    defaults = {**UPDATE_DEFAULTS, **{k: v if http else None for k, v in HTTP_DEFAULTS.items()}}

    def check(monitor: m.HealthMonitor) -> None:
        try:
            check_http_fields(hm_type, {name: getattr(monitor, name) for name in HTTP_ONLY})
        except ValueError as exc:
            raise ValidationFailure(str(exc)) from None

    opened = update_row(session, m.HealthMonitor, ident, scope, body, defaults, check)
    return Written(views.healthmonitors(session, [opened.row])[0], opened.loadbalancer_id)


def delete_healthmonitor(session: Session, scope: str | None, ident: str) -> Written[None]:
    return Written(None, delete_row(session, m.HealthMonitor, ident, scope).loadbalancer_id)

"""Operator views of load balancers and appliances: every project's, with the device detail.

The load balancer part of each answer is the tenant's own view (db/views.py), so the operator
reads the tenant's IDs, names and statuses; the appliances are the amphora API's rows
(db/amphorae.py) with their generation and heartbeat added.
"""

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from steelyard.db import models as m
from steelyard.db import views
from steelyard.db.access import get_visible
from steelyard.db.amphorae import FILTERABLE, amphora_filters, amphora_view
from steelyard.db.events import list_events
from steelyard.db.listing import list_page, list_visible
from steelyard.db.loadbalancers import ATTRIBUTES as LB_ATTRIBUTES
from steelyard.model.amphora import AMPHORA_STATUS
from steelyard.model.lb_health import (
    ApplianceState,
    LoadBalancerState,
    MemberState,
    summarize_health,
)
from steelyard.model.listing import ListQuery
from steelyard.model.operator_views import (
    ApplianceTally,
    OperatorAppliance,
    OperatorLoadBalancer,
    OperatorLoadBalancerListed,
    ProvisioningErrors,
)

RECENT_EVENTS = 10
# Appliances send a heartbeat every second (serve --heartbeat-interval); one not heard from in
# 5 s is silent, whatever timeout the health manager fails it after.
SILENT_AFTER_S = 5.0
PROJECT_FILTER = "project_id"


def _age(now: datetime, then: datetime | None) -> float | None:
    return None if then is None else round(max((now - then).total_seconds(), 0.0), 1)


def _operator_appliance(
    row: m.Appliance, lb: m.LoadBalancer | None, now: datetime
) -> OperatorAppliance:
    amphora = amphora_view(row, lb.vip_port_id if lb else None)
    desired = lb.desired_generation if lb else None
    return OperatorAppliance(
        **amphora.model_dump(),
        project_id=lb.project_id if lb else None,
        vrrp_state=row.role if lb and lb.topology == "ACTIVE_STANDBY" else None,
        applied_generation=row.applied_generation,
        desired_generation=desired,
        config_in_sync=None if desired is None else row.applied_generation == desired,
        config_sha256=row.config_sha256,
        heartbeat_age_s=_age(now, row.last_heartbeat_at),
    )


def _appliances_of(session: Session, lb_id: str) -> list[m.Appliance]:
    return list(
        session.scalars(
            select(m.Appliance)
            .where(m.Appliance.loadbalancer_id == lb_id)
            .order_by(m.Appliance.slot, m.Appliance.created_at, m.Appliance.id)
        )
    )


def _members_of(session: Session, lb_id: str) -> tuple[MemberState, ...]:
    rows = session.execute(
        select(m.Member.address, m.Member.protocol_port, m.Member.operating_status,
               m.Member.admin_state_up)
        .join(m.Pool, m.Pool.id == m.Member.pool_id)
        .where(m.Pool.loadbalancer_id == lb_id)
        .order_by(m.Member.created_at, m.Member.id)
    ).all()  # fmt: skip
    return tuple(MemberState(*row) for row in rows)


def _health_input(
    lb: m.LoadBalancer, appliances: Sequence[m.Appliance], members: tuple[MemberState, ...],
    now: datetime,
) -> LoadBalancerState:  # fmt: skip
    return LoadBalancerState(
        topology=lb.topology,
        expected_appliances=lb.appliance_count,
        provider=lb.provider,
        admin_state_up=lb.admin_state_up,
        provisioning_status=lb.provisioning_status,
        desired_generation=lb.desired_generation,
        applied_generation=lb.applied_generation,
        last_error=lb.last_error,
        appliances=tuple(
            ApplianceState(
                name=a.name,
                status=a.status,
                role=a.role,
                heartbeat_age_s=_age(now, a.last_heartbeat_at),
                applied_generation=a.applied_generation,
                failed_reason=a.failed_reason,
            )
            for a in appliances
        ),
        members=members,
    )


def operator_loadbalancer(session: Session, lb_id: str, now: datetime) -> OperatorLoadBalancer:
    """Any project's load balancer (404 for an unknown id), with its appliances, its last
    events, its last provisioning error and its health in plain language."""
    lb = get_visible(session, m.LoadBalancer, lb_id, None)
    tenant = views.loadbalancers(session, [lb])[0]
    appliances = _appliances_of(session, lb.id)
    recent = ListQuery(
        limit=RECENT_EVENTS,
        sort=(("created_at", "desc"),),
        filters=(("loadbalancer_id", (lb.id,)),),
    )
    health_input = _health_input(lb, appliances, _members_of(session, lb.id), now)
    return OperatorLoadBalancer(
        **tenant.model_dump(),
        topology=lb.topology,
        desired_generation=lb.desired_generation,
        applied_generation=lb.applied_generation,
        appliances=[_operator_appliance(a, lb, now) for a in appliances],
        recent_events=list_events(session, recent, None),
        errors=ProvisioningErrors(
            last_error=lb.last_error,
            failed_attempts=lb.attempts,
            next_attempt_at=lb.next_attempt_at if lb.last_error else None,
        ),
        health=summarize_health(health_input, SILENT_AFTER_S),
    )


def _tallies(session: Session, rows: Sequence[m.LoadBalancer]) -> list[OperatorLoadBalancerListed]:
    counted: dict[str, Counter[str]] = defaultdict(Counter)
    keys = [lb.id for lb in rows]
    if keys:
        by_status = session.execute(
            select(m.Appliance.loadbalancer_id, m.Appliance.status, func.count())
            .where(m.Appliance.loadbalancer_id.in_(keys))
            .group_by(m.Appliance.loadbalancer_id, m.Appliance.status)
        ).all()
        for lb_id, status, count in by_status:
            counted[lb_id or ""][AMPHORA_STATUS.get(status, status)] += count
    return [
        OperatorLoadBalancerListed(
            **tenant.model_dump(),
            topology=lb.topology,
            appliance_counts=ApplianceTally(
                expected=lb.appliance_count,
                total=sum(counted[lb.id].values()),
                by_status=dict(sorted(counted[lb.id].items())),
            ),
        )
        for lb, tenant in zip(rows, views.loadbalancers(session, rows), strict=True)
    ]


def operator_loadbalancers(session: Session, query: ListQuery) -> list[OperatorLoadBalancerListed]:
    """One page of every project's load balancers: the tenant list's filters (project_id
    among them), sorting and pagination, with each one's appliances counted."""
    return list_visible(session, m.LoadBalancer, None, query, LB_ATTRIBUTES, _tallies)


def operator_appliances(
    session: Session, query: ListQuery, now: datetime
) -> list[OperatorAppliance]:
    """One page of appliances. Filters: the amphora list's (status in Octavia's words) and
    project_id (its load balancer's)."""
    filters = dict(query.filters)
    where: list[ColumnElement[bool]] = []
    projects = filters.pop(PROJECT_FILTER, None)
    if projects is not None:
        owned = select(m.LoadBalancer.id).where(m.LoadBalancer.project_id.in_(projects))
        where.append(m.Appliance.loadbalancer_id.in_(owned.scalar_subquery()))
    rows = list_page(
        session, m.Appliance, amphora_filters(replace(query, filters=tuple(filters.items()))),
        FILTERABLE, where,
    )  # fmt: skip
    lb_ids = {row.loadbalancer_id for row in rows if row.loadbalancer_id}
    lbs = {
        lb.id: lb
        for lb in session.scalars(select(m.LoadBalancer).where(m.LoadBalancer.id.in_(lb_ids)))
    }
    return [_operator_appliance(row, lbs.get(row.loadbalancer_id or ""), now) for row in rows]

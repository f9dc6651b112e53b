"""What the Prometheus exposition reads, in a few queries: every load balancer, listener, pool
and member with its operating status and counters (zeros until its appliances report), the
listeners' protection rejections, appliances by status and the health managers' heartbeat
counts. Every load balancer is here: tenants need no PROMETHEUS listener (which Steelyard
refuses anyway) for their load balancers to be scraped by the operator.
"""

from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from steelyard.db import models as m
from steelyard.db.appliance_health import health_overview
from steelyard.db.counters import CUMULATIVE, TRAFFIC_FIELDS, Traffic
from steelyard.model.health import HeartbeatCounts

Level = Literal["loadbalancer", "listener", "pool", "member"]


@dataclass(frozen=True)
class ObjectMetrics:
    """One object: its identifying labels (ids, project, a member's address:port), in the
    order they are shown."""

    labels: tuple[tuple[str, str], ...]
    operating_status: str
    traffic: Traffic
    rejected: dict[str, int] = field(default_factory=dict)  # listeners: protection refusals


@dataclass(frozen=True)
class DeploymentMetrics:
    objects: dict[Level, list[ObjectMetrics]]
    appliances: dict[str, int]  # by status
    heartbeats: HeartbeatCounts  # summed over the health managers
    breaker_tripped: bool
    webhook_deliveries: dict[str, int]  # by state: pending, delivered, dead


def _traffic(row: Any, offset: int) -> Traffic:
    values = row[offset : offset + len(TRAFFIC_FIELDS)]
    return Traffic(**{name: value or 0 for name, value in zip(TRAFFIC_FIELDS, values, strict=True)})


def _columns(table: type[m.TrafficCounters]) -> list[Any]:
    return [getattr(table, name) for name in TRAFFIC_FIELDS]


def _summed(parts: list[Traffic]) -> Traffic:
    fields = {name: sum(getattr(t, name) for t in parts) for name in CUMULATIVE}
    return Traffic(active_connections=sum(t.active_connections for t in parts), **fields)


def _address(address: str, port: int) -> str:
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


def deployment_metrics(session: Session) -> DeploymentMetrics:
    rejected: dict[str, dict[str, int]] = {}
    for rejection in session.scalars(select(m.ListenerRejections)):
        rejected.setdefault(rejection.listener_id, {})[rejection.reason] = rejection.count
    lb, li, po, mb = m.LoadBalancer, m.Listener, m.Pool, m.Member
    listeners = [
        ObjectMetrics(
            (("loadbalancer_id", row[1]), ("listener_id", row[0]), ("project_id", row[2])),
            row[3],
            _traffic(row, 4),
            rejected.get(row[0], {}),
        )
        for row in session.execute(
            select(li.id, li.loadbalancer_id, li.project_id, li.operating_status)
            .add_columns(*_columns(m.ListenerStats))
            .outerjoin(m.ListenerStats, m.ListenerStats.listener_id == li.id)
            .order_by(li.loadbalancer_id, li.id)
        )
    ]
    pools = [
        ObjectMetrics(
            (("loadbalancer_id", row[1]), ("pool_id", row[0]), ("project_id", row[2])),
            row[3],
            _traffic(row, 4),
        )
        for row in session.execute(
            select(po.id, po.loadbalancer_id, po.project_id, po.operating_status)
            .add_columns(*_columns(m.PoolStats))
            .outerjoin(m.PoolStats, m.PoolStats.pool_id == po.id)
            .order_by(po.loadbalancer_id, po.id)
        )
    ]
    members = [
        ObjectMetrics(
            (
                ("loadbalancer_id", row[1]),
                ("pool_id", row[2]),
                ("member_id", row[0]),
                ("address", _address(row[4], row[5])),
                ("project_id", row[3]),
            ),
            row[6],
            _traffic(row, 7),
        )
        for row in session.execute(
            select(
                mb.id,
                po.loadbalancer_id,
                mb.pool_id,
                mb.project_id,
                mb.address,
                mb.protocol_port,
                mb.operating_status,
            )
            .join(po, po.id == mb.pool_id)
            .add_columns(*_columns(m.MemberStats))
            .outerjoin(m.MemberStats, m.MemberStats.member_id == mb.id)
            .order_by(po.loadbalancer_id, mb.pool_id, mb.id)
        )
    ]
    by_lb: dict[str, list[Traffic]] = {}
    for listener in listeners:
        by_lb.setdefault(listener.labels[0][1], []).append(listener.traffic)
    loadbalancers = [
        ObjectMetrics(
            (("loadbalancer_id", lb_id), ("project_id", project), ("name", name)),
            status,
            _summed(by_lb.get(lb_id, [])),
        )
        for lb_id, project, name, status in session.execute(
            select(lb.id, lb.project_id, lb.name, lb.operating_status).order_by(lb.id)
        )
    ]
    appliances = dict(
        session.execute(select(m.Appliance.status, func.count()).group_by(m.Appliance.status)).all()
    )
    health = health_overview(session)
    deliveries = session.execute(
        select(m.WebhookDelivery.state, func.count()).group_by(m.WebhookDelivery.state)
    ).all()
    return DeploymentMetrics(
        objects={
            "loadbalancer": loadbalancers,
            "listener": listeners,
            "pool": pools,
            "member": members,
        },
        appliances={str(status): int(count) for status, count in appliances.items()},
        heartbeats=health.heartbeats,
        breaker_tripped=health.circuit_breaker.tripped,
        webhook_deliveries={str(state): int(count) for state, count in deliveries},
    )

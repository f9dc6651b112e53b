"""The status tree of a load balancer and its summed statistics."""

from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from steelyard.db import models as m
from steelyard.db.access import get_visible
from steelyard.model.status import (
    HealthMonitorStatus,
    ListenerStatus,
    LoadBalancerStatus,
    MemberStatus,
    PoolStatus,
    Stats,
)


def _state(row: m.Provisioned) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "provisioning_status": row.provisioning_status,
        "operating_status": row.operating_status,
    }


def _pool_status(pool: m.Pool, members: list[m.Member], hm: m.HealthMonitor | None) -> PoolStatus:
    monitor = None
    if hm is not None:
        monitor = HealthMonitorStatus(
            id=hm.id, name=hm.name, type=hm.type, provisioning_status=hm.provisioning_status
        )
    return PoolStatus(
        **_state(pool),
        healthmonitor=monitor,
        members=[
            MemberStatus(**_state(mb), address=mb.address, protocol_port=mb.protocol_port)
            for mb in members
            if mb.pool_id == pool.id
        ],
    )


def status_tree(session: Session, scope: str | None, ident: str) -> LoadBalancerStatus:
    lb = get_visible(session, m.LoadBalancer, ident, scope)
    listeners = session.scalars(
        select(m.Listener)
        .where(m.Listener.loadbalancer_id == lb.id)
        .order_by(m.Listener.created_at, m.Listener.id)
    ).all()
    pools = session.scalars(
        select(m.Pool).where(m.Pool.loadbalancer_id == lb.id).order_by(m.Pool.created_at, m.Pool.id)
    ).all()
    keys = [pool.id for pool in pools]
    members = session.scalars(
        select(m.Member)
        .where(m.Member.pool_id.in_(keys))
        .order_by(m.Member.created_at, m.Member.id)
    ).all()
    monitors = {
        hm.pool_id: hm
        for hm in session.scalars(select(m.HealthMonitor).where(m.HealthMonitor.pool_id.in_(keys)))
    }
    statuses = {pool.id: _pool_status(pool, list(members), monitors.get(pool.id)) for pool in pools}
    return LoadBalancerStatus(
        **_state(lb),
        listeners=[
            ListenerStatus(
                **_state(listener),
                pools=[statuses[listener.default_pool_id]]
                if listener.default_pool_id in statuses
                else [],
            )
            for listener in listeners
        ],
        pools=list(statuses.values()),
    )


def loadbalancer_stats(session: Session, scope: str | None, ident: str) -> Stats:
    lb = get_visible(session, m.LoadBalancer, ident, scope)
    S = m.ListenerStats
    row = session.execute(
        select(
            func.coalesce(func.sum(S.bytes_in), 0),
            func.coalesce(func.sum(S.bytes_out), 0),
            func.coalesce(func.sum(S.active_connections), 0),
            func.coalesce(func.sum(S.total_connections), 0),
            func.coalesce(func.sum(S.request_errors), 0),
        ).where(S.loadbalancer_id == lb.id)
    ).one()
    return Stats(
        rejected=rejections(session, m.ListenerRejections.loadbalancer_id == lb.id),
        bytes_in=row[0],
        bytes_out=row[1],
        active_connections=row[2],
        total_connections=row[3],
        request_errors=row[4],
    )


def rejections(session: Session, belongs: ColumnElement[bool]) -> dict[str, int]:
    """Protection refusals per reason, summed over the rows `belongs` selects."""
    R = m.ListenerRejections
    rows = session.execute(
        select(R.reason, func.sum(R.count)).where(belongs).group_by(R.reason).order_by(R.reason)
    )
    return {reason: int(total) for reason, total in rows}

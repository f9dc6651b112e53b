"""What the Prometheus exposition reads: every listener's counters, in one pass."""

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from steelyard.db import models as m


@dataclass(frozen=True)
class ListenerMetrics:
    loadbalancer_id: str
    listener_id: str
    project_id: str
    bytes_in: int
    bytes_out: int
    active_connections: int
    total_connections: int
    request_errors: int
    rejected: dict[str, int]


def listener_metrics(session: Session) -> list[ListenerMetrics]:
    rejected: dict[str, dict[str, int]] = {}
    for row in session.scalars(select(m.ListenerRejections)):
        rejected.setdefault(row.listener_id, {})[row.reason] = row.count
    rows = session.execute(
        select(m.ListenerStats, m.Listener.project_id)
        .join(m.Listener, m.Listener.id == m.ListenerStats.listener_id)
        .order_by(m.ListenerStats.loadbalancer_id, m.ListenerStats.listener_id)
    ).all()
    return [
        ListenerMetrics(
            loadbalancer_id=stats.loadbalancer_id,
            listener_id=stats.listener_id,
            project_id=project_id,
            bytes_in=stats.bytes_in,
            bytes_out=stats.bytes_out,
            active_connections=stats.active_connections,
            total_connections=stats.total_connections,
            request_errors=stats.request_errors,
            rejected=rejected.get(stats.listener_id, {}),
        )
        for stats, project_id in rows
    ]

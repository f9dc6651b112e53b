"""Counters of one appliance per listener (appliance_listener_stats), as Octavia's amphora
stats: every listener of its load balancer, zeros until the appliance has reported one."""

from sqlalchemy import select
from sqlalchemy.orm import Session

from steelyard.db import models as m
from steelyard.model.amphora_stats import AmphoraListenerStats
from steelyard.model.faults import NotFound


def amphora_stats(session: Session, amphora_id: str) -> list[AmphoraListenerStats]:
    appliance = session.get(m.Appliance, amphora_id)
    if appliance is None:
        raise NotFound("Amphora", amphora_id)
    lb_id = appliance.loadbalancer_id
    if lb_id is None:  # a spare serves nothing yet
        return []
    s = m.ApplianceListenerStats
    counted = {
        row.listener_id: row
        for row in session.scalars(select(s).where(s.appliance_id == appliance.id))
    }
    listeners = session.scalars(
        select(m.Listener.id).where(m.Listener.loadbalancer_id == lb_id).order_by(m.Listener.id)
    )
    found = []
    for listener_id in listeners:
        row = counted.get(listener_id)
        found.append(
            AmphoraListenerStats(
                id=appliance.id,
                loadbalancer_id=lb_id,
                listener_id=listener_id,
                active_connections=row.active_connections if row else 0,
                bytes_in=row.bytes_in if row else 0,
                bytes_out=row.bytes_out if row else 0,
                request_errors=row.request_errors if row else 0,
                total_connections=row.total_connections if row else 0,
            )
        )
    return found

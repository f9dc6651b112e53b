"""Appliances as Octavia amphorae: list and show for operators."""

from collections.abc import Sequence

from sqlalchemy.orm import Session

from steelyard.db import models as m
from steelyard.db.listing import list_page
from steelyard.model.amphora import AMPHORA_STATUS, Amphora
from steelyard.model.faults import NotFound
from steelyard.model.listing import ListQuery

FILTERABLE = ("id", "loadbalancer_id", "role", "status", "host", "name", "vrrp_ip")


def _vrrp_id(lb_id: str | None) -> int | None:
    # the same derivation as the reconciler's keepalived instances
    return int(lb_id.replace("-", "")[:8], 16) % 255 + 1 if lb_id else None


def amphora_view(row: m.Appliance, vip_port_id: str | None = None) -> Amphora:
    return Amphora(
        id=row.id,
        loadbalancer_id=row.loadbalancer_id,
        compute_id=row.netns,
        lb_network_ip=row.agent_address,
        vrrp_ip=row.vrrp_ip,
        ha_ip=row.vip_address or None,
        vrrp_port_id=None,
        ha_port_id=vip_port_id,
        cert_expiration=row.agent_cert_not_after,
        cert_busy=False,
        role=row.role,
        status=AMPHORA_STATUS.get(row.status, row.status),
        vrrp_interface="eth0" if row.vrrp_ip else None,
        vrrp_id=_vrrp_id(row.loadbalancer_id) if row.vrrp_ip else None,
        vrrp_priority=row.vrrp_priority,
        cached_zone=row.availability_zone,
        created_at=row.created_at,
        updated_at=row.updated_at,
        image_id=None,
        compute_flavor=None,
        name=row.name,
        host=row.host,
        last_heartbeat_at=row.last_heartbeat_at,
        failed_reason=row.failed_reason,
        agent_version=row.agent_version,
        haproxy_version=row.haproxy_version,
    )


def _views(session: Session, rows: Sequence[m.Appliance]) -> list[Amphora]:
    ports = {
        lb.id: lb.vip_port_id
        for lb in (
            session.get(m.LoadBalancer, r.loadbalancer_id) for r in rows if r.loadbalancer_id
        )
        if lb is not None
    }
    return [amphora_view(r, ports.get(r.loadbalancer_id or "")) for r in rows]


def list_amphorae(session: Session, query: ListQuery) -> list[Amphora]:
    return _views(session, list_page(session, m.Appliance, query, FILTERABLE))


def get_amphora(session: Session, amphora_id: str) -> Amphora:
    row = session.get(m.Appliance, amphora_id)
    if row is None:
        raise NotFound("Amphora", amphora_id)
    return _views(session, [row])[0]

"""Appliances as Octavia amphorae, for operators: list, show, push the configuration again,
delete a failed one."""

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from sqlalchemy.orm import Session

from steelyard.db import models as m
from steelyard.db.appliances import FAILED, READY
from steelyard.db.events import record_event
from steelyard.db.listing import list_page
from steelyard.db.operating import request_resync
from steelyard.db.repair import request_operator_resync
from steelyard.model.amphora import AMPHORA_STATUS, Amphora, appliance_statuses
from steelyard.model.faults import Conflict, Immutable, NotFound
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


def amphora_filters(query: ListQuery) -> ListQuery:
    """`status` filters name amphora statuses (ERROR, PENDING_DELETE): the appliance statuses
    they stand for are looked for."""
    filters = tuple(
        (name, tuple(s for value in values for s in appliance_statuses(value)))
        if name == "status"
        else (name, values)
        for name, values in query.filters
    )
    return replace(query, filters=filters)


def list_amphorae(session: Session, query: ListQuery) -> list[Amphora]:
    return _views(session, list_page(session, m.Appliance, amphora_filters(query), FILTERABLE))


def get_amphora(session: Session, amphora_id: str) -> Amphora:
    row = session.get(m.Appliance, amphora_id)
    if row is None:
        raise NotFound("Amphora", amphora_id)
    return _views(session, [row])[0]


def _existing(session: Session, amphora_id: str) -> m.Appliance:
    row = session.get(m.Appliance, amphora_id)
    if row is None or row.status == "DELETED":
        raise NotFound("Amphora", amphora_id)
    return row


def request_config_push(session: Session, amphora_id: str, now: datetime) -> str:
    """Octavia's "update the amphora agent configuration": here the operator's resync of the
    appliance's load balancer (db/repair.py), which ensures each of its appliances again
    (namespace, address, agent, heartbeat targets) and pushes its configuration. Returns the
    load balancer to wake."""
    row = _existing(session, amphora_id)
    if row.loadbalancer_id is None:
        raise Conflict(f"Amphora {amphora_id} serves no load balancer: it has no configuration.")
    return request_operator_resync(session, row.loadbalancer_id, now).loadbalancer_id


def delete_amphora(session: Session, amphora_id: str, now: datetime) -> str | None:
    """Octavia deletes only amphorae in ERROR (409 otherwise). Here: a failed appliance (the
    reconciler removes it now and replaces it if it served a load balancer) and also a READY
    spare (the spare pool removes it and, below its size, builds another). Returns the load
    balancer to wake, if any."""
    row = _existing(session, amphora_id)
    if row.status not in (FAILED, "ERROR", READY):
        raise Immutable("Amphora", amphora_id)
    if row.status == READY:
        row.status, row.failed_at, row.failed_reason = FAILED, now, "deleted by an operator"
        row.updated_at = now
    lb_id = row.loadbalancer_id
    if lb_id is not None:
        request_resync(session, lb_id)
    record_event(
        session,
        type="appliance.delete_requested",
        severity="info",
        message=f"spare appliance {row.id}: removal requested by an operator"
        if lb_id is None
        else f"load balancer {lb_id}: removal of a failed appliance requested by an operator",
        loadbalancer_id=lb_id,
        details={"amphora_id": row.id},
        now=now,
    )
    return lb_id

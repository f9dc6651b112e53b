"""Appliance rows: the reconciler's bookkeeping of which appliances serve a load balancer, the
spare pool, own addresses on VIP networks, and the marks that ask for a replacement.

Every change is written (and committed by the caller) before the data plane is touched, so a
crash leaves a row that the next reconcile finds and finishes (BOOTING) or removes.
"""

from collections.abc import Collection, Iterable, Mapping
from datetime import UTC, datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from steelyard.db import models as m
from steelyard.db.events import record_event
from steelyard.model.faults import Conflict, NotFound
from steelyard.network import ipam

BOOTING, READY, ALLOCATED, RETIRING, FAILED = "BOOTING", "READY", "ALLOCATED", "RETIRING", "FAILED"


def addresses_in_use(session: Session, subnet: m.Subnet) -> list[str]:
    """Every address of `subnet` that is taken: load balancer VIPs, appliances' own addresses,
    the network's router."""
    lbs = select(m.LoadBalancer.id).where(m.LoadBalancer.vip_subnet_id == subnet.id)
    vips = session.scalars(
        select(m.LoadBalancer.vip_address).where(m.LoadBalancer.vip_subnet_id == subnet.id)
    )
    own = session.scalars(
        select(m.Appliance.vrrp_ip).where(
            m.Appliance.loadbalancer_id.in_(lbs.scalar_subquery()), m.Appliance.vrrp_ip.is_not(None)
        )
    )
    network = session.get_one(m.Network, subnet.network_id)
    router = [network.router_ip] if network.router_ip else []
    return [*vips, *(a for a in own if a), *router]


def _allocate(session: Session, subnet: m.Subnet) -> str:
    return ipam.allocate(
        subnet.cidr, gateway=subnet.gateway_ip, used=addresses_in_use(session, subnet)
    )


def ensure_own_address(session: Session, name: str) -> str:
    """The appliance's own address on its load balancer's VIP subnet, allocated once."""
    row = session.scalars(select(m.Appliance).where(m.Appliance.name == name)).one()
    if row.vrrp_ip is None:
        lb = session.get_one(m.LoadBalancer, row.loadbalancer_id)
        row.vrrp_ip = _allocate(session, session.get_one(m.Subnet, lb.vip_subnet_id))
        session.flush()
    return row.vrrp_ip


def ensure_router_address(session: Session, subnet_id: str) -> str:
    """The ECMP router's address on the subnet's network, allocated once."""
    subnet = session.get_one(m.Subnet, subnet_id)
    network = session.get_one(m.Network, subnet.network_id)
    if network.router_ip is None:
        network.router_ip = _allocate(session, subnet)
        session.flush()
    return network.router_ip


def claim_spare(
    session: Session,
    lb_id: str,
    slot: int,
    role: str,
    zone: str | None,
    now: datetime,
    hosts: Collection[str] | None = None,
) -> m.Appliance | None:
    """Give a READY spare (of the zone, if one is asked for, and on one of `hosts`, where the
    load balancer's appliances may go) to the load balancer."""
    query = select(m.Appliance).where(
        m.Appliance.status == READY, m.Appliance.loadbalancer_id.is_(None)
    )
    if hosts is not None:
        query = query.where(m.Appliance.host.in_(hosts))
    if zone is not None:
        query = query.where(m.Appliance.availability_zone == zone)
    spare = session.scalars(query.order_by(m.Appliance.created_at).limit(1)).first()
    if spare is None:
        return None
    spare.loadbalancer_id, spare.slot, spare.role = lb_id, slot, role
    spare.status, spare.updated_at = BOOTING, now
    session.flush()
    return spare


def add_appliance(
    session: Session,
    *,
    new_id: str,
    name: str,
    lb_id: str | None,
    slot: int,
    role: str,
    host: str,
    compute_driver: str,
    zone: str | None,
    now: datetime,
) -> m.Appliance:
    """A BOOTING row for an appliance about to be built (a spare when `lb_id` is None)."""
    row = m.Appliance(
        id=new_id,
        loadbalancer_id=lb_id,
        name=name,
        slot=slot,
        role=role,
        status=BOOTING,
        compute_driver=compute_driver,
        netns=None,
        host=host,
        vip_address="",
        availability_zone=zone,
        created_at=now,
    )
    session.add(row)
    session.flush()
    return row


def set_placed(session: Session, name: str, netns: str | None, vip: str, now: datetime) -> None:
    session.execute(
        update(m.Appliance)
        .where(m.Appliance.name == name)
        .values(netns=netns, vip_address=vip, updated_at=now)
    )


def record_agent(
    session: Session,
    name: str,
    *,
    agent_version: str,
    haproxy_version: str,
    agent_address: str | None,
    cert_not_after: datetime | None,
) -> None:
    """What the appliance's agent reported at its placement (the amphora API and the operator
    views show it)."""
    session.execute(
        update(m.Appliance)
        .where(m.Appliance.name == name)
        .values(
            agent_version=agent_version[:64],
            haproxy_version=haproxy_version[:64],
            agent_address=agent_address,
            agent_cert_not_after=_naive_utc(cert_not_after),
        )
    )


def _naive_utc(value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is None:
        return value
    return value.astimezone(UTC).replace(tzinfo=None)


def set_serving(session: Session, names: Iterable[str], roles: Mapping[str, str]) -> None:
    """BOOTING appliances that took their config are ALLOCATED; roles as planned."""
    for name in names:
        row = session.scalars(select(m.Appliance).where(m.Appliance.name == name)).first()
        if row is None:
            continue
        if row.status == BOOTING:
            row.status = ALLOCATED
        if name in roles:
            row.role = roles[name]


def spare_ready(session: Session, name: str, now: datetime) -> None:
    session.execute(
        update(m.Appliance)
        .where(m.Appliance.name == name, m.Appliance.status == BOOTING)
        .values(status=READY, updated_at=now)
    )


def remove_appliance(session: Session, name: str) -> None:
    row = session.scalars(select(m.Appliance).where(m.Appliance.name == name)).first()
    if row is not None:
        session.delete(row)


def spares(session: Session) -> list[m.Appliance]:
    """Spare appliances (READY, or BOOTING without a load balancer), oldest first."""
    return list(
        session.scalars(
            select(m.Appliance)
            .where(m.Appliance.loadbalancer_id.is_(None), m.Appliance.status.in_((READY, BOOTING)))
            .order_by(m.Appliance.created_at)
        )
    )


def failed_spares(session: Session) -> list[str]:
    return list(
        session.scalars(
            select(m.Appliance.name).where(
                m.Appliance.loadbalancer_id.is_(None), m.Appliance.status == FAILED
            )
        )
    )


def appliances_per_host(session: Session) -> dict[str, int]:
    rows = session.execute(select(m.Appliance.host, func.count()).group_by(m.Appliance.host)).all()
    return {host: count for host, count in rows}


def _bump(lb: m.LoadBalancer, now: datetime) -> None:
    lb.desired_generation += 1
    lb.updated_at = now


def request_failover(
    session: Session,
    lb_id: str,
    *,
    reason: str,
    now: datetime,
    project_id: str | None = None,
) -> list[str]:
    """Every appliance of the load balancer is to be replaced, without a dropped request where
    the topology allows (ACTIVE_STANDBY: the BACKUP first, then a graceful handover)."""
    lb = session.get(m.LoadBalancer, lb_id)
    if lb is None or (project_id is not None and lb.project_id != project_id):
        raise NotFound("Load Balancer", lb_id)
    if lb.deleting:
        raise Conflict(f"Invalid state PENDING_DELETE of loadbalancer resource {lb_id}")
    rows = session.scalars(
        select(m.Appliance).where(
            m.Appliance.loadbalancer_id == lb_id, m.Appliance.status.in_((ALLOCATED, BOOTING))
        )
    ).all()
    for row in rows:
        row.status, row.updated_at = RETIRING, now
    _failover_bookkeeping(session, lb, reason, [r.name for r in rows], now)
    return [r.name for r in rows]


def request_appliance_failover(
    session: Session, appliance_id: str, *, reason: str, now: datetime
) -> str | None:
    """One appliance is to be replaced; returns its load balancer (None for a spare)."""
    row = session.get(m.Appliance, appliance_id)
    if row is None or row.status in (FAILED, "DELETED"):
        raise NotFound("Amphora", appliance_id)
    if row.loadbalancer_id is None:
        row.status, row.failed_at, row.failed_reason = FAILED, now, reason
        return None
    lb = session.get_one(m.LoadBalancer, row.loadbalancer_id)
    if lb.deleting:
        raise Conflict(f"Invalid state PENDING_DELETE of loadbalancer resource {lb.id}")
    row.status, row.updated_at = RETIRING, now
    _failover_bookkeeping(session, lb, reason, [row.name], now)
    return lb.id


def _failover_bookkeeping(
    session: Session, lb: m.LoadBalancer, reason: str, names: list[str], now: datetime
) -> None:
    _bump(lb, now)
    lb.provisioning_status = "PENDING_UPDATE"
    record_event(
        session,
        type="loadbalancer.failover",
        severity="info",
        message=f"load balancer {lb.id}: failover of {', '.join(names) or 'no appliance'} "
        f"requested ({reason})",
        loadbalancer_id=lb.id,
        details={"appliances": names, "reason": reason},
        now=now,
    )


def routed_vips(session: Session, network_id: str) -> dict[str, list[str]]:
    """The ACTIVE_ACTIVE VIPs of a network, each with its serving appliances' own addresses
    (what the network's router must route after it was rebuilt)."""
    lbs = session.scalars(
        select(m.LoadBalancer).where(
            m.LoadBalancer.vip_network_id == network_id,
            m.LoadBalancer.topology == "ACTIVE_ACTIVE",
            m.LoadBalancer.deleting.is_(False),
        )
    ).all()
    routed: dict[str, list[str]] = {}
    for lb in lbs:
        own = session.scalars(
            select(m.Appliance.vrrp_ip).where(
                m.Appliance.loadbalancer_id == lb.id,
                m.Appliance.status.in_((ALLOCATED, RETIRING)),
                m.Appliance.applied_generation > 0,
                m.Appliance.vrrp_ip.is_not(None),
            )
        )
        routed[lb.vip_address] = [a for a in own if a]
    return routed

"""Operator repair actions on a load balancer: failover, resync, migrate, resize.

Each is a database write the reconciler then carries out, like any tenant change: the
generation is bumped, appliances to replace are marked RETIRING (the planner replaces them one
at a time, a pair's BACKUP first and its MASTER handed over), and a repair request row
remembers the generation that completes it. `complete_repairs` (called by the reconciler when
a generation is applied) writes the completion event.

- failover   every appliance replaced where it may go
- resync     every appliance re-ensured and its config pushed again from the database (as
             after an appliance restart: `db.operating.request_resync`)
- migrate    another availability zone and/or host: the zone is the load balancer's from now
             on, the host is where its new appliances go while it can take them
- resize     another flavor of the same topology: HAProxy's threads (and the compute size)
             change what an appliance is, so its appliances are replaced one at a time
"""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from steelyard.db import models as m
from steelyard.db.access import Written
from steelyard.db.appliances import ALLOCATED, BOOTING, RETIRING, request_failover
from steelyard.db.events import record_event
from steelyard.db.flavors import placement
from steelyard.db.hosts import (
    check_group_has_room,
    check_target_host,
    pin_host,
    pinned_host,
    zone_host_group,
)
from steelyard.db.operating import request_resync
from steelyard.model.enums import Topology
from steelyard.model.faults import BadRequest, Conflict, NotFound, echo
from steelyard.model.provider import ApplianceFlavor, parse_flavor_data
from steelyard.model.repair import RepairAction, RepairOut


def _live(session: Session, lb_id: str) -> m.LoadBalancer:
    lb = session.get(m.LoadBalancer, lb_id, with_for_update=True)
    if lb is None:
        raise NotFound("Load Balancer", lb_id)
    if lb.deleting:
        raise Conflict(f"Invalid state PENDING_DELETE of loadbalancer resource {lb_id}")
    return lb


def _record(
    session: Session,
    lb: m.LoadBalancer,
    action: RepairAction,
    appliances: list[str],
    now: datetime,
    details: dict[str, Any] | None = None,
    announce: bool = True,
) -> Written[RepairOut]:
    """The request row and (unless the caller wrote one) its event; the generation was
    bumped by the caller."""
    ident = str(uuid.uuid4())
    session.add(
        m.RepairRequest(
            id=ident,
            loadbalancer_id=lb.id,
            action=action,
            generation=lb.desired_generation,
            details={"appliances": appliances, **(details or {})},
            created_at=now,
        )
    )
    if announce:
        record_event(
            session,
            type=f"loadbalancer.{action}",
            severity="info",
            message=f"load balancer {lb.id}: operator {action} requested",
            loadbalancer_id=lb.id,
            # the tenant may read it too: no hosts here
            details={"repair_id": ident, **_tenant_visible(details)},
            now=now,
        )
    session.flush()
    out = RepairOut(
        id=ident,
        loadbalancer_id=lb.id,
        action=action,
        generation=lb.desired_generation,
        appliances=appliances,
        created_at=now,
    )
    return Written(out, lb.id)


def _tenant_visible(details: dict[str, Any] | None) -> dict[str, Any]:
    shown = ("availability_zone", "flavor_id")
    return {k: v for k, v in (details or {}).items() if k in shown}


def _bump(lb: m.LoadBalancer, now: datetime) -> None:
    lb.desired_generation += 1
    lb.provisioning_status, lb.updated_at = "PENDING_UPDATE", now


def request_loadbalancer_failover(
    session: Session, lb_id: str, now: datetime
) -> Written[RepairOut]:
    lb = _live(session, lb_id)
    # marks every serving appliance RETIRING, bumps the generation, and says so in an event
    names = request_failover(session, lb.id, reason="operator failover", now=now)
    return _record(session, lb, "failover", names, now, announce=False)


def request_operator_resync(session: Session, lb_id: str, now: datetime) -> Written[RepairOut]:
    lb = _live(session, lb_id)
    _bump(lb, now)
    # applied generation 0: the reconciler ensures every appliance again instead of trusting
    # its cache, and the agent rewrites a config file that differs from (or is missing on) it
    request_resync(session, lb_id)
    return _record(session, lb, "resync", [], now)


def request_migrate(
    session: Session, lb_id: str, zone: str | None, host: str | None, now: datetime
) -> Written[RepairOut]:
    lb = _live(session, lb_id)
    if zone is not None:
        # the zone exists, is enabled and belongs to the load balancer's provider (400s)
        placement(session, None, lb.provider, zone, Topology(lb.topology))
    group = zone_host_group(session, zone if zone is not None else lb.availability_zone)
    if host is not None:
        check_target_host(session, host, group)
    else:
        check_group_has_room(session, group)
    on = set(
        session.scalars(
            select(m.Appliance.host).where(
                m.Appliance.loadbalancer_id == lb_id,
                m.Appliance.status.in_((ALLOCATED, BOOTING, RETIRING)),
            )
        )
    )
    same_zone = zone is None or zone == lb.availability_zone
    same_host = host is None or on == {host} or (not on and pinned_host(session, lb_id) == host)
    if same_zone and same_host:
        target = f"availability zone {echo(zone)}" if host is None else f"host {host}"
        raise Conflict(f"Load Balancer {lb_id} is already in {target}.")
    if zone is not None:
        lb.availability_zone = zone
    pin_host(session, lb_id, host)  # a zone alone: wherever the zone's hosts have room
    names = request_failover(session, lb.id, reason="operator migration", now=now)
    details = {"availability_zone": zone, "host": host}
    return _record(session, lb, "migrate", names, now, details)


def _flavor_data(session: Session, flavor_id: str | None) -> ApplianceFlavor:
    flavor = session.get(m.Flavor, flavor_id) if flavor_id is not None else None
    if flavor is None:
        return ApplianceFlavor()
    profile = session.get_one(m.FlavorProfile, flavor.flavor_profile_id)
    return parse_flavor_data(profile.provider_name, profile.flavor_data)


def request_resize(
    session: Session, lb_id: str, flavor_id: str, now: datetime
) -> Written[RepairOut]:
    lb = _live(session, lb_id)
    if flavor_id == lb.flavor_id:
        raise Conflict(f"Load Balancer {lb_id} already has flavor {flavor_id}.")
    # the flavor exists, is enabled and belongs to the load balancer's provider (400s); one
    # that names no topology keeps the load balancer's
    shape = placement(session, flavor_id, lb.provider, None, Topology(lb.topology)).shape
    if shape.topology.value != lb.topology:
        raise BadRequest(
            f"Flavor {flavor_id} has topology {shape.topology.value}; load balancer {lb_id} is "
            f"{lb.topology}. A resize keeps the topology: create a new load balancer to change it."
        )
    old, new = _flavor_data(session, lb.flavor_id), _flavor_data(session, flavor_id)
    lb.flavor_id = flavor_id
    if new.appliance_count is not None:  # ACTIVE_ACTIVE: the planner adds or removes the rest
        lb.appliance_count = new.appliance_count
    names: list[str] = []
    if (old.haproxy_threads, old.compute_flavor) != (new.haproxy_threads, new.compute_flavor):
        names = request_failover(session, lb.id, reason=f"resize to flavor {flavor_id}", now=now)
    else:
        _bump(lb, now)
    return _record(session, lb, "resize", names, now, {"flavor_id": flavor_id})


def haproxy_threads(session: Session, lb: m.LoadBalancer) -> int | None:
    """HAProxy threads the load balancer's flavor asks for (None: the server's setting). A
    profile cannot change while a flavor uses it, so this is what the flavor said when the
    load balancer took it."""
    try:
        return _flavor_data(session, lb.flavor_id).haproxy_threads
    except BadRequest:  # the provider's rules changed since: the server's setting applies
        return None


def complete_repairs(session: Session, lb_id: str, generation: int, now: datetime) -> None:
    """The requests that `generation` being applied completes: each gets its event."""
    done = session.scalars(
        select(m.RepairRequest).where(
            m.RepairRequest.loadbalancer_id == lb_id,
            m.RepairRequest.completed_at.is_(None),
            m.RepairRequest.generation <= generation,
        )
    ).all()
    for request in done:
        request.completed_at = now
        seconds = (now - request.created_at).total_seconds()
        record_event(
            session,
            type=f"loadbalancer.{request.action}.completed",
            severity="info",
            message=f"load balancer {lb_id}: operator {request.action} done in {seconds:.1f} s",
            loadbalancer_id=lb_id,
            details={"repair_id": request.id, "seconds": round(seconds, 3)},
            now=now,
        )


def forget_loadbalancer(session: Session, lb_id: str) -> None:
    """A deleted load balancer's pin and repair requests go with it (its events stay)."""
    session.execute(delete(m.LoadBalancerHost).where(m.LoadBalancerHost.loadbalancer_id == lb_id))
    session.execute(delete(m.RepairRequest).where(m.RepairRequest.loadbalancer_id == lb_id))

"""Hosts: where appliances are placed, their capacity and state, and draining one.

The server declares its hosts at every start (`sync_hosts`); a host that is no longer declared
but still holds appliances stays as UNDECLARED (no new appliance goes there; drain it to move
them). Placement (`placement_candidates`) takes the accepting hosts with room, of the load
balancer's zone's host group, and the host an operator migrated it to while that one can take
it; the reconciler then picks among them apart from the load balancer's other appliances
(controller/topology.py).
"""

from collections import Counter
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from steelyard.db import models as m
from steelyard.db.access import WrittenMany
from steelyard.db.appliances import (
    ALLOCATED,
    BOOTING,
    READY,
    appliances_per_host,
    request_appliance_failover,
)
from steelyard.db.events import record_event
from steelyard.db.listing import list_page
from steelyard.model.faults import BadRequest, Conflict, NotFound, echo
from steelyard.model.listing import ListQuery
from steelyard.model.placement import HostSpace, eligible_hosts
from steelyard.model.provider import parse_zone_data
from steelyard.model.repair import HostDeclaration, HostOut

ACTIVE, DRAINING, UNDECLARED = "ACTIVE", "DRAINING", "UNDECLARED"
ATTRIBUTES = ("id", "name", "state", "capacity", "host_group")


def sync_hosts(session: Session, declared: Sequence[HostDeclaration], now: datetime) -> None:
    """Make the table match the hosts this server declares. A draining host stays draining
    across restarts; hosts that appliances name but nobody declares any more are kept as
    UNDECLARED while they hold appliances."""
    rows = {row.name: row for row in session.scalars(select(m.Host))}
    for host in declared:
        row = rows.get(host.name)
        if row is None:
            row = m.Host(name=host.name, state=ACTIVE, created_at=now)
            session.add(row)
        elif row.state == UNDECLARED:
            row.state, row.updated_at = ACTIVE, now
        if (row.capacity, row.host_group) != (host.capacity, host.host_group):
            row.capacity, row.host_group, row.updated_at = host.capacity, host.host_group, now
    names = {host.name for host in declared}
    used = set(session.scalars(select(m.Appliance.host).distinct()))
    for name in used - names - set(rows):
        session.add(m.Host(name=name, state=UNDECLARED, created_at=now))
    for name, row in rows.items():
        if name in names:
            continue
        if name in used:
            if row.state != UNDECLARED:
                row.state, row.updated_at = UNDECLARED, now
        else:
            session.delete(row)
    session.flush()


def zone_host_group(session: Session, zone: str | None) -> str | None:
    """The host group an availability zone's profile names (None: any host)."""
    row = session.get(m.AvailabilityZone, zone) if zone is not None else None
    if row is None:
        return None
    profile = session.get_one(m.AvailabilityZoneProfile, row.availability_zone_profile_id)
    return parse_zone_data(profile.provider_name, profile.availability_zone_data).host_group


def _spaces(session: Session) -> list[HostSpace]:
    return [
        HostSpace(row.name, row.capacity, row.state == ACTIVE, row.host_group)
        for row in session.scalars(select(m.Host).order_by(m.Host.name))
    ]


def placement_candidates(
    session: Session, lb_id: str | None, zone: str | None, undeclared: str
) -> list[str]:
    """Hosts a new appliance of the load balancer (a spare: `lb_id` None) may go to. A
    deployment that declared no host at all places everything on `undeclared`."""
    spaces = _spaces(session)
    if not spaces:
        return [undeclared]
    pin = session.get(m.LoadBalancerHost, lb_id) if lb_id is not None else None
    return eligible_hosts(
        spaces,
        appliances_per_host(session),
        zone_host_group(session, zone),
        pin.host if pin is not None else None,
    )


def pinned_host(session: Session, lb_id: str) -> str | None:
    pin = session.get(m.LoadBalancerHost, lb_id)
    return pin.host if pin is not None else None


def pin_host(session: Session, lb_id: str, host: str | None) -> None:
    """The host an operator migrated the load balancer to (None: wherever placement likes)."""
    session.execute(delete(m.LoadBalancerHost).where(m.LoadBalancerHost.loadbalancer_id == lb_id))
    if host is not None:
        session.add(m.LoadBalancerHost(loadbalancer_id=lb_id, host=host))
    session.flush()


def get_host_row(session: Session, name: str, lock: bool = False) -> m.Host:
    row = session.get(m.Host, name, with_for_update=lock)
    if row is None:
        raise NotFound("Host", name)
    return row


def check_target_host(session: Session, name: str, host_group: str | None) -> None:
    """A host an operator moves appliances to: known, accepting, with room, in the group
    (400 otherwise: the request names a bad target)."""
    row = session.get(m.Host, name)
    if row is None:
        raise BadRequest(f"Host {echo(name)} not found.")
    if row.state != ACTIVE:
        raise BadRequest(f"Host {name} is {row.state} and takes no new appliances.")
    if host_group is not None and row.host_group != host_group:
        raise BadRequest(f"Host {name} is not in host group {host_group}.")
    if name not in eligible_hosts(_spaces(session), appliances_per_host(session)):
        raise BadRequest(f"Host {name} is full (capacity {row.capacity} appliances).")


def check_group_has_room(session: Session, host_group: str | None) -> None:
    if not eligible_hosts(_spaces(session), appliances_per_host(session), host_group):
        where = f"in host group {host_group}" if host_group else "at all"
        raise BadRequest(f"No host {where} can take a new appliance.")


def _out(session: Session, row: m.Host, zones_by_group: dict[str, list[str]]) -> HostOut:
    placed = session.execute(
        select(m.Appliance.loadbalancer_id).where(m.Appliance.host == row.name)
    ).scalars()
    lbs = Counter(placed)
    return HostOut(
        name=row.name,
        id=row.name,
        state=row.state,
        capacity=row.capacity,
        appliances=sum(lbs.values()),
        loadbalancers=len([lb for lb in lbs if lb is not None]),
        host_group=row.host_group,
        availability_zones=zones_by_group.get(row.host_group or "", []),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _zones_by_group(session: Session) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    for zone in session.scalars(select(m.AvailabilityZone).order_by(m.AvailabilityZone.name)):
        group = zone_host_group(session, zone.name)
        if group is not None:
            groups.setdefault(group, []).append(zone.name)
    return groups


def list_hosts(session: Session, query: ListQuery) -> list[HostOut]:
    zones = _zones_by_group(session)
    return [_out(session, row, zones) for row in list_page(session, m.Host, query, ATTRIBUTES)]


def get_host(session: Session, name: str) -> HostOut:
    return _out(session, get_host_row(session, name), _zones_by_group(session))


def drain_host(session: Session, name: str, now: datetime) -> WrittenMany[HostOut]:
    """No new appliance goes to the host, and each of its appliances is replaced elsewhere:
    per load balancer one at a time, a pair's BACKUP first and its MASTER handed over (the
    planner's order), so an ACTIVE_STANDBY load balancer keeps serving. Its spares are
    dropped (the pool builds new ones elsewhere)."""
    row = get_host_row(session, name, lock=True)
    if row.state == DRAINING:
        raise Conflict(f"Host {name} is already DRAINING.")
    others = [s for s in _spaces(session) if s.name != name and s.accepting]
    if not others:
        raise Conflict(f"Host {name} cannot be drained: no other host takes appliances.")
    row.state, row.updated_at = DRAINING, now
    placed = session.scalars(
        select(m.Appliance).where(
            m.Appliance.host == name, m.Appliance.status.in_((ALLOCATED, BOOTING, READY))
        )
    ).all()
    touched = []
    for appliance in placed:
        lb_id = request_appliance_failover(
            session, appliance.id, reason=f"drain of host {name}", now=now
        )
        if lb_id is not None and lb_id not in touched:
            touched.append(lb_id)
    record_event(
        session,
        type="host.draining",
        severity="info",
        message=f"host {name} draining: {len(placed)} appliances of {len(touched)} load "
        "balancers move away",
        details={"host": name, "loadbalancers": touched},
        now=now,
    )
    session.flush()
    return WrittenMany(get_host(session, name), tuple(touched))


def undrain_host(session: Session, name: str, now: datetime) -> WrittenMany[HostOut]:
    """The host takes new appliances again (those that moved away stay where they are)."""
    row = get_host_row(session, name, lock=True)
    if row.state != DRAINING:
        raise Conflict(f"Host {name} is {row.state}, not DRAINING.")
    row.state, row.updated_at = ACTIVE, now
    record_event(
        session,
        type="host.undrained",
        severity="info",
        message=f"host {name} takes new appliances again",
        details={"host": name},
        now=now,
    )
    session.flush()
    return WrittenMany(get_host(session, name), ())

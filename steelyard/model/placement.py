"""Which hosts may take a new appliance (pure): the rule placement, migrations and drains
share. The reconciler then picks one apart from the load balancer's other appliances
(controller/topology.py `pick_host`)."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class HostSpace:
    """A host as placement sees it."""

    name: str
    capacity: int | None  # appliances it may hold; None: no limit
    accepting: bool  # False: draining, or not declared any more
    host_group: str | None = None


def eligible_hosts(
    hosts: Sequence[HostSpace],
    load: Mapping[str, int],
    host_group: str | None = None,
    preferred: str | None = None,
) -> list[str]:
    """Hosts a new appliance may go to: accepting ones with room, of the zone's host group if
    it names one; the preferred host (an operator's migration target) alone while it is one
    of them, so a target that drains or fills up stops binding."""
    fits = [
        h.name
        for h in hosts
        if h.accepting
        and (h.capacity is None or load.get(h.name, 0) < h.capacity)
        and (host_group is None or h.host_group == host_group)
    ]
    return [preferred] if preferred in fits else fits

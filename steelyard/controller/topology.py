"""Which appliances a load balancer needs next, from the ones it has (pure).

One pass of the plan, in order:

    remove_first   FAILED appliances: dead, so nothing hands over; they go before anything is
                   added (a dead SINGLE appliance may still hold the VIP on its link)
    handover       a RETIRING MASTER releases the VIP to its BACKUP before it is replaced
    add            slots to fill, each from the spare pool or built (new appliances start as
                   BACKUP in ACTIVE_STANDBY; the first of a new load balancer starts as MASTER)
    remove_after   the RETIRING appliance replaced in this pass, removed once the rest serve

At most one RETIRING appliance (an operator's failover, a migration) is replaced per pass, the
BACKUP before the MASTER, so an ACTIVE_STANDBY pair always keeps one serving appliance. The
reconciler runs passes until `done`.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from steelyard.model.enums import ApplianceRole as Role
from steelyard.model.enums import ApplianceStatus as Status
from steelyard.model.enums import Topology

SERVING = frozenset({Status.BOOTING, Status.ALLOCATED, Status.RETIRING})


def appliance_count(topology: Topology, requested: int) -> int:
    if topology is Topology.SINGLE:
        return 1
    if topology is Topology.ACTIVE_STANDBY:
        return 2
    return max(requested, 2)


@dataclass(frozen=True)
class Current:
    name: str
    slot: int
    status: Status
    role: Role
    host: str = ""


@dataclass(frozen=True)
class NewAppliance:
    slot: int
    role: Role
    avoid_hosts: frozenset[str] = frozenset()  # anti-affinity: hosts of the other appliances


@dataclass(frozen=True)
class Pass:
    remove_first: tuple[str, ...] = ()
    handover: str | None = None
    add: tuple[NewAppliance, ...] = ()
    remove_after: tuple[str, ...] = ()
    # the role of every appliance that serves after this pass, new ones by slot
    roles: Mapping[str, Role] = field(default_factory=dict)

    @property
    def changes_appliances(self) -> bool:
        return bool(self.remove_first or self.handover or self.add or self.remove_after)


def _role_of_new(topology: Topology, has_master: bool) -> Role:
    if topology is Topology.SINGLE:
        return Role.STANDALONE
    if topology is Topology.ACTIVE_ACTIVE:
        return Role.ACTIVE
    return Role.BACKUP if has_master else Role.MASTER


def _master(topology: Topology, serving: Sequence[Current]) -> str | None:
    """The appliance that holds the VIP: the one reported MASTER (the lowest slot if, during a
    split, several are), else the lowest slot."""
    if topology is not Topology.ACTIVE_STANDBY or not serving:
        return None
    reported = [a for a in serving if a.role is Role.MASTER]
    return min(reported or serving, key=lambda a: a.slot).name


def plan_pass(topology: Topology, count: int, appliances: Sequence[Current]) -> Pass:
    """The next pass for a load balancer of `topology` that needs `count` appliances."""
    serving = sorted((a for a in appliances if a.status in SERVING), key=lambda a: a.slot)
    gone = [a for a in appliances if a.status is Status.FAILED]
    if topology is Topology.SINGLE:
        # Nothing can take over a single appliance's VIP while it still holds it.
        gone += [a for a in serving if a.status is Status.RETIRING]
        serving = [a for a in serving if a.status is not Status.RETIRING]
    master = _master(topology, serving)

    # One RETIRING appliance per pass, and only while another appliance serves without it.
    keepers = [a for a in serving if a.status is not Status.RETIRING]
    retiring = [a for a in serving if a.status is Status.RETIRING]
    replaced: Current | None = None
    handover: str | None = None
    if retiring and keepers:
        replaced = min(retiring, key=lambda a: (a.name == master, a.slot))
        if replaced.name == master:
            handover, master = master, keepers[0].name

    staying = [a for a in serving if a is not replaced]
    # When every appliance is retiring, one more is added first (a surge) to take over.
    target = count + 1 if retiring and not keepers else count
    # A surplus (count lowered, or a leftover of an interrupted pass) leaves, highest slot first.
    by_leaving = sorted(staying, key=lambda a: (a.status is not Status.RETIRING, -a.slot))
    extra = by_leaving[: max(0, len(staying) - target)]
    staying = [a for a in staying if a not in extra]

    roles: dict[str, Role] = {}
    for a in staying:
        if topology is Topology.ACTIVE_STANDBY:
            roles[a.name] = Role.MASTER if a.name == master else Role.BACKUP
        else:
            roles[a.name] = _role_of_new(topology, False)

    next_slot = max((a.slot for a in appliances), default=-1) + 1
    hosts = frozenset(a.host for a in staying if a.host)
    adds: list[NewAppliance] = []
    has_master = Role.MASTER in roles.values()
    for offset in range(target - len(staying)):
        role = _role_of_new(topology, has_master)
        has_master = has_master or role is Role.MASTER
        adds.append(NewAppliance(slot=next_slot + offset, role=role, avoid_hosts=hosts))
    after = tuple(a.name for a in extra) + ((replaced.name,) if replaced else ())
    return Pass(
        remove_first=tuple(sorted(a.name for a in gone)),
        handover=handover,
        add=tuple(adds),
        remove_after=after,
        roles=roles,
    )


def pick_host(candidates: Sequence[str], avoid: frozenset[str], load: Mapping[str, int]) -> str:
    """Among the hosts that may take the appliance (model/placement.py `eligible_hosts`:
    accepting, with room, of the zone's group), anti-affinity: a host none of the load
    balancer's other appliances is on, if there is one; among those (or all, if every host is
    taken) the least loaded, then by name."""
    if not candidates:
        raise ValueError(
            "no host can take an appliance (every host is draining, full, or outside the "
            "availability zone's host group)"
        )
    apart = [h for h in candidates if h not in avoid] or list(candidates)
    return min(apart, key=lambda h: (load.get(h, 0), h))

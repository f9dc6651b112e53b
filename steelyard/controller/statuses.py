"""Operating statuses from HAProxy's own view (pure), with Octavia's meanings:

member: ONLINE (check passes), ERROR (check fails), DRAINING (weight 0 or drain),
OFFLINE (admin down), NO_MONITOR (no health monitor); pool: ERROR when every member is in
ERROR, DEGRADED when some are; listener: ONLINE, DEGRADED when its pool is degraded or
failed, OFFLINE when admin down; load balancer: DEGRADED when any listener or pool is not
healthy (ERROR is kept for an appliance that cannot be reached, which the poller decides).
"""

from dataclasses import dataclass

from steelyard.agent.contract import StatRow
from steelyard.db.operating import ObservedStatuses
from steelyard.model.enums import OperatingStatus as Op
from steelyard.model.spec import LoadBalancerSpec, MemberSpec, PoolSpec


@dataclass(frozen=True)
class ListenerCounters:
    bytes_in: int
    bytes_out: int
    active_connections: int
    total_connections: int
    request_errors: int


def member_status(member: MemberSpec, pool: PoolSpec, row: StatRow | None) -> Op:
    if not member.admin_state_up or not pool.admin_state_up:
        return Op.OFFLINE
    if row is None:
        return Op.OFFLINE
    state = row.status.upper()
    if state.startswith("MAINT"):
        return Op.OFFLINE
    if state == "DRAIN" or state.startswith("NOLB") or member.weight == 0:
        return Op.DRAINING
    monitored = pool.healthmonitor is not None and pool.healthmonitor.admin_state_up
    if not monitored or state == "NO CHECK":
        return Op.NO_MONITOR
    if state.startswith("UP"):
        return Op.ONLINE
    return Op.ERROR


def pool_status(pool: PoolSpec, members: dict[str, Op]) -> Op:
    if not pool.admin_state_up:
        return Op.OFFLINE
    states = [members[mb.id] for mb in pool.members if mb.admin_state_up]
    if states and all(s == Op.ERROR for s in states):
        return Op.ERROR
    if any(s == Op.ERROR for s in states):
        return Op.DEGRADED
    return Op.ONLINE


_RANK = {Op.ONLINE: 0, Op.NO_MONITOR: 0, Op.DRAINING: 0, Op.OFFLINE: 0, Op.DEGRADED: 1, Op.ERROR: 2}


def observe(
    spec: LoadBalancerSpec, rows: list[StatRow]
) -> tuple[ObservedStatuses, dict[str, ListenerCounters]]:
    """Statuses of every object of `spec`, and the counters of each listener's frontend."""
    by_key = {(r.pxname, r.svname): r for r in rows}
    members: dict[str, Op] = {}
    pools: dict[str, Op] = {}
    monitors: dict[str, Op] = {}
    for pool in spec.pools:
        for mb in pool.members:
            members[mb.id] = member_status(mb, pool, by_key.get((pool.id, mb.id)))
        pools[pool.id] = pool_status(pool, members)
        if pool.healthmonitor is not None:
            hm = pool.healthmonitor
            monitors[hm.id] = Op.ONLINE if hm.admin_state_up else Op.OFFLINE
    listeners: dict[str, Op] = {}
    counters: dict[str, ListenerCounters] = {}
    for listener in spec.listeners:
        front = by_key.get((listener.id, "FRONTEND"))
        if front is None or not listener.admin_state_up or not spec.admin_state_up:
            listeners[listener.id] = Op.OFFLINE
        else:
            pool_state = pools.get(listener.default_pool_id or "", Op.ONLINE)
            degraded = _RANK[pool_state] > 0 or front.status.upper() == "FULL"
            listeners[listener.id] = Op.DEGRADED if degraded else Op.ONLINE
        if front is not None:
            counters[listener.id] = ListenerCounters(
                bytes_in=front.bin,
                bytes_out=front.bout,
                active_connections=front.scur,
                total_connections=front.stot,
                request_errors=front.ereq,
            )
    unhealthy = any(_RANK[s] for s in [*pools.values(), *listeners.values()])
    if not spec.admin_state_up:
        lb_status = Op.OFFLINE
    else:
        lb_status = Op.DEGRADED if unhealthy else Op.ONLINE
    return ObservedStatuses(lb_status, listeners, pools, members, monitors), counters

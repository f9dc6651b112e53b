from steelyard.agent.contract import StatRow
from steelyard.controller.statuses import observe
from steelyard.model.enums import (
    HealthMonitorType,
    LBAlgorithm,
    ListenerProtocol,
    OperatingStatus,
    PoolProtocol,
)
from steelyard.model.spec import (
    HealthMonitorSpec,
    ListenerSpec,
    LoadBalancerSpec,
    MemberSpec,
    PoolSpec,
)

LB = "11111111-1111-4111-8111-111111111111"
LISTENER = "22222222-2222-4222-8222-222222222222"
POOL = "33333333-3333-4333-8333-333333333333"
HM = "44444444-4444-4444-8444-444444444444"
M1 = "55555555-5555-4555-8555-555555555551"
M2 = "55555555-5555-4555-8555-555555555552"
M3 = "55555555-5555-4555-8555-555555555553"


def make_spec(*, monitored: bool = True, members: tuple[MemberSpec, ...] = ()) -> LoadBalancerSpec:
    hm = HealthMonitorSpec(HM, HealthMonitorType.HTTP, 1, 1, 1, 1) if monitored else None
    members = members or (
        MemberSpec(M1, "198.18.0.1", 8001),
        MemberSpec(M2, "198.18.0.1", 8002),
        MemberSpec(M3, "198.18.0.1", 8003),
    )
    return LoadBalancerSpec(
        id=LB,
        vip_address="198.18.0.10",
        listeners=(ListenerSpec(LISTENER, ListenerProtocol.HTTP, 80, default_pool_id=POOL),),
        pools=(PoolSpec(POOL, PoolProtocol.HTTP, LBAlgorithm.ROUND_ROBIN, members, hm),),
    )


def rows(*member_states: str, frontend: str = "OPEN") -> list[StatRow]:
    out = [
        StatRow(pxname=LISTENER, svname="FRONTEND", status=frontend, bin=10, bout=20, stot=3),
        StatRow(pxname=POOL, svname="BACKEND", status="UP"),
    ]
    for member, state in zip((M1, M2, M3), member_states, strict=False):
        out.append(StatRow(pxname=POOL, svname=member, status=state))
    return out


def test_all_members_up_is_online_everywhere() -> None:
    statuses, counters = observe(make_spec(), rows("UP", "UP", "UP"))
    assert set(statuses.members.values()) == {OperatingStatus.ONLINE}
    assert statuses.pools[POOL] == OperatingStatus.ONLINE
    assert statuses.listeners[LISTENER] == OperatingStatus.ONLINE
    assert statuses.loadbalancer == OperatingStatus.ONLINE
    assert counters[LISTENER].bytes_in == 10
    assert counters[LISTENER].total_connections == 3


def test_one_member_down_degrades_pool_listener_and_load_balancer() -> None:
    statuses, _ = observe(make_spec(), rows("UP", "DOWN", "UP 1/2"))
    assert statuses.members[M2] == OperatingStatus.ERROR
    assert statuses.members[M3] == OperatingStatus.ONLINE
    assert statuses.pools[POOL] == OperatingStatus.DEGRADED
    assert statuses.listeners[LISTENER] == OperatingStatus.DEGRADED
    assert statuses.loadbalancer == OperatingStatus.DEGRADED


def test_every_member_down_is_pool_error() -> None:
    statuses, _ = observe(make_spec(), rows("DOWN", "DOWN 1/3", "DOWN"))
    assert statuses.pools[POOL] == OperatingStatus.ERROR
    assert statuses.loadbalancer == OperatingStatus.DEGRADED


def test_no_monitor_drain_and_admin_down() -> None:
    members = (
        MemberSpec(M1, "198.18.0.1", 8001),
        MemberSpec(M2, "198.18.0.1", 8002, weight=0),
        MemberSpec(M3, "198.18.0.1", 8003, admin_state_up=False),
    )
    statuses, _ = observe(
        make_spec(monitored=False, members=members), rows("no check", "UP", "MAINT")
    )
    assert statuses.members == {
        M1: OperatingStatus.NO_MONITOR,
        M2: OperatingStatus.DRAINING,
        M3: OperatingStatus.OFFLINE,
    }
    assert statuses.pools[POOL] == OperatingStatus.ONLINE


def test_missing_frontend_is_offline() -> None:
    statuses, counters = observe(make_spec(), rows("UP")[1:])
    assert statuses.listeners[LISTENER] == OperatingStatus.OFFLINE
    assert counters == {}

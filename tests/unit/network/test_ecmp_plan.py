from dataclasses import replace
from typing import Any

import pytest

from steelyard.network.ecmp_plan import (
    FRONT_SYSCTLS,
    Nexthop,
    Resilient,
    RouterBroken,
    RouterView,
    parse_router_view,
    plan_front,
    plan_remove_vip,
    plan_vip,
    vip_members,
)

VIP = "198.18.120.100"
A1, A2, A3, A4 = "198.18.120.11", "198.18.120.12", "198.18.120.13", "198.18.120.14"
RES = Resilient(buckets=64, idle_timer=60, unbalanced_timer=0)
GROUP_ARGS = "type resilient buckets 64 idle_timer 60 unbalanced_timer 0"


def member(nhid: int, gateway: str) -> Nexthop:
    return Nexthop(id=nhid, gateway=gateway, dev="eth0", onlink=True)


def group(nhid: int, *members: int, resilient: Resilient = RES) -> Nexthop:
    return Nexthop(id=nhid, members=frozenset((m, 1) for m in members), resilient=resilient)


# A router with front in order and VIP routed over A1-A3 (members 1-3, group 4).
ROUTED = RouterView(
    links={"lo": True, "eth0": True, "front": True},
    macvlans={"front": "eth0"},
    nexthops={1: member(1, A1), 2: member(2, A2), 3: member(3, A3), 4: group(4, 1, 2, 3)},
    routes={"198.18.120.0": None, VIP: 4},
    proxies=frozenset({(VIP, "front")}),
    sysctls=dict(FRONT_SYSCTLS),
)
BARE = replace(ROUTED, nexthops={}, routes={}, proxies=frozenset())


def test_routed_vip_needs_nothing() -> None:
    assert plan_vip(ROUTED, VIP, [A1, A2, A3], RES).empty
    assert plan_vip(ROUTED, VIP, [A3, A1, A2, A1], RES).empty  # order and repeats do not matter


def test_fresh_vip_gets_members_group_route_then_proxy() -> None:
    plan = plan_vip(BARE, VIP, [A2, A1, A3], RES)
    assert plan.links == () and plan.sysctls == {}
    assert plan.routes == (
        f"nexthop add id 1 via {A1} dev eth0 onlink",
        f"nexthop add id 2 via {A2} dev eth0 onlink",
        f"nexthop add id 3 via {A3} dev eth0 onlink",
        f"nexthop add id 4 group 1/2/3 {GROUP_ARGS}",
        f"route replace {VIP}/32 nhid 4",
        f"neigh replace proxy {VIP} dev front",
    )


def test_removing_a_member_keeps_the_group_and_deletes_the_member() -> None:
    plan = plan_vip(ROUTED, VIP, [A1, A3], RES)
    # Replacing a resilient group in place moves only the buckets of the member that left.
    assert plan.routes == (f"nexthop replace id 4 group 1/3 {GROUP_ARGS}", "nexthop del id 2")


def test_adding_a_member_takes_the_lowest_free_id() -> None:
    view = replace(ROUTED, nexthops={**ROUTED.nexthops, 6: member(6, "198.18.120.99")})
    plan = plan_vip(view, VIP, [A1, A2, A3, A4], RES)
    assert plan.routes[:2] == (
        f"nexthop add id 5 via {A4} dev eth0 onlink",
        f"nexthop replace id 4 group 1/2/3/5 {GROUP_ARGS}",
    )
    assert plan.routes[2:] == ("nexthop del id 6",)  # used by no group: a leftover


def test_new_timers_replace_the_group_in_place() -> None:
    faster = Resilient(buckets=64, idle_timer=5, unbalanced_timer=30)
    plan = plan_vip(ROUTED, VIP, [A1, A2, A3], faster)
    assert plan.routes == (
        "nexthop replace id 4 group 1/2/3 type resilient buckets 64 idle_timer 5 "
        "unbalanced_timer 30",
    )


def test_new_bucket_count_needs_a_new_group() -> None:
    plan = plan_vip(ROUTED, VIP, [A1, A2, A3], replace(RES, buckets=128))
    assert plan.routes == (
        "nexthop add id 5 group 1/2/3 type resilient buckets 128 idle_timer 60 unbalanced_timer 0",
        f"route replace {VIP}/32 nhid 5",
        "nexthop del id 4",
    )


def test_route_deleted_by_hand_is_restored_and_the_old_group_dropped() -> None:
    plan = plan_vip(replace(ROUTED, routes={}), VIP, [A1, A2, A3], RES)
    assert plan.routes == (
        f"nexthop add id 5 group 1/2/3 {GROUP_ARGS}",
        f"route replace {VIP}/32 nhid 5",
        "nexthop del id 4",
    )


def test_route_not_through_a_group_is_replaced() -> None:
    view = replace(BARE, routes={VIP: None}, nexthops={1: member(1, A1)})
    assert plan_vip(view, VIP, [A1], RES).routes == (
        f"nexthop add id 2 group 1 {GROUP_ARGS}",
        f"route replace {VIP}/32 nhid 2",
        f"neigh replace proxy {VIP} dev front",
    )


def test_group_that_is_not_resilient_is_replaced_by_one() -> None:
    plain = Nexthop(id=4, members=frozenset({(1, 1), (2, 1), (3, 1)}))
    view = replace(ROUTED, nexthops={**ROUTED.nexthops, 4: plain})
    assert plan_vip(view, VIP, [A1, A2, A3], RES).routes == (
        f"nexthop add id 5 group 1/2/3 {GROUP_ARGS}",
        f"route replace {VIP}/32 nhid 5",
        "nexthop del id 4",
    )


def test_weighted_member_is_set_back_to_equal() -> None:
    weighted = Nexthop(id=4, members=frozenset({(1, 5), (2, 1), (3, 1)}), resilient=RES)
    view = replace(ROUTED, nexthops={**ROUTED.nexthops, 4: weighted})
    assert plan_vip(view, VIP, [A1, A2, A3], RES).routes == (
        f"nexthop replace id 4 group 1/2/3 {GROUP_ARGS}",
    )


def test_lost_proxy_entry_is_added_back() -> None:
    plan = plan_vip(replace(ROUTED, proxies=frozenset()), VIP, [A1, A2, A3], RES)
    assert plan.routes == (f"neigh replace proxy {VIP} dev front",)


def test_member_on_the_wrong_link_is_replaced() -> None:
    view = replace(ROUTED, nexthops={**ROUTED.nexthops, 2: replace(member(2, A2), dev="front")})
    assert plan_vip(view, VIP, [A1, A2, A3], RES).routes == (
        f"nexthop replace id 2 via {A2} dev eth0 onlink",
    )


def test_member_shared_with_another_vip_stays() -> None:
    other = "198.18.120.101"
    view = replace(
        ROUTED,
        nexthops={**ROUTED.nexthops, 5: group(5, 2)},
        routes={**ROUTED.routes, other: 5},
    )
    assert plan_vip(view, VIP, [A1, A3], RES).routes == (
        f"nexthop replace id 4 group 1/3 {GROUP_ARGS}",
    )


def test_duplicate_member_objects_collapse_to_the_lowest_id() -> None:
    view = replace(ROUTED, nexthops={**ROUTED.nexthops, 7: member(7, A1)})
    assert plan_vip(view, VIP, [A1, A2, A3], RES).routes == ("nexthop del id 7",)


def test_ipv6_vip() -> None:
    vip, a, b = "fd00:7e:120::100", "fd00:7e:120::11", "fd00:7e:120::12"
    assert plan_vip(BARE, vip, [b, a], RES).routes == (
        f"nexthop add id 1 via {a} dev eth0 onlink",
        f"nexthop add id 2 via {b} dev eth0 onlink",
        f"nexthop add id 3 group 1/2 {GROUP_ARGS}",
        f"route replace {vip}/128 nhid 3",
        f"neigh replace proxy {vip} dev front",
    )


def test_addresses_are_compared_in_canonical_form() -> None:
    vip = "fd00:7e:120::100"
    view = replace(
        BARE,
        nexthops={1: member(1, "fd00:7e:120::11"), 2: group(2, 1)},
        routes={vip: 2},
        proxies=frozenset({(vip, "front")}),
    )
    assert plan_vip(view, "FD00:7E:120:0::100", ["fd00:7e:120:0:0:0:0:11"], RES).empty


def test_no_members_removes_the_vip() -> None:
    assert plan_vip(ROUTED, VIP, [], RES) == plan_remove_vip(ROUTED, VIP)


@pytest.mark.parametrize(
    "vip, members",
    [
        (VIP, ["fd00:7e:120::11"]),  # another family
        (VIP, [VIP]),  # itself
        (VIP, ["198.18.120.11\nroute del default"]),
        ("198.18.120.100/32", [A1]),
        ("not-an-address", [A1]),
        (VIP, [""]),
    ],
)
def test_bad_addresses_are_refused(vip: str, members: list[str]) -> None:
    with pytest.raises(ValueError):
        plan_vip(BARE, vip, members, RES)


def test_remove_vip_drops_proxy_route_group_and_members() -> None:
    assert plan_remove_vip(ROUTED, VIP).routes == (
        f"neigh del proxy {VIP} dev front",
        f"route del {VIP}/32",
        "nexthop del id 4",
        "nexthop del id 1",
        "nexthop del id 2",
        "nexthop del id 3",
    )


def test_remove_absent_vip_is_empty() -> None:
    assert plan_remove_vip(BARE, VIP).empty
    assert plan_remove_vip(ROUTED, "198.18.120.101").empty


def test_front_in_order_needs_nothing() -> None:
    assert plan_front(ROUTED).empty


def test_missing_front_is_made_with_its_sysctls() -> None:
    view = replace(BARE, links={"lo": True, "eth0": True}, macvlans={}, sysctls={})
    plan = plan_front(view)
    assert plan.links == (
        "link add front link eth0 type macvlan mode bridge",
        "link set front up",
    )
    assert plan.sysctls == FRONT_SYSCTLS
    assert plan.new_front


def test_new_front_means_the_proxy_entries_are_gone() -> None:
    view = replace(ROUTED, links={"lo": True, "eth0": True}, macvlans={})
    plan = plan_vip(view, VIP, [A1, A2, A3], RES)
    assert plan.new_front
    assert plan.routes == (f"neigh replace proxy {VIP} dev front",)


def test_front_of_the_wrong_kind_is_remade() -> None:
    view = replace(ROUTED, macvlans={})  # "front" exists but is no macvlan on eth0
    assert plan_front(view).links[0] == "link del front"


def test_down_front_is_set_up() -> None:
    plan = plan_front(replace(ROUTED, links={**ROUTED.links, "front": False}))
    assert plan.links == ("link set front up",) and not plan.new_front


def test_changed_front_sysctl_is_written() -> None:
    sysctls = {**FRONT_SYSCTLS, "net.ipv4.neigh.front.proxy_delay": "80"}
    plan = plan_front(replace(ROUTED, sysctls=sysctls))
    assert plan.sysctls == {"net.ipv4.neigh.front.proxy_delay": "0"}


def test_router_without_eth0_is_broken() -> None:
    with pytest.raises(RouterBroken, match="ensure_router"):
        plan_vip(replace(ROUTED, links={"lo": True}), VIP, [A1], RES)


@pytest.mark.parametrize(
    "kwargs", [{"buckets": 0}, {"buckets": 40000}, {"idle_timer": -1}, {"unbalanced_timer": -1}]
)
def test_bad_resilient_arguments(kwargs: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        Resilient(**kwargs)


def test_vip_members() -> None:
    view = replace(ROUTED, nexthops={**ROUTED.nexthops, 1: member(1, "198.18.120.9")})
    assert vip_members(view) == {VIP: ("198.18.120.9", A2, A3)}  # numeric order
    assert vip_members(BARE) == {}


# Trimmed from `ip -n <router> -j -batch -` of the five observing commands.
LINKS: list[dict[str, Any]] = [
    {"ifindex": 1, "ifname": "lo", "flags": ["LOOPBACK", "UP", "LOWER_UP"]},
    {"ifindex": 2, "link_index": 40, "ifname": "eth0", "flags": ["UP"], "link_netnsid": 0},
    {"ifindex": 3, "link": "eth0", "ifname": "front", "flags": ["BROADCAST"]},
]
MACVLANS: list[dict[str, Any]] = [LINKS[2]]
NEXTHOPS: list[dict[str, Any]] = [
    {"id": 1, "gateway": A1, "dev": "eth0", "scope": "link", "flags": ["onlink"]},
    {"id": 2, "gateway": "fd00:7e:120:0::12", "dev": "eth0", "scope": "link", "flags": []},
    {
        "id": 4,
        "group": [{"id": 1, "weight": 3}, {"id": 2}],
        "type": "resilient",
        "resilient_args": {
            "buckets": 64,
            "idle_timer": 120,
            "unbalanced_timer": 0,
            "unbalanced_time": 0,
        },
        "flags": [],
    },
    {"id": 5, "group": [{"id": 1}], "flags": []},
]
ROUTES: list[dict[str, Any]] = [
    {"dst": "198.18.120.0/24", "dev": "eth0", "protocol": "kernel", "prefsrc": "198.18.120.2"},
    {"dst": VIP, "nhid": 4, "flags": [], "nexthops": []},
    {"type": "blackhole", "dst": "198.18.120.101", "flags": []},
    {"type": "local", "dst": "198.18.120.2", "dev": "eth0", "table": "local"},
    {"dst": "fd00:7e:120::100", "nhid": 5, "metric": 1024, "flags": []},
    {"dst": "default", "gateway": "198.18.120.1", "dev": "eth0"},
]
PROXIES: list[dict[str, Any]] = [
    {"dst": VIP, "dev": "front", "proxy": None},
    {"dst": "fd00:7e:120:0::100", "dev": "front", "proxy": None},
]


def test_parse_router_view() -> None:
    view = parse_router_view([LINKS, MACVLANS, NEXTHOPS, ROUTES, PROXIES], {"k": "v"})
    assert view.links == {"lo": True, "eth0": True, "front": False}
    assert view.macvlans == {"front": "eth0"}
    assert view.nexthops == {
        1: member(1, A1),
        2: Nexthop(id=2, gateway="fd00:7e:120::12", dev="eth0", onlink=False),
        4: Nexthop(id=4, members=frozenset({(1, 3), (2, 1)}), resilient=Resilient(64, 120, 0)),
        5: Nexthop(id=5, members=frozenset({(1, 1)})),
    }
    assert view.routes == {VIP: 4, "198.18.120.101": None, "fd00:7e:120::100": 5}
    assert view.proxies == {(VIP, "front"), ("fd00:7e:120::100", "front")}
    assert view.sysctls == {"k": "v"}

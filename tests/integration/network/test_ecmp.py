"""ACTIVE_ACTIVE through a real router namespace: spread, failure, scale-out, repair, clean-up.

Appliances hold the VIP on lo and run a small HTTP server answering their name; the client
sits on the VIP network and opens real TCP connections to the VIP.
"""

import json
import time
from collections.abc import Callable

import pytest

from steelyard.network.ecmp_plan import Resilient, RouterBroken
from steelyard.network.iproute import host_link, host_link_names, ip
from steelyard.network.namespaces import list_netns, read_sysctls
from tests.integration.agent.helpers import wait_for
from tests.integration.network.lab import NETWORK_ID, EcmpLab, request
from tests.support import BackendNamespace, http_get

pytestmark = pytest.mark.root

NAMES = ["a1", "a2", "a3"]


def three_appliances(lab: EcmpLab) -> list[str]:
    addresses = [lab.add_appliance(name) for name in NAMES]
    lab.routers.ensure_vip(NETWORK_ID, lab.vip, addresses)
    return addresses


def assert_spread(seen: dict[str, int], names: list[str], total: int) -> None:
    # Each appliance must get at least 15 % of `total` random flows. With 30 flows over three,
    # chance alone left one below that in ~8 % of runs (it failed CI once); from 150 flows on,
    # about once in a million.
    print(f"\n{total} new connections: {dict(sorted(seen.items()))}")
    assert sum(seen.values()) == total
    assert set(seen) == set(names), seen  # no errors, nobody else
    for name in names:
        assert seen[name] >= 0.15 * total, seen


def test_connections_spread_over_all_appliances_and_survive_a_loss(lab: EcmpLab) -> None:
    a1, _, a3 = three_appliances(lab)
    assert_spread(lab.new_connections(300), NAMES, 300)

    # A flow -> appliance map of live connections, before a2 dies.
    conns = lab.open_connections(150)
    before = [request(conn) for conn in conns]
    assert set(before) == set(NAMES), before

    lab.kill("a2")
    lab.routers.ensure_vip(NETWORK_ID, lab.vip, [a1, a3])
    assert lab.routers.vips(NETWORK_ID) == {lab.vip: (a1, a3)}

    after = [request(conn) for conn in conns]
    kept = [(b, a) for b, a in zip(before, after, strict=True) if b != "a2"]
    moved = [(b, a) for b, a in kept if a != b]
    print(f"{len(kept)} live connections on a1/a3, moved or broken: {len(moved)}")
    assert not moved  # only a2's flows moved
    for conn in conns:
        conn.close()

    assert_spread(lab.new_connections(300), ["a1", "a3"], 300)


def test_a_fourth_appliance_gets_a_share(make_lab: Callable[..., EcmpLab]) -> None:
    # Buckets move to a new member once idle for idle_timer: 1 s here, 60 s by default.
    lab = make_lab(resilient=Resilient(buckets=128, idle_timer=1))
    addresses = three_appliances(lab)
    assert_spread(lab.new_connections(150), NAMES, 150)

    a4 = lab.add_appliance("a4")
    lab.routers.ensure_vip(NETWORK_ID, lab.vip, [*addresses, a4])
    wait_for(lambda: lab.buckets()[a4] == 32, "a4 to hold a quarter of the buckets", 100, 0.1)
    print(f"\nbuckets: {dict(lab.buckets())}")
    assert_spread(lab.new_connections(300), [*NAMES, "a4"], 300)


def test_ipv6_spread_and_only_the_router_answers_for_the_vip(
    make_lab: Callable[..., EcmpLab],
) -> None:
    lab = make_lab(family=6)
    three_appliances(lab)
    assert_spread(lab.new_connections(300), NAMES, 300)
    front = lab.mac(lab.router, "front")
    assert lab.neighbour_mac(lab.client, lab.vip) == front


def test_only_the_router_answers_arp_for_the_vip(lab: EcmpLab) -> None:
    addresses = three_appliances(lab)
    assert_spread(lab.new_connections(150), NAMES, 150)
    assert lab.neighbour_mac(lab.client, lab.vip) == lab.mac(lab.router, "front")
    # The appliances asked for the client with their own address, not the VIP's: the client
    # learned their own addresses (if anything), never the VIP at an appliance's MAC.
    for name, address in zip(NAMES, addresses, strict=True):
        mac = lab.neighbour_mac(lab.client, address)
        assert mac in (None, lab.mac(lab.driver.netns_name(name), "eth0"))


def test_members_on_the_bridge_are_reachable_from_the_appliances(lab: EcmpLab) -> None:
    three_appliances(lab)
    with BackendNamespace.on(lab.network, "m1", lab.host(201), port=8080) as member:
        for name in NAMES:
            answer = http_get(member.address, 8080, netns=lab.driver.netns_name(name))
            assert answer.body == "m1\n"


def test_ensure_twice_plans_nothing(lab: EcmpLab) -> None:
    addresses = three_appliances(lab)
    router_args = (NETWORK_ID, lab.router_address, lab.subnet.prefixlen, lab.network.bridge)
    assert lab.routers.ensure_router(*router_args) is False
    wiring, front = lab.routers.plan_router(*router_args)
    assert wiring.empty and front is not None and front.empty
    assert lab.routers.plan_vip(NETWORK_ID, lab.vip, addresses).empty
    for name in NAMES:
        assert lab.driver.plan(lab.slot(name)).empty

    started = time.perf_counter()
    for _ in range(20):
        lab.routers.ensure_vip(NETWORK_ID, lab.vip, addresses)
    per_vip = (time.perf_counter() - started) / 20
    started = time.perf_counter()
    for _ in range(20):
        lab.routers.ensure_router(*router_args)
    per_router = (time.perf_counter() - started) / 20
    print(f"\nno-op ensure_vip {per_vip * 1000:.1f} ms, ensure_router {per_router * 1000:.1f} ms")


def test_a_route_deleted_by_hand_is_restored(lab: EcmpLab) -> None:
    addresses = three_appliances(lab)
    ip("route", "del", f"{lab.vip}/32", netns=lab.router)
    assert not set(lab.new_connections(5, timeout=0.5)) & set(NAMES)
    assert not lab.routers.plan_vip(NETWORK_ID, lab.vip, addresses).empty
    lab.routers.ensure_vip(NETWORK_ID, lab.vip, addresses)
    assert lab.routers.plan_vip(NETWORK_ID, lab.vip, addresses).empty
    assert_spread(lab.new_connections(150), NAMES, 150)
    nexthops = json.loads(ip("nexthop", "show", netns=lab.router, json_out=True))
    assert len(nexthops) == 4  # three members and one group: the old group went


def test_a_lost_front_is_rebuilt_and_the_vips_need_ensuring(lab: EcmpLab) -> None:
    addresses = three_appliances(lab)
    ip("link", "del", "front", netns=lab.router)
    router_args = (NETWORK_ID, lab.router_address, lab.subnet.prefixlen, lab.network.bridge)
    assert lab.routers.ensure_router(*router_args) is True
    assert not lab.routers.plan_vip(NETWORK_ID, lab.vip, addresses).empty  # proxy entry lost
    lab.routers.ensure_vip(NETWORK_ID, lab.vip, addresses)
    assert_spread(lab.new_connections(150), NAMES, 150)
    sysctls = read_sysctls(lab.router, ["net.ipv4.neigh.front.proxy_delay"])
    assert sysctls == {"net.ipv4.neigh.front.proxy_delay": "0"}


def test_a_lost_router_link_is_rebuilt(lab: EcmpLab) -> None:
    addresses = three_appliances(lab)
    ip("link", "del", lab.routers.names.router_veth(NETWORK_ID))
    with pytest.raises(RouterBroken):
        lab.routers.ensure_vip(NETWORK_ID, lab.vip, addresses)
    router_args = (NETWORK_ID, lab.router_address, lab.subnet.prefixlen, lab.network.bridge)
    assert lab.routers.ensure_router(*router_args) is True
    lab.routers.ensure_vip(NETWORK_ID, lab.vip, addresses)
    assert_spread(lab.new_connections(150), NAMES, 150)


def test_remove_vip_leaves_nothing_for_it(lab: EcmpLab) -> None:
    three_appliances(lab)
    lab.routers.remove_vip(NETWORK_ID, lab.vip)
    lab.routers.remove_vip(NETWORK_ID, lab.vip)  # idempotent
    assert lab.routers.vips(NETWORK_ID) == {}
    assert json.loads(ip("nexthop", "show", netns=lab.router, json_out=True)) == []
    assert json.loads(ip("neigh", "show", "proxy", netns=lab.router, json_out=True)) == []
    assert not set(lab.new_connections(3, timeout=0.5)) & set(NAMES)


def test_delete_router_and_purge_leave_nothing(lab: EcmpLab) -> None:
    three_appliances(lab)
    router, veth = lab.router, lab.routers.names.router_veth(NETWORK_ID)
    assert lab.routers.list_routers() == [router]
    lab.routers.delete_router(NETWORK_ID)
    lab.routers.delete_router(NETWORK_ID)  # idempotent
    assert router not in list_netns() and host_link(veth) is None
    lab.routers.remove_vip(NETWORK_ID, lab.vip)  # the router is gone: nothing to do

    router_args = (NETWORK_ID, lab.router_address, lab.subnet.prefixlen, lab.network.bridge)
    lab.routers.ensure_router(*router_args)  # back, for purge to find
    lab.close()
    assert not [ns for ns in list_netns() if ns.startswith(lab.prefix)]
    assert not [link for link in host_link_names() if link.startswith(lab.prefix)]

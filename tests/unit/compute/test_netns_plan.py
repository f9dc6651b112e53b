import ipaddress
from dataclasses import replace
from typing import Any

import pytest

from steelyard.compute.netns_plan import (
    DEFAULT_SYSCTLS,
    BridgeMissing,
    Desired,
    HostView,
    NameCollision,
    NsLink,
    NsView,
    parse_ns_view,
    plan_ensure,
)
from steelyard.network.iproute import HostLink
from steelyard.network.namespaces import NetnsState

NS, VETH, BRIDGE = "tc-lb1", "tcv0123456789ab", "tcbr0123456789a"
WANT = Desired(netns=NS, veth=VETH, bridge=BRIDGE, vip=ipaddress.ip_interface("198.18.97.10/24"))
BRIDGE_LINK = HostLink(BRIDGE, 5, 5, up=True, master=None, alias="", is_bridge=True)
# A healthy pair: host veth (ifindex 40) <-> eth0 (ifindex 2 in the namespace).
VETH_LINK = HostLink(VETH, 40, 2, up=True, master=BRIDGE, alias=NS, is_bridge=False)
GOOD_NS = NsView(
    links={"lo": NsLink(1, None, True), "eth0": NsLink(2, 40, True)},
    addresses=frozenset({("198.18.97.10", 24)}),
    routes=frozenset({"198.18.97.0/24"}),
    sysctls=dict(DEFAULT_SYSCTLS),
)
GOOD_HOST = HostView(netns=NetnsState.MOUNTED, bridge=BRIDGE_LINK, veth=VETH_LINK)

CREATE_PAIR = (
    f"link add {VETH} type veth peer name eth0 netns {NS}",
    f"link set {VETH} alias {NS}",
    f"link set {VETH} master {BRIDGE} up",
)
CONFIGURE_NS = ("link set lo up", "link set eth0 up", "addr replace 198.18.97.10/24 dev eth0")


def test_healthy_appliance_needs_nothing() -> None:
    plan = plan_ensure(WANT, GOOD_HOST, GOOD_NS)
    assert plan.empty


def test_fresh_appliance_is_built_in_two_batches() -> None:
    plan = plan_ensure(WANT, replace(GOOD_HOST, netns=NetnsState.ABSENT, veth=None), None)
    assert plan.host == (f"netns add {NS}", *CREATE_PAIR)
    assert plan.ns_before == ()
    assert plan.ns_after == CONFIGURE_NS
    assert plan.sysctls == DEFAULT_SYSCTLS
    assert not plan.unlink_stale_netns


def test_stale_namespace_file_is_removed_first() -> None:
    plan = plan_ensure(WANT, replace(GOOD_HOST, netns=NetnsState.STALE, veth=None), None)
    assert plan.unlink_stale_netns
    assert plan.host[0] == f"netns add {NS}"


def test_namespace_without_links_gets_the_pair() -> None:
    empty_ns = NsView(
        links={"lo": NsLink(1, None, False)}, addresses=frozenset(), routes=frozenset(), sysctls={}
    )
    plan = plan_ensure(WANT, replace(GOOD_HOST, veth=None), empty_ns)
    assert plan.host == CREATE_PAIR
    assert plan.ns_after == CONFIGURE_NS


def test_mounted_namespace_must_be_observed() -> None:
    with pytest.raises(ValueError, match="observed"):
        plan_ensure(WANT, GOOD_HOST, None)


def test_host_veth_whose_peer_is_elsewhere_is_recreated() -> None:
    orphan = replace(VETH_LINK, iflink=7)  # its peer is not our eth0
    no_eth0 = replace(GOOD_NS, links={"lo": NsLink(1, None, True)})
    plan = plan_ensure(WANT, replace(GOOD_HOST, veth=orphan), no_eth0)
    assert plan.host == (f"link del {VETH}", *CREATE_PAIR)
    assert plan.ns_before == ()


def test_eth0_without_host_veth_is_recreated() -> None:
    plan = plan_ensure(WANT, replace(GOOD_HOST, veth=None), GOOD_NS)
    assert plan.ns_before == ("link del eth0",)
    assert plan.host == CREATE_PAIR
    # The new eth0 is down and bare, whatever the old one had.
    assert plan.ns_after == ("link set eth0 up", "addr replace 198.18.97.10/24 dev eth0")


def test_eth0_paired_with_a_local_peer_is_recreated() -> None:
    local_pair = replace(GOOD_NS, links={**GOOD_NS.links, "eth0": NsLink(2, None, True)})
    plan = plan_ensure(WANT, GOOD_HOST, local_pair)
    assert plan.ns_before == ("link del eth0",)
    assert plan.host == (f"link del {VETH}", *CREATE_PAIR)


def test_detached_down_veth_is_reattached() -> None:
    loose = replace(VETH_LINK, master=None, up=False)
    plan = plan_ensure(WANT, replace(GOOD_HOST, veth=loose), GOOD_NS)
    assert plan.host == (f"link set {VETH} master {BRIDGE} up",)
    assert plan.ns_after == ()


def test_interrupted_create_without_alias_is_adopted() -> None:
    plan = plan_ensure(WANT, replace(GOOD_HOST, veth=replace(VETH_LINK, alias="")), GOOD_NS)
    assert plan.host == (f"link set {VETH} alias {NS}",)


def test_veth_of_another_namespace_is_not_taken() -> None:
    theirs = replace(VETH_LINK, alias="tc-someone-else")
    with pytest.raises(NameCollision, match="tc-someone-else"):
        plan_ensure(WANT, replace(GOOD_HOST, veth=theirs), GOOD_NS)


@pytest.mark.parametrize("bridge", [None, replace(BRIDGE_LINK, is_bridge=False)])
def test_missing_bridge_is_an_error(bridge: HostLink | None) -> None:
    with pytest.raises(BridgeMissing, match=BRIDGE):
        plan_ensure(WANT, replace(GOOD_HOST, bridge=bridge), GOOD_NS)


def test_down_links_are_set_up() -> None:
    down = replace(GOOD_NS, links={"lo": NsLink(1, None, False), "eth0": NsLink(2, 40, False)})
    assert plan_ensure(WANT, GOOD_HOST, down).ns_after == ("link set lo up", "link set eth0 up")


def test_lost_vip_is_added_back() -> None:
    bare = replace(GOOD_NS, addresses=frozenset(), routes=frozenset())
    plan = plan_ensure(WANT, GOOD_HOST, bare)
    assert plan.ns_after == ("addr replace 198.18.97.10/24 dev eth0",)  # brings its route


def test_vip_with_wrong_prefix_length_is_replaced() -> None:
    wrong = replace(GOOD_NS, addresses=frozenset({("198.18.97.10", 25)}))
    assert plan_ensure(WANT, GOOD_HOST, wrong).ns_after == (
        "addr del 198.18.97.10/25 dev eth0",
        "addr replace 198.18.97.10/24 dev eth0",
    )


def test_extra_addresses_are_left_alone() -> None:  # e.g. a VIP keepalived added
    extra = replace(GOOD_NS, addresses=GOOD_NS.addresses | {("198.18.97.99", 24)})
    assert plan_ensure(WANT, GOOD_HOST, extra).empty


def test_lost_connected_route_is_restored() -> None:
    plan = plan_ensure(WANT, GOOD_HOST, replace(GOOD_NS, routes=frozenset()))
    assert plan.ns_after == (
        "route replace 198.18.97.0/24 dev eth0 proto kernel scope link src 198.18.97.10",
    )


def test_host_route_vip_needs_no_connected_route() -> None:
    want = replace(WANT, vip=ipaddress.ip_interface("198.18.97.10/32"))
    ns = replace(GOOD_NS, addresses=frozenset({("198.18.97.10", 32)}), routes=frozenset())
    assert plan_ensure(want, GOOD_HOST, ns).empty


def test_ipv6_vip_skips_dad_and_restores_its_route() -> None:
    want = replace(WANT, vip=ipaddress.ip_interface("fd00:7c:97::10/64"))
    bare = replace(GOOD_NS, addresses=frozenset(), routes=frozenset())
    assert plan_ensure(want, GOOD_HOST, bare).ns_after == (
        "addr replace fd00:7c:97::10/64 dev eth0 nodad",
    )
    has_addr = replace(bare, addresses=frozenset({("fd00:7c:97::10", 64)}))
    assert plan_ensure(want, GOOD_HOST, has_addr).ns_after == (
        "route replace fd00:7c:97::/64 dev eth0 proto kernel metric 256",
    )


def test_only_differing_sysctls_are_written() -> None:
    observed = {**DEFAULT_SYSCTLS, "net.core.somaxconn": "4096"}
    # The kernel separates the two ports with a tab; that is the same value.
    observed["net.ipv4.ip_local_port_range"] = "1024\t65535"
    plan = plan_ensure(WANT, GOOD_HOST, replace(GOOD_NS, sysctls=observed))
    assert plan.sysctls == {"net.core.somaxconn": "65535"}


def test_missing_sysctl_is_written() -> None:
    observed = {**DEFAULT_SYSCTLS, "net.ipv6.conf.eth0.accept_dad": None}
    plan = plan_ensure(WANT, GOOD_HOST, replace(GOOD_NS, sysctls=observed))
    assert plan.sysctls == {"net.ipv6.conf.eth0.accept_dad": "0"}


# Trimmed from `ip -n tc-x -j -4 -batch -` with "link show", "addr show", "route show table main".
LINKS: list[dict[str, Any]] = [
    {"ifindex": 1, "ifname": "lo", "flags": ["LOOPBACK", "UP", "LOWER_UP"]},
    {
        "ifindex": 2,
        "link_index": 40,
        "ifname": "eth0",
        "flags": ["BROADCAST", "MULTICAST"],
        "link_netnsid": 0,
    },
    {"ifindex": 3, "link": "eth9", "ifname": "eth8", "flags": ["UP"]},
]
ADDRS: list[dict[str, Any]] = [
    {
        "ifindex": 1,
        "ifname": "lo",
        "addr_info": [{"family": "inet", "local": "127.0.0.1", "prefixlen": 8}],
    },
    {
        "ifindex": 2,
        "ifname": "eth0",
        "addr_info": [{"family": "inet", "local": "198.18.97.10", "prefixlen": 24}],
    },
]
ROUTES: list[dict[str, Any]] = [
    {"dst": "default", "gateway": "198.18.97.1", "dev": "eth0"},
    {"dst": "198.18.97.0/24", "dev": "eth0", "protocol": "kernel", "prefsrc": "198.18.97.10"},
    {"dst": "198.18.98.7", "dev": "eth0"},
    {"dst": "198.18.99.0/24", "dev": "eth8"},
]


def test_parse_ns_view() -> None:
    view = parse_ns_view([LINKS, ADDRS, ROUTES], {"net.core.somaxconn": "4096"})
    assert view.links == {
        "lo": NsLink(1, None, True),
        "eth0": NsLink(2, 40, False),
        "eth8": NsLink(3, None, True),
    }
    assert view.addresses == {("198.18.97.10", 24)}
    assert view.routes == {"198.18.97.0/24", "198.18.98.7/32"}
    assert view.sysctls == {"net.core.somaxconn": "4096"}


# ACTIVE_ACTIVE: eth0 holds the appliance's own address, the VIP sits on lo.
LO_VIP = ipaddress.ip_interface("198.18.97.100/32")
AA_WANT = replace(WANT, loopback=(LO_VIP,))
AA_NS = replace(GOOD_NS, loopback=frozenset({("198.18.97.100", 32)}))


def test_loopback_vip_in_place_needs_nothing() -> None:
    assert plan_ensure(AA_WANT, GOOD_HOST, AA_NS).empty


def test_fresh_appliance_gets_its_loopback_vip_last() -> None:
    plan = plan_ensure(AA_WANT, replace(GOOD_HOST, netns=NetnsState.ABSENT, veth=None), None)
    assert plan.ns_after == (*CONFIGURE_NS, "addr replace 198.18.97.100/32 dev lo")
    assert plan.new_pair


def test_loopback_vips_not_wanted_are_removed_and_wanted_ones_fixed() -> None:
    ns = replace(GOOD_NS, loopback=frozenset({("198.18.97.100", 24), ("198.18.97.101", 32)}))
    assert plan_ensure(AA_WANT, GOOD_HOST, ns).ns_after == (
        "addr del 198.18.97.100/24 dev lo",
        "addr del 198.18.97.101/32 dev lo",
        "addr replace 198.18.97.100/32 dev lo",
    )
    assert plan_ensure(WANT, GOOD_HOST, AA_NS).ns_after == ("addr del 198.18.97.100/32 dev lo",)


def test_loopback_vip_is_taken_off_eth0() -> None:
    # On eth0 it would answer ARP for the VIP and pull every client to this appliance.
    ns = replace(AA_NS, addresses=AA_NS.addresses | {("198.18.97.100", 24)})
    assert plan_ensure(AA_WANT, GOOD_HOST, ns).ns_after == ("addr del 198.18.97.100/24 dev eth0",)


def test_ipv6_loopback_vip() -> None:
    want = replace(
        WANT,
        vip=ipaddress.ip_interface("fd00:7c:97::11/64"),
        loopback=(ipaddress.ip_interface("fd00:7c:97::100/128"),),
    )
    ns = replace(GOOD_NS, addresses=frozenset({("fd00:7c:97::11", 64)}), routes=frozenset())
    ns = replace(ns, routes=frozenset({"fd00:7c:97::/64"}))
    assert plan_ensure(want, GOOD_HOST, ns).ns_after == ("addr replace fd00:7c:97::100/128 dev lo",)


def test_existing_pair_is_not_new() -> None:
    assert not plan_ensure(WANT, GOOD_HOST, replace(GOOD_NS, addresses=frozenset())).new_pair
    assert plan_ensure(WANT, replace(GOOD_HOST, veth=None), GOOD_NS).new_pair


LO_ADDRS: list[dict[str, Any]] = [
    {
        "ifindex": 1,
        "ifname": "lo",
        "addr_info": [
            {"family": "inet", "local": "127.0.0.1", "prefixlen": 8},
            {"family": "inet", "local": "198.18.97.100", "prefixlen": 32},
            {"family": "inet6", "local": "::1", "prefixlen": 128},
        ],
    },
    ADDRS[1],
]


def test_parse_ns_view_sees_loopback_vips_but_not_loopback_addresses() -> None:
    view = parse_ns_view([LINKS, LO_ADDRS, ROUTES], {})
    assert view.loopback == {("198.18.97.100", 32)}
    assert view.addresses == {("198.18.97.10", 24)}


def test_a_spare_is_wired_without_an_address_and_adopting_it_adds_one() -> None:
    spare = replace(WANT, vip=None)
    built = plan_ensure(spare, replace(GOOD_HOST, netns=NetnsState.ABSENT, veth=None), None)
    assert built.host == (f"netns add {NS}", *CREATE_PAIR)
    assert built.ns_after == ("link set lo up", "link set eth0 up")
    waiting = replace(GOOD_NS, addresses=frozenset(), routes=frozenset())
    assert plan_ensure(spare, GOOD_HOST, waiting).empty
    adopted = plan_ensure(WANT, GOOD_HOST, waiting)
    assert adopted.host == () and adopted.ns_after == ("addr replace 198.18.97.10/24 dev eth0",)

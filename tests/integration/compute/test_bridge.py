import json
from collections.abc import Iterator

import pytest

from steelyard.network.bridge import NotABridge, bridge_mac, delete_bridge, ensure_bridge
from steelyard.network.iproute import host_link, ip
from steelyard.network.names import NameScheme

pytestmark = pytest.mark.root

GATEWAY_V4 = "198.18.96.1/24"
GATEWAY_V6 = "fd00:7c:96::1/64"


def addresses(link: str) -> set[str]:
    shown = json.loads(ip("addr", "show", "dev", link, json_out=True))
    return {
        f"{a['local']}/{a['prefixlen']}" for a in shown[0]["addr_info"] if a["scope"] == "global"
    }


@pytest.fixture
def bridge_name() -> Iterator[str]:
    """A bridge name of the "tc" scheme, removed after the test whatever happened."""
    name = NameScheme("tc").bridge("test-bridge")
    yield name
    delete_bridge(name)


@pytest.fixture
def veth_named_like_a_bridge(bridge_name: str) -> Iterator[str]:
    """A veth pair holding the bridge's name: something ensure_bridge must not touch."""
    peer = NameScheme("tc").veth("bridge-impostor-peer")
    ip("link", "add", bridge_name, "type", "veth", "peer", "name", peer)
    yield bridge_name
    ip("link", "del", peer)


def test_ensure_bridge_creates_an_up_bridge_holding_the_gateway(bridge_name: str) -> None:
    ensure_bridge(bridge_name, GATEWAY_V4)
    link = host_link(bridge_name)
    assert link is not None and link.is_bridge and link.up
    assert addresses(bridge_name) == {GATEWAY_V4}


def test_ensure_bridge_is_idempotent(bridge_name: str) -> None:
    ensure_bridge(bridge_name, GATEWAY_V4)
    before = host_link(bridge_name)
    ensure_bridge(bridge_name, GATEWAY_V4)
    assert host_link(bridge_name) == before  # same link, not recreated
    assert addresses(bridge_name) == {GATEWAY_V4}


def test_ensure_bridge_restores_a_missing_address(bridge_name: str) -> None:
    ensure_bridge(bridge_name, GATEWAY_V4)
    ip("addr", "flush", "dev", bridge_name)
    ensure_bridge(bridge_name, GATEWAY_V4)
    assert addresses(bridge_name) == {GATEWAY_V4}


def test_ensure_bridge_sets_a_down_bridge_up(bridge_name: str) -> None:
    ensure_bridge(bridge_name, GATEWAY_V4)
    ip("link", "set", bridge_name, "down")
    ensure_bridge(bridge_name, GATEWAY_V4)
    link = host_link(bridge_name)
    assert link is not None and link.up


def test_ensure_bridge_fixes_the_prefix_length(bridge_name: str) -> None:
    ensure_bridge(bridge_name, "198.18.96.1/25")
    ensure_bridge(bridge_name, GATEWAY_V4)
    assert addresses(bridge_name) == {GATEWAY_V4}


def test_ensure_bridge_dual_stack(bridge_name: str) -> None:
    ensure_bridge(bridge_name, GATEWAY_V4)
    ensure_bridge(bridge_name, GATEWAY_V6)
    ensure_bridge(bridge_name, GATEWAY_V4)
    assert addresses(bridge_name) == {GATEWAY_V4, GATEWAY_V6}
    v6 = json.loads(ip("-6", "addr", "show", "dev", bridge_name, json_out=True))[0]["addr_info"]
    assert not any(a.get("tentative") for a in v6 if a["scope"] == "global")  # usable at once


def test_ensure_bridge_adds_no_default_route(bridge_name: str) -> None:
    ensure_bridge(bridge_name, GATEWAY_V4)
    ensure_bridge(bridge_name, GATEWAY_V6)
    for family in ("-4", "-6"):
        routes = json.loads(ip(family, "route", "show", "dev", bridge_name, json_out=True))
        assert all(r["dst"] != "default" for r in routes)


def test_delete_bridge_is_idempotent(bridge_name: str) -> None:
    ensure_bridge(bridge_name, GATEWAY_V4)
    assert delete_bridge(bridge_name) is True
    assert host_link(bridge_name) is None
    assert delete_bridge(bridge_name) is False


def test_bridge_functions_leave_other_links_alone(veth_named_like_a_bridge: str) -> None:
    with pytest.raises(NotABridge):
        ensure_bridge(veth_named_like_a_bridge, GATEWAY_V4)
    with pytest.raises(NotABridge):
        delete_bridge(veth_named_like_a_bridge)
    assert host_link(veth_named_like_a_bridge) is not None


def _mac(link: str) -> str:
    return str(json.loads(ip("link", "show", "dev", link, json_out=True))[0]["address"])


def test_the_bridge_mac_stays_when_ports_come_and_go(bridge_name: str) -> None:
    """A bridge would otherwise take its lowest port's MAC and change it when that port leaves:
    appliances still sending to the old MAC would reach nobody."""
    ensure_bridge(bridge_name, GATEWAY_V4)
    assert _mac(bridge_name) == bridge_mac(bridge_name)
    low, peer = NameScheme("tc").veth("mac-low"), NameScheme("tc").veth("mac-low-peer")
    ip("link", "add", low, "address", "02:00:00:00:00:01", "type", "veth", "peer", "name", peer)
    try:
        ip("link", "set", low, "master", bridge_name)
        assert _mac(bridge_name) == bridge_mac(bridge_name)
    finally:
        ip("link", "del", low)
    assert _mac(bridge_name) == bridge_mac(bridge_name)


def test_an_older_bridge_gets_its_fixed_mac(bridge_name: str) -> None:
    ip("link", "add", bridge_name, "type", "bridge")
    ensure_bridge(bridge_name, GATEWAY_V4)
    assert _mac(bridge_name) == bridge_mac(bridge_name)

import ipaddress
import json
import socket
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import replace

import pytest

from steelyard.compute.base import ApplianceSlot, ComputeDriver, PlacedAppliance
from steelyard.compute.netns import NetnsDriver
from steelyard.compute.netns_plan import DEFAULT_SYSCTLS, BridgeMissing, NameCollision
from steelyard.network.iproute import host_link, ip, ip_batch
from steelyard.network.names import NameScheme
from steelyard.network.namespaces import (
    NetnsState,
    netns_path,
    netns_state,
    read_sysctls,
    run_in_netns,
    write_sysctls,
)
from tests.support import HttpBackend, VipNetwork, http_get
from tests.support.processes import popen_in_netns

pytestmark = pytest.mark.root

Breaker = Callable[[NetnsDriver, ApplianceSlot], None]


@pytest.fixture
def appliance(netns_driver: NetnsDriver, vip_network: VipNetwork) -> ApplianceSlot:
    """A slot on the VIP network (IPv4, then IPv6), not yet ensured."""
    return ApplianceSlot("app-1", vip_network.placement())


@pytest.fixture
def server_in_appliance(
    netns_driver: NetnsDriver, appliance: ApplianceSlot
) -> Iterator[Callable[[], HttpBackend]]:
    """Starts an HTTP server whose socket lives inside the appliance's namespace, on the VIP."""
    started: list[HttpBackend] = []

    def start() -> HttpBackend:
        ns = netns_driver.netns_name(appliance.name)
        backend = run_in_netns(ns, lambda: HttpBackend("inside", address_of(appliance), 8080))
        started.append(backend)
        return backend

    yield start
    for backend in started:
        backend.stop()


def address_of(slot: ApplianceSlot) -> str:
    assert slot.vip.address is not None  # these tests place appliances, not spares
    return slot.vip.address


def vip_answers(slot: ApplianceSlot) -> bool:
    return http_get(address_of(slot), 8080).headers.get("X-Backend") == "inside"


def test_is_a_compute_driver(netns_driver: NetnsDriver) -> None:
    driver: ComputeDriver = netns_driver
    assert driver.name == "netns"


def test_vip_is_reachable_from_the_host(
    netns_driver: NetnsDriver,
    appliance: ApplianceSlot,
    server_in_appliance: Callable[[], HttpBackend],
) -> None:
    placed = netns_driver.ensure(appliance)
    assert placed == PlacedAppliance(name="app-1", netns="tc-app-1")
    server_in_appliance()
    assert vip_answers(appliance)


def test_namespace_is_set_up_as_documented(
    netns_driver: NetnsDriver, appliance: ApplianceSlot
) -> None:
    ns = netns_driver.ensure(appliance).netns
    assert ns is not None
    links = {link["ifname"]: link for link in json.loads(ip("link", netns=ns, json_out=True))}
    assert set(links) == {"lo", "eth0"}
    assert all("UP" in link["flags"] for link in links.values())
    vip = f"{appliance.vip.address}/{appliance.vip.prefixlen}"
    shown = json.loads(ip("addr", "show", "dev", "eth0", netns=ns, json_out=True))
    assert vip in {f"{a['local']}/{a['prefixlen']}" for a in shown[0]["addr_info"]}
    for family in (4, 6):  # the connected route only: nothing leaves the machine
        routes = json.loads(
            ip("route", "show", "table", "all", netns=ns, family=family, json_out=True)
        )
        assert all(r["dst"] != "default" for r in routes)
    assert read_sysctls(ns, DEFAULT_SYSCTLS) == {
        key: value.replace(" ", "\t") for key, value in DEFAULT_SYSCTLS.items()
    }
    veth = host_link(NameScheme("tc").veth("app-1"))
    assert veth is not None and veth.up and veth.master == appliance.vip.bridge


def test_ensure_twice_is_a_no_op(netns_driver: NetnsDriver, appliance: ApplianceSlot) -> None:
    netns_driver.ensure(appliance)
    veth = host_link(NameScheme("tc").veth("app-1"))
    assert netns_driver.plan(appliance).empty
    netns_driver.ensure(appliance)
    assert host_link(NameScheme("tc").veth("app-1")) == veth  # same link, not recreated


def _namespace_only(driver: NetnsDriver, slot: ApplianceSlot) -> None:
    driver.delete(slot.name)
    ip("netns", "add", driver.netns_name(slot.name))


def _stale_namespace_file(driver: NetnsDriver, slot: ApplianceSlot) -> None:
    driver.delete(slot.name)
    netns_path(driver.netns_name(slot.name)).touch()


def _pair_without_configuration(driver: NetnsDriver, slot: ApplianceSlot) -> None:
    driver.delete(slot.name)
    ns, veth = driver.netns_name(slot.name), NameScheme("tc").veth(slot.name)
    ip_batch([f"netns add {ns}", f"link add {veth} type veth peer name eth0 netns {ns}"])


def _in_namespace(*commands: str) -> Breaker:
    def run(driver: NetnsDriver, slot: ApplianceSlot) -> None:
        ip_batch(commands, netns=driver.netns_name(slot.name))

    return run


def _on_host(*commands: str) -> Breaker:
    def run(driver: NetnsDriver, slot: ApplianceSlot) -> None:
        veth = NameScheme("tc").veth(slot.name)
        ip_batch([command.format(veth=veth) for command in commands])

    return run


def _route_deleted(driver: NetnsDriver, slot: ApplianceSlot) -> None:
    ns = driver.netns_name(slot.name)
    for route in json.loads(
        ip(
            "route",
            "show",
            "dev",
            "eth0",
            netns=ns,
            json_out=True,
            family=6 if ":" in address_of(slot) else 4,
        )
    ):
        if not route["dst"].startswith("fe80"):
            ip("route", "del", route["dst"], "dev", "eth0", netns=ns)


def _sysctl_reset(driver: NetnsDriver, slot: ApplianceSlot) -> None:
    write_sysctls(driver.netns_name(slot.name), {"net.core.somaxconn": "4096"})


BREAKERS: dict[str, Breaker] = {
    "namespace only": _namespace_only,
    "stale namespace file": _stale_namespace_file,
    "pair without configuration": _pair_without_configuration,
    "vip removed": _in_namespace("addr flush dev eth0 scope global"),
    "links down": _in_namespace("link set eth0 down", "link set lo down"),
    "eth0 deleted": _in_namespace("link del eth0"),
    "veth detached": _on_host("link set {veth} nomaster down"),
    "veth alias lost": _on_host("link set {veth} alias ''"),
    "route deleted": _route_deleted,
    "sysctl reset": _sysctl_reset,
}


@pytest.mark.parametrize("breaker", list(BREAKERS.values()), ids=list(BREAKERS))
def test_ensure_repairs_a_half_done_appliance(
    netns_driver: NetnsDriver,
    appliance: ApplianceSlot,
    server_in_appliance: Callable[[], HttpBackend],
    breaker: Breaker,
) -> None:
    netns_driver.ensure(appliance)
    breaker(netns_driver, appliance)
    assert not netns_driver.plan(appliance).empty
    netns_driver.ensure(appliance)
    assert netns_driver.plan(appliance).empty
    server_in_appliance()
    assert vip_answers(appliance)


@pytest.fixture
def foreign_veth(netns_driver: NetnsDriver) -> Iterator[str]:
    """A link holding app-1's veth name but owned (by alias) by another namespace."""
    scheme = NameScheme("tc")
    name, peer = scheme.veth("app-1"), scheme.veth("foreign-peer")
    ip_batch([f"link add {name} type veth peer name {peer}", f"link set {name} alias tc-other"])
    yield name
    ip_batch([f"link del {peer}"])


def test_ensure_and_delete_leave_another_namespaces_veth_alone(
    netns_driver: NetnsDriver, appliance: ApplianceSlot, foreign_veth: str
) -> None:
    with pytest.raises(NameCollision, match="tc-other"):
        netns_driver.ensure(appliance)
    netns_driver.delete(appliance.name)
    link = host_link(foreign_veth)
    assert link is not None and link.alias == "tc-other"


def test_ensure_without_bridge_fails_and_creates_nothing(
    netns_driver: NetnsDriver, vip_network_v4: VipNetwork
) -> None:
    slot = ApplianceSlot("app-1", vip_network_v4.placement())
    vip_network_v4.close()
    with pytest.raises(BridgeMissing):
        netns_driver.ensure(slot)
    assert netns_state(netns_driver.netns_name("app-1")) is NetnsState.ABSENT


def test_delete_removes_namespace_and_veth(
    netns_driver: NetnsDriver, appliance: ApplianceSlot
) -> None:
    netns_driver.ensure(appliance)
    netns_driver.delete(appliance.name)
    assert netns_state("tc-app-1") is NetnsState.ABSENT
    assert host_link(NameScheme("tc").veth("app-1")) is None
    assert netns_driver.list_names() == []
    netns_driver.delete(appliance.name)  # idempotent


@pytest.fixture
def process_in_appliance(
    netns_driver: NetnsDriver, appliance: ApplianceSlot
) -> Iterator["subprocess.Popen[bytes]"]:
    """`sleep` running inside the ensured appliance's namespace; killed by PID at the end."""
    ns = netns_driver.ensure(appliance).netns
    assert ns is not None
    process = popen_in_netns(ns, ["sleep", "600"])
    yield process
    if process.poll() is None:
        process.kill()
    process.wait()


def test_delete_ends_processes_left_inside(
    netns_driver: NetnsDriver,
    appliance: ApplianceSlot,
    process_in_appliance: "subprocess.Popen[bytes]",
) -> None:
    netns_driver.delete(appliance.name)
    assert process_in_appliance.wait() < 0  # ended by a signal
    assert netns_state("tc-app-1") is NetnsState.ABSENT


@pytest.fixture
def other_prefix_driver() -> Iterator[NetnsDriver]:
    driver = NetnsDriver("tcpz", kill_grace=0.2)
    yield driver
    for name in driver.list_names():
        driver.delete(name)


def test_list_names_shows_only_this_prefix(
    netns_driver: NetnsDriver, other_prefix_driver: NetnsDriver, vip_network_v4: VipNetwork
) -> None:
    for name in ("app-b", "app-a"):
        netns_driver.ensure(ApplianceSlot(name, vip_network_v4.placement()))
    other_prefix_driver.ensure(ApplianceSlot("app-c", vip_network_v4.placement()))
    assert netns_driver.list_names() == ["app-a", "app-b"]
    assert other_prefix_driver.list_names() == ["app-c"]


def garps_until(capture: socket.socket, heard: Counter[str], address: str) -> None:
    """Count the gratuitous ARPs (sender and target the same address) captured, until one
    for `address` is among them (bounded polls)."""
    for _ in range(200):
        try:
            frame = capture.recv(2048)
        except BlockingIOError:
            time.sleep(0.01)
            continue
        if frame[12:14] == b"\x08\x06" and frame[28:32] == frame[38:42]:
            heard[str(ipaddress.IPv4Address(frame[28:32]))] += 1
        if heard[address]:
            return
    raise AssertionError(f"no gratuitous ARP for {address}; heard {dict(heard)}")


def test_a_vip_is_announced_when_asked_and_an_own_address_at_once(
    netns_driver: NetnsDriver, vip_network_v4: VipNetwork
) -> None:
    """SINGLE: the VIP is announced only once HAProxy serves it (the reconciler calls
    `announce`); an own address (ACTIVE_STANDBY, ACTIVE_ACTIVE) is announced when taken."""
    single = ApplianceSlot("app-1", replace(vip_network_v4.placement(), is_vip=True))
    paired = ApplianceSlot("app-2", vip_network_v4.placement())
    heard: Counter[str] = Counter()
    with socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0806)) as capture:
        capture.bind((vip_network_v4.bridge, 0))
        capture.setblocking(False)
        netns_driver.ensure(single)
        netns_driver.ensure(paired)
        garps_until(capture, heard, address_of(paired))  # sent after the VIP was taken
        assert heard[address_of(single)] == 0
        netns_driver.announce(single)
        garps_until(capture, heard, address_of(single))

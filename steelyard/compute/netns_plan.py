"""What `NetnsDriver.ensure` has to do, decided from what it observed (pure, no I/O).

Observe -> plan -> apply: the driver reads the host (sysfs) and the namespace (`ip -j`, sysctls),
`plan_ensure` turns that into the few commands that close the gap, and an empty plan means the
appliance is already as wanted. Whatever an earlier attempt left behind is just another
observed state, so a re-run after a crash finishes the job.

Addresses: `Desired.vip` goes on eth0, which may hold more (keepalived's VIPs): those stay.
`Desired.loopback` (the VIPs of an ACTIVE_ACTIVE appliance) go on ``lo`` as host addresses;
``lo`` is ours, so other non-loopback addresses there are removed, and a loopback VIP found on
eth0 is removed from it (it would answer ARP there and pull the VIP's traffic to itself).
"""

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from steelyard.network.bridge import address_commands
from steelyard.network.iproute import HostLink
from steelyard.network.names import NETNS_INTERFACE
from steelyard.network.namespaces import NetnsState

IPInterface = ipaddress.IPv4Interface | ipaddress.IPv6Interface

DEV = NETNS_INTERFACE

# Inside every appliance namespace (each namespace has its own copy of these).
DEFAULT_SYSCTLS: Mapping[str, str] = {
    # A standby HAProxy binds the VIP before keepalived moves it here.
    "net.ipv4.ip_nonlocal_bind": "1",
    "net.ipv6.ip_nonlocal_bind": "1",
    # Source ports for connections to members: the wider, the more concurrent connections.
    "net.ipv4.ip_local_port_range": "1024 65535",
    # Reuse TIME_WAIT source ports towards members instead of running out of them.
    "net.ipv4.tcp_tw_reuse": "1",
    # Listen backlogs: HAProxy asks for large ones; the kernel caps them at these.
    "net.core.somaxconn": "65535",
    "net.ipv4.tcp_max_syn_backlog": "65535",
    # No duplicate address detection: an IPv6 VIP (also one keepalived adds) works at once.
    "net.ipv6.conf.all.accept_dad": "0",
    "net.ipv6.conf.default.accept_dad": "0",
    f"net.ipv6.conf.{DEV}.accept_dad": "0",
}


# An appliance holding VIPs on lo must stay silent about them on the bridge, where the network's
# router answers for them: reply to ARP only for addresses of the interface asked on (eth0's
# own), and ask with eth0's own address as the source, never a VIP (a client would learn the
# VIP's MAC from the question). IPv6 needs nothing: Linux answers neighbour solicitations only
# for addresses on the interface asked on, and solicits from its link-local address.
LOOPBACK_VIP_SYSCTLS: Mapping[str, str] = {
    "net.ipv4.conf.all.arp_ignore": "1",
    f"net.ipv4.conf.{DEV}.arp_ignore": "1",
    "net.ipv4.conf.all.arp_announce": "2",
    f"net.ipv4.conf.{DEV}.arp_announce": "2",
}


class BridgeMissing(RuntimeError):
    """The VIP network's bridge does not exist; the network side must create it first."""


class NameCollision(RuntimeError):
    """The host-side veth name is held by a link that belongs to another namespace."""


@dataclass(frozen=True)
class Desired:
    netns: str
    veth: str  # host side
    bridge: str
    vip: IPInterface | None  # address and prefix length, on eth0 (None: a spare)
    sysctls: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_SYSCTLS))
    loopback: tuple[IPInterface, ...] = ()  # host addresses (/32, /128) on lo


@dataclass(frozen=True)
class HostView:
    netns: NetnsState
    bridge: HostLink | None
    veth: HostLink | None


@dataclass(frozen=True)
class NsLink:
    ifindex: int
    peer_ifindex: int | None  # set when the peer is in another namespace
    up: bool


@dataclass(frozen=True)
class NsView:
    links: Mapping[str, NsLink]
    addresses: frozenset[tuple[str, int]]  # on DEV, of the VIP's family
    routes: frozenset[str]  # main-table networks on DEV, of the VIP's family
    sysctls: Mapping[str, str | None]
    loopback: frozenset[tuple[str, int]] = frozenset()  # on lo, outside 127/8 and ::1


EMPTY_NS = NsView(links={}, addresses=frozenset(), routes=frozenset(), sysctls={})


@dataclass(frozen=True)
class EnsurePlan:
    unlink_stale_netns: bool = False
    ns_before: tuple[str, ...] = ()  # `ip -n <ns>` lines to run before the host's
    host: tuple[str, ...] = ()  # `ip` lines in the host namespace
    sysctls: Mapping[str, str] = field(default_factory=dict)  # written inside the namespace
    ns_after: tuple[str, ...] = ()  # `ip -n <ns>` lines to run last
    new_pair: bool = False  # the veth pair is (re)created: eth0 starts bare

    @property
    def empty(self) -> bool:
        return not (
            self.unlink_stale_netns or self.ns_before or self.host or self.sysctls or self.ns_after
        )


def parse_ns_view(
    docs: Sequence[Sequence[Mapping[str, Any]]], sysctls: Mapping[str, str | None]
) -> NsView:
    """Build an NsView from `ip -j -batch` output of: link show; addr show; route show."""
    link_doc, addr_doc, route_doc = docs
    links = {
        str(entry["ifname"]): NsLink(
            ifindex=int(entry["ifindex"]),
            peer_ifindex=int(entry["link_index"]) if "link_index" in entry else None,
            up="UP" in entry.get("flags", []),
        )
        for entry in link_doc
    }

    def on(link: str) -> frozenset[tuple[str, int]]:
        return frozenset(
            (str(ipaddress.ip_address(info["local"])), int(info["prefixlen"]))
            for entry in addr_doc
            if entry.get("ifname") == link
            for info in entry.get("addr_info", [])
        )

    loopback = frozenset(a for a in on("lo") if not ipaddress.ip_address(a[0]).is_loopback)
    routes = set()
    for route in route_doc:
        dst = route.get("dst", "")
        if route.get("dev") != DEV or dst == "default":
            continue
        routes.add(str(ipaddress.ip_network(dst, strict=False)))
    return NsView(
        links=links,
        addresses=on(DEV),
        routes=frozenset(routes),
        sysctls=sysctls,
        loopback=loopback,
    )


def _same(observed: str | None, wanted: str) -> bool:
    # The kernel prints "1024\t65535" for "1024 65535".
    return observed is not None and observed.split() == wanted.split()


def _connected_route(vip: IPInterface) -> str | None:
    """The line that restores the connected route of the VIP subnet (none for a /32 or /128)."""
    net = vip.network
    if net.prefixlen == net.max_prefixlen:
        return None
    if vip.version == 4:
        return f"route replace {net} dev {DEV} proto kernel scope link src {vip.ip}"
    return f"route replace {net} dev {DEV} proto kernel metric 256"


def _paired(veth: HostLink, eth0: NsLink) -> bool:
    """Are the host's veth and the namespace's eth0 the two ends of one pair?"""
    return veth.iflink == eth0.ifindex and eth0.peer_ifindex == veth.ifindex


def _loopback_commands(want: Desired, ns: NsView, on_dev: frozenset[tuple[str, int]]) -> list[str]:
    wanted = {(str(vip.ip), vip.network.prefixlen) for vip in want.loopback}
    wanted_ips = {ip for ip, _ in wanted}
    commands = [f"addr del {a}/{p} dev {DEV}" for a, p in sorted(on_dev) if a in wanted_ips]
    commands += [f"addr del {a}/{p} dev lo" for a, p in sorted(ns.loopback - wanted)]
    commands += [f"addr replace {a}/{p} dev lo" for a, p in sorted(wanted - ns.loopback)]
    return commands


def plan_ensure(want: Desired, host: HostView, ns: NsView | None) -> EnsurePlan:
    """The commands that take the observed state to the desired one; empty if it is there."""
    if host.bridge is None or not host.bridge.is_bridge:
        raise BridgeMissing(f"bridge {want.bridge} of the VIP network does not exist")
    if host.veth is not None and host.veth.alias not in ("", want.netns):
        # The alias records the owner. Empty means an interrupted create of ours (the name is a
        # hash of our namespace name), anything else is a hash collision we must not steal from.
        raise NameCollision(
            f"veth {want.veth} belongs to {host.veth.alias!r}, not to {want.netns!r}"
        )

    unlink_stale = host.netns is NetnsState.STALE
    ns_before: list[str] = []
    host_cmds: list[str] = []
    ns_after: list[str] = []
    if host.netns is not NetnsState.MOUNTED:
        host_cmds.append(f"netns add {want.netns}")
        ns = EMPTY_NS
    elif ns is None:
        raise ValueError(f"namespace {want.netns} exists: its observed state is needed")

    veth, eth0 = host.veth, ns.links.get(DEV)
    addresses: frozenset[tuple[str, int]] = frozenset()
    new_pair = False
    if veth is not None and eth0 is not None and _paired(veth, eth0):
        addresses = ns.addresses
        if veth.alias != want.netns:
            host_cmds.append(f"link set {want.veth} alias {want.netns}")
        if veth.master != want.bridge or not veth.up:
            host_cmds.append(f"link set {want.veth} master {want.bridge} up")
    else:
        # Half a pair (or halves of two different pairs) cannot be fixed in place: start over.
        if veth is not None:
            host_cmds.append(f"link del {want.veth}")
        if eth0 is not None:
            ns_before.append(f"link del {DEV}")
        host_cmds += [
            f"link add {want.veth} type veth peer name {DEV} netns {want.netns}",
            f"link set {want.veth} alias {want.netns}",
            f"link set {want.veth} master {want.bridge} up",
        ]
        eth0 = None
        new_pair = True

    lo = ns.links.get("lo")
    if lo is None or not lo.up:
        ns_after.append("link set lo up")
    if eth0 is None or not eth0.up:
        ns_after.append(f"link set {DEV} up")
    if want.vip is not None:
        ns_after += address_commands(DEV, want.vip, set(addresses))
        route = _connected_route(want.vip)
        # Adding the address adds its connected route; only a route lost later needs putting
        # back.
        has_vip = (str(want.vip.ip), want.vip.network.prefixlen) in addresses
        if route and has_vip and str(want.vip.network) not in ns.routes:
            ns_after.append(route)
    ns_after += _loopback_commands(want, ns, addresses)

    sysctls = {k: v for k, v in want.sysctls.items() if not _same(ns.sysctls.get(k), v)}
    return EnsurePlan(
        unlink_stale_netns=unlink_stale,
        ns_before=tuple(ns_before),
        host=tuple(host_cmds),
        sysctls=sysctls,
        ns_after=tuple(ns_after),
        new_pair=new_pair,
    )

"""What a network's ECMP router has to do for its VIPs, decided from what it observed (pure).

The router of a VIP network is a namespace with two links on the network's bridge:

    eth0   a veth like an appliance's, holding the router's address; the appliances'
           nexthops are reached through it, so every forwarded packet leaves through it;
    front  a macvlan on eth0 (own MAC, no address): it answers ARP and neighbour
           solicitations for the VIPs (proxy entries) and so receives the clients' packets.

Why two: Linux answers a proxy ARP entry only when the route to the address leaves through
another interface than the one the request came in on (`arp_process`: ``rt->dst.dev != dev``);
with eth0 alone the router stays silent (seen on kernel 6.18, with and without proxy_arp).
With two, the router never forwards a packet back out the interface it came in on, so it sends
no ICMP redirects either (IPv6 has no switch to turn those off).

Per VIP: a proxy entry on front, a resilient nexthop group over the appliances' own addresses,
and a host route (/32, /128) through the group. One nexthop object per appliance address,
shared by every group that uses it. Ids are the lowest free ones at planning time; the route
records which group is the VIP's, the group which members. Objects no route uses any more
(left by a removal or an interrupted run) are deleted: the router namespace holds nothing else.
"""

import ipaddress
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from steelyard.network.names import NETNS_INTERFACE

BACK = NETNS_INTERFACE  # "eth0": the router's address, the way to the appliances
FRONT = "front"

# Set on front, which exists only after `ensure_router` made it (the namespace-wide ones are
# in steelyard.network.ecmp.ROUTER_SYSCTLS).
FRONT_SYSCTLS: Mapping[str, str] = {
    # Answer at once: by default a proxy answers a broadcast request after a random delay of
    # up to 0.8 s, which every client would wait for on its first connection.
    f"net.ipv4.neigh.{FRONT}.proxy_delay": "0",
    f"net.ipv6.neigh.{FRONT}.proxy_delay": "0",
    # Packets come in on front while the way back to their source is eth0: a reverse-path
    # filter would drop them.
    f"net.ipv4.conf.{FRONT}.rp_filter": "0",
}


class RouterBroken(RuntimeError):
    """The router's namespace or eth0 is missing: `ensure_router` has to run first."""


@dataclass(frozen=True)
class Resilient:
    """Arguments of a VIP's resilient nexthop group (see the kernel's nexthop-group-resilient).

    `buckets` is fixed for a group's life (a change makes a new group, rehashing every flow).
    A bucket moves to a new member only after `idle_timer` seconds without a packet; 60 s is
    more than HAProxy's default client timeout (50 s), so such a bucket carries no live
    connection. `unbalanced_timer` > 0 moves busy buckets too once the group has been
    unbalanced that long (breaking their connections); 0 never does. A removed member's
    buckets move at once whatever the timers say.
    """

    buckets: int = 128
    idle_timer: int = 60
    unbalanced_timer: int = 0

    def __post_init__(self) -> None:
        if not 1 <= self.buckets <= 32768:
            raise ValueError(f"buckets {self.buckets} must be 1-32768")
        if self.idle_timer < 0 or self.unbalanced_timer < 0:
            raise ValueError("resilient group timers must not be negative")

    @property
    def args(self) -> str:
        return (
            f"type resilient buckets {self.buckets} idle_timer {self.idle_timer} "
            f"unbalanced_timer {self.unbalanced_timer}"
        )


@dataclass(frozen=True)
class Nexthop:
    """One nexthop object as `ip -j nexthop show` describes it."""

    id: int
    gateway: str | None = None  # a member: the appliance address
    dev: str | None = None
    onlink: bool = False
    members: frozenset[tuple[int, int]] | None = None  # a group: (id, weight) pairs
    resilient: Resilient | None = None  # a resilient group's arguments


@dataclass(frozen=True)
class RouterView:
    links: Mapping[str, bool]  # name -> up
    macvlans: Mapping[str, str | None]  # macvlan name -> its lower link
    nexthops: Mapping[int, Nexthop]
    routes: Mapping[str, int | None]  # main-table host routes: address -> nhid (None: no group)
    proxies: frozenset[tuple[str, str]]  # (address, link) proxy neighbour entries
    sysctls: Mapping[str, str | None]


@dataclass(frozen=True)
class RouterPlan:
    links: tuple[str, ...] = ()  # `ip -n <router>` lines, first
    sysctls: Mapping[str, str] = field(default_factory=dict)  # then these, inside the router
    routes: tuple[str, ...] = ()  # then nexthops, routes and proxy entries, in this order
    new_front: bool = False  # front is (re)made: the proxy entries on the old one are gone

    @property
    def empty(self) -> bool:
        return not (self.links or self.sysctls or self.routes)


def _host(text: str) -> str:
    return str(ipaddress.ip_address(text))


def parse_router_view(
    docs: Sequence[Sequence[Mapping[str, Any]]], sysctls: Mapping[str, str | None]
) -> RouterView:
    """Build a RouterView from `ip -j -batch` output of: link show; link show type macvlan;
    nexthop show; route show table all; neigh show proxy."""
    link_doc, macvlan_doc, nexthop_doc, route_doc, proxy_doc = docs
    nexthops = {}
    for entry in nexthop_doc:
        group = entry.get("group")
        res = entry.get("resilient_args")
        nexthops[int(entry["id"])] = Nexthop(
            id=int(entry["id"]),
            gateway=_host(entry["gateway"]) if "gateway" in entry else None,
            dev=entry.get("dev"),
            onlink="onlink" in entry.get("flags", []),
            members=None
            if group is None
            else frozenset((int(m["id"]), int(m.get("weight", 1))) for m in group),
            resilient=None
            if res is None
            else Resilient(
                int(res["buckets"]), int(res["idle_timer"]), int(res["unbalanced_timer"])
            ),
        )
    routes: dict[str, int | None] = {}
    for route in route_doc:
        dst = route.get("dst", "default")
        if "table" in route or dst == "default":  # only the main table has no "table" key
            continue
        net = ipaddress.ip_network(dst, strict=False)
        if net.prefixlen == net.max_prefixlen:
            nhid = route.get("nhid")
            routes[str(net.network_address)] = None if nhid is None else int(nhid)
    return RouterView(
        links={str(e["ifname"]): "UP" in e.get("flags", []) for e in link_doc},
        macvlans={str(e["ifname"]): e.get("link") for e in macvlan_doc},
        nexthops=nexthops,
        routes=routes,
        proxies=frozenset((_host(e["dst"]), str(e["dev"])) for e in proxy_doc),
        sysctls=sysctls,
    )


def _same(observed: str | None, wanted: str) -> bool:
    return observed is not None and observed.split() == wanted.split()


def plan_front(view: RouterView) -> RouterPlan:
    """Make front (a macvlan on eth0, up) and its sysctls; raise if eth0 itself is missing."""
    if BACK not in view.links:
        raise RouterBroken(f"the router has no {BACK}: ensure_router must run first")
    links: list[str] = []
    sysctls = {k: v for k, v in FRONT_SYSCTLS.items() if not _same(view.sysctls.get(k), v)}
    if view.macvlans.get(FRONT) != BACK:
        if FRONT in view.links:
            links.append(f"link del {FRONT}")
        links += [
            f"link add {FRONT} link {BACK} type macvlan mode bridge",
            f"link set {FRONT} up",
        ]
        sysctls = dict(FRONT_SYSCTLS)  # a new link starts with the defaults
        return RouterPlan(links=tuple(links), sysctls=sysctls, new_front=True)
    if not view.links[FRONT]:
        links.append(f"link set {FRONT} up")
    return RouterPlan(links=tuple(links), sysctls=sysctls)


def _free_ids(taken: Iterable[int]) -> Iterator[int]:
    used = set(taken)
    candidate = 1
    while True:
        if candidate not in used:
            yield candidate
        candidate += 1


def _member(view: RouterView, gateway: str) -> Nexthop | None:
    """The nexthop object of an appliance address (the lowest id if several)."""
    found = [nh for nh in view.nexthops.values() if nh.members is None and nh.gateway == gateway]
    return min(found, key=lambda nh: nh.id, default=None)


def _garbage(
    view: RouterView, routes: Mapping[str, int | None], groups: Mapping[int, Iterable[int]]
) -> list[str]:
    """Delete what no route uses once `routes` and `groups` (the state after the plan) hold."""
    used = {nhid for nhid in routes.values() if nhid is not None}
    members = {m for gid in used for m in groups.get(gid, ())}
    unused_groups = sorted(gid for gid in groups if gid not in used)
    unused_members = sorted(
        nh.id
        for nh in view.nexthops.values()
        if nh.members is None and nh.id not in used and nh.id not in members
    )
    # Groups first: a member still in some group cannot be deleted on its own.
    return [f"nexthop del id {nhid}" for nhid in unused_groups + unused_members]


def _group_members(view: RouterView) -> dict[int, list[int]]:
    return {
        nh.id: [m for m, _ in nh.members] for nh in view.nexthops.values() if nh.members is not None
    }


def _vip_and_members(
    vip: str, members: Iterable[str]
) -> tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, list[str]]:
    address = ipaddress.ip_address(vip)
    gateways = sorted({ipaddress.ip_address(m) for m in members})
    for gateway in gateways:
        if gateway.version != address.version or gateway == address:
            raise ValueError(
                f"nexthop {gateway} of VIP {address}: must be another address of its family"
            )
    return address, [str(g) for g in gateways]


def plan_vip(
    view: RouterView, vip: str, members: Iterable[str], resilient: Resilient = Resilient()
) -> RouterPlan:
    """Route `vip` over the appliances at `members` (their own addresses) and answer for it on
    front; with no members, remove it. Members kept from before keep their buckets."""
    address, gateways = _vip_and_members(vip, members)
    if not gateways:
        return plan_remove_vip(view, vip)
    front = plan_front(view)
    ids = _free_ids(view.nexthops)
    commands: list[str] = []
    member_ids = []
    for gateway in gateways:
        nh = _member(view, gateway)
        if nh is None:
            nh = Nexthop(id=next(ids))
            commands.append(f"nexthop add id {nh.id} via {gateway} dev {BACK} onlink")
        elif nh.dev != BACK or not nh.onlink:
            commands.append(f"nexthop replace id {nh.id} via {gateway} dev {BACK} onlink")
        member_ids.append(nh.id)

    spec = f"group {'/'.join(map(str, member_ids))} {resilient.args}"
    routes = dict(view.routes)
    groups = _group_members(view)
    nhid = routes.get(str(address))
    current = None if nhid is None else view.nexthops.get(nhid)
    if current and current.resilient and current.resilient.buckets == resilient.buckets:
        wanted = frozenset((m, 1) for m in member_ids)
        if current.members != wanted or current.resilient != resilient:
            commands.append(f"nexthop replace id {current.id} {spec}")
        groups[current.id] = member_ids
    else:  # no route, a route that is not ours, or a group that cannot become the wanted one
        gid = next(ids)
        commands += [
            f"nexthop add id {gid} {spec}",
            f"route replace {address}/{address.max_prefixlen} nhid {gid}",
        ]
        routes[str(address)] = gid
        groups[gid] = member_ids
    proxies = frozenset() if front.new_front else view.proxies  # they went with the old front
    if (str(address), FRONT) not in proxies:
        # Last: the router answers for the VIP only once it can forward its traffic.
        commands.append(f"neigh replace proxy {address} dev {FRONT}")
    commands += _garbage(view, routes, groups)
    return replace(front, routes=tuple(commands))


def plan_remove_vip(view: RouterView, vip: str) -> RouterPlan:
    """Stop answering for `vip`, drop its route, and delete what only it used."""
    address = ipaddress.ip_address(vip)
    commands = []
    for proxy_address, link in sorted(view.proxies):
        if proxy_address == str(address):
            commands.append(f"neigh del proxy {address} dev {link}")
    routes = dict(view.routes)
    if str(address) in routes:
        del routes[str(address)]
        commands.append(f"route del {address}/{address.max_prefixlen}")
    commands += _garbage(view, routes, _group_members(view))
    return RouterPlan(routes=tuple(commands))


def vip_members(view: RouterView) -> dict[str, tuple[str, ...]]:
    """Each VIP routed through a group, with the appliance addresses of the group."""
    result = {}
    for dst, nhid in view.routes.items():
        group = view.nexthops.get(nhid) if nhid is not None else None
        if group is None or group.members is None:
            continue
        gateways = (view.nexthops.get(m) for m, _ in group.members)
        found = sorted(ipaddress.ip_address(nh.gateway) for nh in gateways if nh and nh.gateway)
        result[dst] = tuple(map(str, found))
    return result

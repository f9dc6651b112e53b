"""ECMP routers for ACTIVE_ACTIVE VIPs: one router namespace per VIP network (needs root).

Clients on the VIP network resolve a VIP to the router (proxy ARP / NDP on its ``front``
link), the router spreads their flows with an L4 hash over a resilient nexthop group of the
appliances' own addresses, and each appliance, holding the VIP on its loopback
(`VipPlacement.loopback_vips`), answers the client directly. Losing an appliance moves only
its flows; adding one takes over idle buckets. How the router is wired and why: see
`steelyard.network.ecmp_plan`.

Every method is idempotent and repairs what it observes (observe -> pure plan -> apply). On
the 2-core test machine (loaded) a no-op `ensure_vip` takes ~6-12 ms (one `ip` process and one
short thread for sysctls), a no-op `ensure_router` ~14-20 ms, a fresh router ~25 ms. Calls for
routers of one prefix are serialised by a lock file, so worker threads and processes on one
host can share the routers.

    routers = EcmpRouters("sy")
    routers.ensure_router("net-1", "198.18.0.2", 24, bridge)   # after the bridge exists
    routers.ensure_vip("net-1", "198.18.0.10", ["198.18.0.11", "198.18.0.12"])
    routers.remove_vip("net-1", "198.18.0.10")
    routers.delete_router("net-1")
"""

import contextlib
import fcntl
import ipaddress
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from steelyard.compute.netns import apply, delete_namespace, observe
from steelyard.compute.netns_plan import DEFAULT_SYSCTLS, Desired, EnsurePlan, plan_ensure
from steelyard.network.ecmp_plan import (
    FRONT_SYSCTLS,
    Resilient,
    RouterBroken,
    RouterPlan,
    RouterView,
    parse_router_view,
    plan_front,
    plan_remove_vip,
    plan_vip,
    vip_members,
)
from steelyard.network.iproute import ip_batch, ip_json_batch
from steelyard.network.names import DEFAULT_PREFIX, NameScheme
from steelyard.network.namespaces import (
    NetnsState,
    list_netns,
    netns_state,
    read_sysctls,
    write_sysctls,
)

LOCK_DIR = Path("/run/lock")

_DAD_OFF = {k: v for k, v in DEFAULT_SYSCTLS.items() if k.endswith(".accept_dad")}

# Inside every router namespace (front's own are in ecmp_plan.FRONT_SYSCTLS).
ROUTER_SYSCTLS: Mapping[str, str] = {
    "net.ipv4.ip_forward": "1",
    "net.ipv6.conf.all.forwarding": "1",
    # Hash on the five-tuple, not the addresses only: one client's connections spread too.
    "net.ipv4.fib_multipath_hash_policy": "1",
    "net.ipv6.fib_multipath_hash_policy": "1",
    # front has no address of its own: it must not answer ARP for eth0's.
    "net.ipv4.conf.all.arp_ignore": "1",
    # Packets come in on front, their source is reached through eth0 (see FRONT_SYSCTLS).
    "net.ipv4.conf.all.rp_filter": "0",
    # Answer neighbour solicitations for the VIPs' proxy entries.
    "net.ipv6.conf.all.proxy_ndp": "1",
    # IPv6 addresses usable at once, front's link-local included ("default" covers links
    # made later).
    **_DAD_OFF,
}

_OBSERVE = [
    "link show",
    "link show type macvlan",
    "nexthop show",
    "route show table all",
    "neigh show proxy",
]


def lock_path(prefix: str, lock_dir: Path = LOCK_DIR) -> Path:
    return lock_dir / f"steelyard-ecmp-{prefix}.lock"


class EcmpRouters:
    """The ECMP routers of one resource prefix, named after their network (`NameScheme`).

    `resilient` sets every VIP's nexthop group (buckets and timers); `kill_grace` is how long
    `delete_router` lets a process left in the namespace exit before SIGKILL.
    """

    def __init__(
        self,
        prefix: str = DEFAULT_PREFIX,
        *,
        resilient: Resilient = Resilient(),
        kill_grace: float = 1.0,
        lock_dir: Path = LOCK_DIR,
    ) -> None:
        self.names = NameScheme(prefix)
        self.resilient = resilient
        self.kill_grace = kill_grace
        self._lock_path = lock_path(prefix, lock_dir)

    def netns_name(self, network: str) -> str:
        return self.names.router(network)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        # flock conflicts between separate open()s, also of one process: threads included.
        self._lock_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self._lock_path, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield  # closing the file releases the lock

    def _desired(self, network: str, router_address: str, prefixlen: int, bridge: str) -> Desired:
        return Desired(
            netns=self.names.router(network),
            veth=self.names.router_veth(network),
            bridge=bridge,
            vip=ipaddress.ip_interface(f"{router_address}/{prefixlen}"),
            sysctls=ROUTER_SYSCTLS,
        )

    def _observe(self, network: str) -> RouterView:
        ns = self.names.router(network)
        if netns_state(ns) is not NetnsState.MOUNTED:
            raise RouterBroken(f"router {ns} does not exist: ensure_router must run first")
        docs = ip_json_batch(_OBSERVE, netns=ns)
        return parse_router_view(docs, read_sysctls(ns, FRONT_SYSCTLS))

    def _apply(self, network: str, plan: RouterPlan) -> None:
        ns = self.names.router(network)
        if plan.sysctls:  # front's sysctls exist once front does
            ip_batch(plan.links, netns=ns)
            write_sysctls(ns, plan.sysctls)
            ip_batch(plan.routes, netns=ns)
        else:
            ip_batch(plan.links + plan.routes, netns=ns)

    def plan_router(
        self, network: str, router_address: str, prefixlen: int, bridge: str
    ) -> tuple[EnsurePlan, RouterPlan | None]:
        """What `ensure_router` would do now: the namespace and eth0, then front (None when
        there is no namespace to look at yet). Changes nothing."""
        want = self._desired(network, router_address, prefixlen, bridge)
        wiring = plan_ensure(want, *observe(want))
        if netns_state(want.netns) is not NetnsState.MOUNTED:
            return wiring, None
        return wiring, plan_front(self._observe(network))

    def ensure_router(self, network: str, router_address: str, prefixlen: int, bridge: str) -> bool:
        """Create (or repair) the network's router on `bridge`, holding `router_address`.

        Returns True when eth0 or front was made anew: the VIPs' nexthops, routes and proxy
        entries went with the old ones, so every VIP of the network needs `ensure_vip` again.
        """
        want = self._desired(network, router_address, prefixlen, bridge)
        with self._locked():
            wiring = plan_ensure(want, *observe(want))
            apply(want, wiring)
            front = plan_front(self._observe(network))
            self._apply(network, front)
        return wiring.new_pair or front.new_front

    def plan_vip(self, network: str, vip: str, nexthops: Sequence[str]) -> RouterPlan:
        """What `ensure_vip` would do now; changes nothing."""
        return plan_vip(self._observe(network), vip, nexthops, self.resilient)

    def ensure_vip(self, network: str, vip: str, nexthops: Sequence[str]) -> None:
        """Route `vip` over the appliances whose own addresses are `nexthops`, and answer for
        it on the network. Members that stay keep their flows; an empty list removes the VIP.
        """
        with self._locked():
            view = self._observe(network)
            self._apply(network, plan_vip(view, vip, nexthops, self.resilient))

    def remove_vip(self, network: str, vip: str) -> None:
        """Stop answering for `vip` and forget its route; nothing to do if the router is gone."""
        with self._locked():
            if netns_state(self.names.router(network)) is not NetnsState.MOUNTED:
                return
            self._apply(network, plan_remove_vip(self._observe(network), vip))

    def vips(self, network: str) -> dict[str, tuple[str, ...]]:
        """The VIPs the router routes now, each with its appliances' addresses."""
        return vip_members(self._observe(network))

    def delete_router(self, network: str) -> None:
        """Remove the router's namespace and veth; no error if they are already gone."""
        with self._locked():
            delete_namespace(
                self.names.router(network), self.names.router_veth(network), self.kill_grace
            )

    def list_routers(self) -> list[str]:
        """Namespaces of this prefix's routers on this host (for orphan clean-up)."""
        return [ns for ns in list_netns() if self.names.owns_router(ns)]

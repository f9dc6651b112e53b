"""The `netns` compute driver: each appliance in its own network namespace (needs root).

An appliance's namespace holds ``lo`` and ``eth0``, the inside end of a veth whose host end is a
port of the VIP network's bridge; ``eth0`` carries the placement's address with its prefix
length, so the connected route of the VIP subnet is the namespace's only route (no default
route: nothing leaves the machine). An ACTIVE_ACTIVE appliance also holds its VIPs on ``lo``
and keeps quiet about them on the bridge (see `VipPlacement`). Names follow
`steelyard.network.names`.

`observe`, `apply` and `delete_namespace` serve any namespace wired this way; the network's
ECMP router (`steelyard.network.ecmp`) is one too.

Speed (measured on a 2-core test machine): a fresh appliance costs two `ip -batch` processes and
one short-lived thread for the sysctls, ~10 ms; a no-op `ensure` costs one `ip` process to
observe, ~5 ms. `delete` takes ~35 ms, nearly all of it the kernel unregistering the veth.
"""

import contextlib
import ipaddress
import os
from collections.abc import Mapping

from steelyard.compute.base import ApplianceSlot, PlacedAppliance
from steelyard.compute.netns_plan import (
    DEFAULT_SYSCTLS,
    LOOPBACK_VIP_SYSCTLS,
    Desired,
    EnsurePlan,
    HostView,
    IPInterface,
    NsView,
    parse_ns_view,
    plan_ensure,
)
from steelyard.network.garp import announce
from steelyard.network.iproute import IpCommandError, host_link, ip_batch, ip_json_batch
from steelyard.network.names import DEFAULT_PREFIX, NETNS_INTERFACE, NameScheme
from steelyard.network.namespaces import (
    NetnsState,
    kill_netns_processes,
    list_netns,
    netns_path,
    netns_state,
    read_sysctls,
    write_sysctls,
)


def observe(want: Desired) -> tuple[HostView, NsView | None]:
    """Read the current state: sysfs for the host, one `ip -j -batch` inside the namespace."""
    host = HostView(
        netns=netns_state(want.netns),
        bridge=host_link(want.bridge),
        veth=host_link(want.veth),
    )
    if host.netns is not NetnsState.MOUNTED:
        return host, None
    docs = ip_json_batch(
        ["link show", "addr show", "route show table main"],
        netns=want.netns,
        family=want.vip.version if want.vip is not None else 4,
    )
    return host, parse_ns_view(docs, read_sysctls(want.netns, want.sysctls))


def apply(want: Desired, plan: EnsurePlan) -> None:
    """Run an ensure plan. Each step is idempotent on its own; if one fails, the next ensure
    observes how far this one got and plans only the rest."""
    if plan.unlink_stale_netns:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(netns_path(want.netns))
    ip_batch(plan.ns_before, netns=want.netns)
    ip_batch(plan.host)
    write_sysctls(want.netns, plan.sysctls)
    ip_batch(plan.ns_after, netns=want.netns)


def delete_namespace(ns: str, veth: str, kill_grace: float) -> None:
    """Remove namespace `ns`, its veth (host end `veth`), and any process still inside."""
    state = netns_state(ns)
    if state is NetnsState.MOUNTED:
        # A process inside would keep the namespace (and its veth peer) alive after
        # `netns del`; HAProxy and friends should be stopped by now, stragglers are ended.
        kill_netns_processes(ns, kill_grace)
    elif state is NetnsState.STALE:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(netns_path(ns))
    commands = []
    link = host_link(veth)
    owned_veth = link is not None and link.alias in ("", ns)
    if owned_veth:
        # Deleting the host end removes the pair at once; `netns del` alone leaves the
        # kernel to clean up the namespace's links asynchronously.
        commands.append(f"link del {veth}")
    if state is NetnsState.MOUNTED:
        commands.append(f"netns del {ns}")
    try:
        ip_batch(commands, force=True)
    except IpCommandError:
        left = netns_state(ns) is not NetnsState.ABSENT or (
            owned_veth and host_link(veth) is not None
        )
        if left:
            raise  # a failure that left nothing behind (removed concurrently) is fine


class NetnsDriver:
    """Places appliances in network namespaces wired to Linux bridges. Every method is idempotent.

    `prefix` keeps the names of one deployment (or one test run) apart from every other's;
    `sysctls` are set inside each namespace; `kill_grace` is how long `delete` lets processes
    left in a namespace exit after SIGTERM before it sends SIGKILL.

    `ensure` adds the slot's address to eth0 but never removes other addresses there: VIPs that
    keepalived moves in belong to keepalived.
    """

    name = "netns"

    def __init__(
        self,
        prefix: str = DEFAULT_PREFIX,
        *,
        sysctls: Mapping[str, str] = DEFAULT_SYSCTLS,
        kill_grace: float = 1.0,
    ) -> None:
        self.names = NameScheme(prefix)
        self.sysctls = dict(sysctls)
        self.kill_grace = kill_grace

    def netns_name(self, appliance: str) -> str:
        return self.names.netns(appliance)

    def desired(self, slot: ApplianceSlot) -> Desired:
        vip = slot.vip
        if vip.bridge is None:
            raise ValueError(f"appliance {slot.name}: the netns driver needs the VIP's bridge")
        if vip.address is None:  # a spare: wired, no address yet
            return Desired(
                netns=self.names.netns(slot.name),
                veth=self.names.veth(slot.name),
                bridge=vip.bridge,
                vip=None,
                sysctls=dict(self.sysctls),
            )
        address = ipaddress.ip_interface(f"{vip.address}/{vip.prefixlen}")
        loopback = tuple(_loopback_vip(slot.name, text, address) for text in vip.loopback_vips)
        sysctls = dict(self.sysctls)
        if any(lo.version == 4 for lo in loopback):
            sysctls |= LOOPBACK_VIP_SYSCTLS
        return Desired(
            netns=self.names.netns(slot.name),
            veth=self.names.veth(slot.name),
            bridge=vip.bridge,
            vip=address,
            sysctls=sysctls,
            loopback=loopback,
        )

    def plan(self, slot: ApplianceSlot) -> EnsurePlan:
        """What `ensure` would do now (empty when the appliance is as wanted); changes nothing."""
        want = self.desired(slot)
        return plan_ensure(want, *observe(want))

    def ensure(self, slot: ApplianceSlot) -> PlacedAppliance:
        want = self.desired(slot)
        plan = plan_ensure(want, *observe(want))
        apply(want, plan)
        taken = any(line.startswith("addr ") for line in plan.ns_after)
        if want.vip is not None and taken and not slot.vip.is_vip:
            # It may have been a dead appliance's address: neighbours learn the new MAC now.
            announce(want.netns, NETNS_INTERFACE, [str(want.vip.ip)])
        return PlacedAppliance(name=slot.name, netns=want.netns)

    def announce(self, slot: ApplianceSlot) -> None:
        if slot.vip.address is not None:
            announce(self.names.netns(slot.name), NETNS_INTERFACE, [slot.vip.address])

    def delete(self, name: str) -> None:
        """Remove the appliance's namespace, its veth, and any process still inside."""
        delete_namespace(self.names.netns(name), self.names.veth(name), self.kill_grace)

    def list_names(self) -> list[str]:
        """Appliances whose namespace carries this driver's prefix."""
        found = (self.names.appliance_of(ns) for ns in list_netns())
        return sorted(name for name in found if name is not None)


def _loopback_vip(appliance: str, text: str, address: IPInterface) -> IPInterface:
    """A loopback VIP as a host address; it must be of eth0's family (the router reaches it
    through eth0's address) and not eth0's address itself."""
    vip = ipaddress.ip_address(text)
    if vip.version != address.version or vip == address.ip:
        raise ValueError(
            f"appliance {appliance}: loopback VIP {vip} must be another address of the "
            f"family of {address.ip}"
        )
    return ipaddress.ip_interface(f"{vip}/{vip.max_prefixlen}")

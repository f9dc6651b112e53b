"""VIP networks on this host: a Linux bridge per `bridge` network (netns appliances attach to
it; its gateway address lets host processes be clients and members), nothing for loopback."""

import ipaddress
import threading

from steelyard.db.snapshot import VipNetwork
from steelyard.network.bridge import ensure_bridge
from steelyard.network.iproute import host_link
from steelyard.network.names import NameScheme


class HostVipNetworks:
    def __init__(self, scheme: NameScheme) -> None:
        self._scheme = scheme
        self._lock = threading.Lock()
        self._ensured: set[str] = set()

    def ensure(self, network: VipNetwork) -> str | None:
        if network.kind != "bridge":
            return None
        if network.gateway_ip is None:
            raise ValueError(f"network {network.network_id} has no gateway for its bridge")
        bridge = self._scheme.bridge(network.network_id)
        link = host_link(bridge)
        # Reading sysfs is cheap; the full ensure (several `ip` calls) runs once per bridge per
        # process, and again whenever the bridge is found missing or down.
        if bridge in self._ensured and link is not None and link.is_bridge and link.up:
            return bridge
        with self._lock:
            prefixlen = ipaddress.ip_network(network.cidr).prefixlen
            ensure_bridge(bridge, f"{network.gateway_ip}/{prefixlen}")
            self._ensured.add(bridge)
        return bridge

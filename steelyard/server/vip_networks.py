"""VIP networks on this host: a Linux bridge per `bridge` network (netns appliances attach to
it; its gateway address lets host processes be clients and members), nothing for loopback."""

import ipaddress
import threading

from steelyard.db.snapshot import VipNetwork
from steelyard.network.bridge import ensure_bridge
from steelyard.network.names import NameScheme


class HostVipNetworks:
    """Called on the reconciler's full ensures only (its placement cache skips the rest)."""

    def __init__(self, scheme: NameScheme) -> None:
        self._scheme = scheme
        self._lock = threading.Lock()  # two workers must not create one bridge at once

    def ensure(self, network: VipNetwork) -> str | None:
        if network.kind != "bridge":
            return None
        if network.gateway_ip is None:
            raise ValueError(f"network {network.network_id} has no gateway for its bridge")
        bridge = self._scheme.bridge(network.network_id)
        prefixlen = ipaddress.ip_network(network.cidr).prefixlen
        with self._lock:
            ensure_bridge(bridge, f"{network.gateway_ip}/{prefixlen}")
        return bridge

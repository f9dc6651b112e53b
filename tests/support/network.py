"""`VipNetwork`: a test network (a bridge holding the gateway), removed when the test ends."""

import ipaddress
import weakref

from steelyard.compute.base import VipPlacement
from steelyard.network import ipam
from steelyard.network.bridge import delete_bridge, ensure_bridge
from steelyard.network.names import NameScheme


class VipNetwork:
    """A Linux bridge named by `prefix`'s scheme, with the subnet's gateway on the host side.

    Use as a context manager (or call `close()`); it is also removed at garbage collection or
    interpreter exit, so a failing test cannot leave the bridge behind. `allocate()` hands out
    addresses that are unique within this object (VIPs, members).
    """

    def __init__(
        self,
        prefix: str,
        cidr: str,
        *,
        network_id: str | None = None,
        gateway: str | None = None,
    ) -> None:
        self.names = NameScheme(prefix)
        self.cidr = str(ipaddress.ip_network(cidr))
        self.prefixlen = ipaddress.ip_network(cidr).prefixlen
        self.gateway = gateway or ipam.default_gateway(self.cidr)
        self.bridge = self.names.bridge(network_id or self.cidr)
        self._used: set[str] = set()
        self._finalizer = weakref.finalize(self, delete_bridge, self.bridge)
        try:
            ensure_bridge(self.bridge, f"{self.gateway}/{self.prefixlen}")
        except BaseException:
            self.close()
            raise

    @property
    def prefix(self) -> str:
        return self.names.prefix

    def allocate(self, address: str | None = None) -> str:
        """Reserve `address` (checked: in the subnet, not the gateway, not taken) or the next
        free one, and return it."""
        if address is None:
            address = ipam.allocate(self.cidr, gateway=self.gateway, used=self._used)
        else:
            address = ipam.validate(self.cidr, address, gateway=self.gateway, used=self._used)
        self._used.add(address)
        return address

    def placement(self, address: str | None = None) -> VipPlacement:
        """A VipPlacement on this network, for `address` or the next free one."""
        return VipPlacement(
            address=self.allocate(address),
            prefixlen=self.prefixlen,
            bridge=self.bridge,
            gateway=self.gateway,
        )

    def close(self) -> None:
        self._finalizer()

    def __enter__(self) -> "VipNetwork":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

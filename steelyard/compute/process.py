"""The `process` compute driver: appliances are plain processes on this host (no root).

Every address of 127.0.0.0/8 is local on Linux (the loopback route covers the whole /8), so a
VIP such as 127.226.0.10 needs no interface, no address and no namespace: HAProxy just binds it.
There is nothing to create and nothing to remove.
"""

import ipaddress

from steelyard.compute.base import ApplianceSlot, PlacedAppliance

LOOPBACK = ipaddress.ip_network("127.0.0.0/8")


class ProcessDriver:
    """Places appliances on the host itself, with loopback VIPs. SINGLE topology only."""

    name = "process"

    def __init__(self) -> None:
        self._known: set[str] = set()

    @staticmethod
    def check_vip(slot: ApplianceSlot) -> None:
        """Raise ValueError unless the VIP is a loopback address this driver can serve."""
        if slot.vip.address is None:
            raise ValueError(f"appliance {slot.name}: the process driver keeps no spares")
        try:
            address = ipaddress.ip_address(slot.vip.address)
        except ValueError as exc:
            raise ValueError(f"appliance {slot.name}: {exc}") from exc
        if address.version != 4 or address not in LOOPBACK:
            raise ValueError(
                f"appliance {slot.name}: the process driver serves VIPs in {LOOPBACK} only, "
                f"not {address}"
            )
        if slot.vip.bridge is not None:
            raise ValueError(f"appliance {slot.name}: the process driver has no bridges")

    def ensure(self, slot: ApplianceSlot) -> PlacedAppliance:
        self.check_vip(slot)
        self._known.add(slot.name)
        return PlacedAppliance(name=slot.name, netns=None)

    def announce(self, slot: ApplianceSlot) -> None:
        """Loopback addresses have no neighbours to tell."""

    def delete(self, name: str) -> None:
        # Nothing was created; the appliance's processes belong to the agent, which stops them.
        self._known.discard(name)

    def list_names(self) -> list[str]:
        """Names ensured (and not deleted) through this instance.

        Honest, not complete: a process appliance leaves no trace of its own on the host (no
        namespace, no link), so there is nothing to discover; after a restart this is empty and
        orphans must be found from the agent's side (its processes and run directories).
        """
        return sorted(self._known)

"""Where appliances live. One small protocol; drivers are `process` and `netns`."""

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class VipPlacement:
    """Where an appliance sits on the VIP network and how it holds the VIP. Three ways:

    - SINGLE: `address` is the VIP itself (`is_vip`). `ensure` does not announce it: a
      gratuitous ARP would steer clients to an appliance whose HAProxy does not serve the VIP
      yet (a replacement's clients were refused for ~250 ms); `announce` does, once it serves.
    - ACTIVE_STANDBY: `address` is the appliance's own (VRRP) address; keepalived adds the VIP
      next to it on the MASTER, and the compute driver leaves that address alone.
    - ACTIVE_ACTIVE: `address` is the appliance's own address, and each of `loopback_vips`
      (of the same family) sits on the appliance's loopback as a /32 (/128), unannounced on
      the bridge: the network's router answers for the VIP and spreads flows over the
      appliances' own addresses (`steelyard.network.ecmp`). Replies go to clients directly.

    A spare (no load balancer yet) has no `address`: it is wired to the bridge and waits.
    """

    address: str | None  # e.g. "198.18.0.10" or "127.226.0.10"; None for a spare
    prefixlen: int  # of the VIP subnet, e.g. 24
    bridge: str | None  # Linux bridge of the VIP network (netns driver); None for loopback
    gateway: str | None = None  # host side of the bridge, e.g. "198.18.0.1"
    loopback_vips: tuple[str, ...] = ()  # ACTIVE_ACTIVE only (netns driver)
    is_vip: bool = False  # SINGLE: `address` is the VIP


@dataclass(frozen=True)
class ApplianceSlot:
    """A request for one appliance. `name` is deterministic (derived from LB id and slot)."""

    name: str
    vip: VipPlacement


@dataclass(frozen=True)
class PlacedAppliance:
    name: str
    netns: str | None  # network namespace the appliance's processes run in; None = host


class ComputeDriver(Protocol):
    """Creates and removes the place an appliance runs. Every method is idempotent."""

    name: str

    def ensure(self, slot: ApplianceSlot) -> PlacedAppliance:
        """Create the appliance's place (or find it) with the VIP configured and reachable."""
        ...

    def announce(self, slot: ApplianceSlot) -> None:
        """Tell the neighbours that this appliance holds `slot.vip.address` now (SINGLE: once
        its HAProxy serves the VIP). Nothing to do where appliances share the host's stack."""
        ...

    def delete(self, name: str) -> None:
        """Remove it and everything it owns; no error if it is already gone."""
        ...

    def list_names(self) -> list[str]:
        """Names of the appliances this driver finds on this host (for orphan clean-up)."""
        ...

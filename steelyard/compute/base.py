"""Where appliances live. One small protocol; drivers are `process` and `netns`."""

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class VipPlacement:
    """The VIP an appliance must hold, on which network."""

    address: str  # e.g. "198.18.0.10" or "127.226.0.10"
    prefixlen: int  # of the VIP subnet, e.g. 24
    bridge: str | None  # Linux bridge of the VIP network (netns driver); None for loopback
    gateway: str | None = None  # host side of the bridge, e.g. "198.18.0.1"


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

    def delete(self, name: str) -> None:
        """Remove it and everything it owns; no error if it is already gone."""
        ...

    def list_names(self) -> list[str]:
        """Names of the appliances this driver finds on this host (for orphan clean-up)."""
        ...

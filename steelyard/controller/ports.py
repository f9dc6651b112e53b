"""The capabilities a reconcile composes (Ironic-style small interfaces)."""

from collections.abc import Sequence
from typing import Protocol

from steelyard.agent.contract import (
    AgentInfo,
    ApplianceInfo,
    ApplyResult,
    ListenerProtection,
    StatRow,
    VrrpRelease,
)
from steelyard.db.snapshot import VipNetwork


class ApplianceAgent(Protocol):
    """What the controller asks of an appliance agent (implemented by agent.client)."""

    def info(self) -> AgentInfo:
        """The agent's versions and certificate expiry."""
        ...

    @property
    def address(self) -> str:
        """Where the agent is reached (recorded on its appliances)."""
        ...

    def ensure_appliance(
        self, name: str, netns: str | None = None, heartbeat_to: Sequence[str] = ()
    ) -> ApplianceInfo: ...

    def get_appliance(self, name: str) -> ApplianceInfo | None: ...

    def delete_appliance(self, name: str) -> None: ...

    def apply_config(
        self,
        name: str,
        generation: int,
        cfg: str,
        verify_listeners: list[str],
        *,
        keepalived_cfg: str | None = None,
        files: dict[str, str] | None = None,  # TLS files the config names (issue 6)
    ) -> ApplyResult: ...

    def release_vrrp(self, name: str) -> VrrpRelease:
        """A MASTER hands its VIPs to its peer and stays BACKUP (planned switchover)."""
        ...

    def stats(self, name: str) -> list[StatRow]: ...

    def protection_stats(self, name: str) -> list[ListenerProtection]: ...


class VipNetworks(Protocol):
    """Makes a VIP network usable on this host (a bridge with its gateway), idempotently."""

    def ensure(self, network: VipNetwork) -> str | None:
        """Returns the bridge appliances attach to, or None for a loopback network."""
        ...

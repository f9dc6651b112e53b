"""The appliances of one agent, found on disk at start-up (adopting running HAProxy)."""

import logging
import threading
from pathlib import Path

from steelyard.agent.appliance import Appliance
from steelyard.agent.haproxy_process import DEFAULT_BINARY, HAProxyProcess
from steelyard.agent.layout import (
    ApplianceLayout,
    appliances_dir,
    check_state_dir,
    layout_for,
    read_netns,
    valid_name,
    write_netns,
)

log = logging.getLogger("steelyard.agent")


class NetnsConflict(Exception):
    """The appliance runs in another namespace; delete it first to move it."""


class ApplianceRegistry:
    def __init__(self, state_dir: Path, *, binary: Path = DEFAULT_BINARY) -> None:
        state_dir = state_dir.resolve()  # HAProxy gets absolute paths whatever our cwd
        check_state_dir(state_dir)
        self.state_dir = state_dir
        self.binary = binary
        self._lock = threading.Lock()
        self._appliances: dict[str, Appliance] = {}
        root = appliances_dir(state_dir)
        root.mkdir(mode=0o700, parents=True, exist_ok=True)
        for entry in sorted(root.iterdir()):
            if entry.is_dir() and valid_name(entry.name):
                self._adopt(entry.name)

    def names(self) -> list[str]:
        with self._lock:
            return sorted(self._appliances)

    def get(self, name: str) -> Appliance | None:
        with self._lock:
            return self._appliances.get(name)

    def ensure(self, name: str, netns: str | None) -> Appliance:
        """The appliance `name`, created when new; idempotent for the same namespace."""
        with self._lock:
            appliance = self._appliances.get(name)
            if appliance is not None and appliance.netns == netns:
                return appliance
            layout = layout_for(self.state_dir, name)
            if appliance is not None:
                if appliance.process.master_pid() is not None:
                    raise NetnsConflict(
                        f"appliance {name} runs in namespace {appliance.netns!r}, not {netns!r}"
                    )
                appliance.deleted = True  # requests still holding the old object stop there
            layout.root.mkdir(mode=0o700, exist_ok=True)
            write_netns(layout, netns)
            appliance = self._make(name, layout, netns)
            self._appliances[name] = appliance
            log.info("%s: appliance ready (netns %s)", name, netns or "-")
            return appliance

    def delete(self, name: str) -> bool:
        """Stop and remove `name`; False when there was no such appliance."""
        with self._lock:
            appliance = self._appliances.pop(name, None)
        if appliance is None:
            return False
        appliance.destroy()
        log.info("%s: appliance deleted", name)
        return True

    def _adopt(self, name: str) -> None:
        layout = layout_for(self.state_dir, name)
        appliance = self._make(name, layout, read_netns(layout))
        self._appliances[name] = appliance
        pid = appliance.process.master_pid()
        if pid is not None:
            log.info("%s: adopted running HAProxy (master pid %d)", name, pid)

    def _make(self, name: str, layout: ApplianceLayout, netns: str | None) -> Appliance:
        return Appliance(
            name, layout, HAProxyProcess(layout, netns, binary=self.binary, local_peer=name)
        )

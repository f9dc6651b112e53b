"""The appliances of one agent, found on disk at start-up (adopting running HAProxy)."""

import logging
import threading
from pathlib import Path

from steelyard.agent.appliance import Appliance
from steelyard.agent.drain import DrainError, unblock
from steelyard.agent.haproxy_process import DEFAULT_BINARY, HAProxyProcess
from steelyard.agent.keepalived_process import KeepalivedProcess, link_haproxy_command
from steelyard.agent.layout import (
    ApplianceLayout,
    ApplianceMeta,
    appliances_dir,
    check_state_dir,
    layout_for,
    read_meta,
    valid_name,
    write_meta,
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
        self._heartbeat_to: dict[str, tuple[str, ...]] = {}
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

    def heartbeat_targets(self) -> list[tuple[Appliance, tuple[str, ...]]]:
        """Each appliance that has health managers to send heartbeats to, with their addresses."""
        with self._lock:
            return [
                (appliance, self._heartbeat_to[name])
                for name, appliance in sorted(self._appliances.items())
                if self._heartbeat_to.get(name)
            ]

    def ensure(self, name: str, netns: str | None, heartbeat_to: tuple[str, ...] = ()) -> Appliance:
        """The appliance `name`, created when new; idempotent for the same namespace. Its
        heartbeat targets become `heartbeat_to`."""
        with self._lock:
            appliance = self._appliances.get(name)
            if appliance is not None and appliance.netns == netns:
                if self._heartbeat_to.get(name, ()) != heartbeat_to:
                    write_meta(appliance.layout, ApplianceMeta(netns, heartbeat_to))
                    self._heartbeat_to[name] = heartbeat_to
                return appliance
            layout = layout_for(self.state_dir, name)
            if appliance is not None:
                running = appliance.process.master_pid() or appliance.keepalived.pid()
                if running is not None:
                    raise NetnsConflict(
                        f"appliance {name} runs in namespace {appliance.netns!r}, not {netns!r}"
                    )
                appliance.deleted = True  # requests still holding the old object stop there
            layout.root.mkdir(mode=0o700, exist_ok=True)
            write_meta(layout, ApplianceMeta(netns, heartbeat_to))
            appliance = self._make(name, layout, netns)
            self._appliances[name] = appliance
            self._heartbeat_to[name] = heartbeat_to
            log.info("%s: appliance ready (netns %s)", name, netns or "-")
            return appliance

    def delete(self, name: str) -> bool:
        """Stop and remove `name`; False when there was no such appliance."""
        with self._lock:
            appliance = self._appliances.pop(name, None)
            self._heartbeat_to.pop(name, None)
        if appliance is None:
            return False
        appliance.destroy()
        log.info("%s: appliance deleted", name)
        return True

    def _adopt(self, name: str) -> None:
        layout = layout_for(self.state_dir, name)
        meta = read_meta(layout)
        appliance = self._make(name, layout, meta.netns)
        self._appliances[name] = appliance
        self._heartbeat_to[name] = meta.heartbeat_to
        pid = appliance.process.master_pid()
        if pid is not None:
            log.info("%s: adopted running HAProxy (master pid %d)", name, pid)
        keepalived = appliance.keepalived.pid()
        if keepalived is not None:
            log.info("%s: adopted running keepalived (pid %d)", name, keepalived)
            try:  # a handover's block of new connections, if the agent died during one
                unblock(meta.netns)
            except DrainError as exc:
                log.warning("%s: could not clear a handover's block: %s", name, exc)

    def _make(self, name: str, layout: ApplianceLayout, netns: str | None) -> Appliance:
        # HAProxy starts as `<appliance dir>/haproxy`, the argv[0] keepalived tracks.
        command = link_haproxy_command(layout, self.binary)
        return Appliance(
            name,
            layout,
            HAProxyProcess(layout, netns, binary=command, local_peer=name),
            KeepalivedProcess(layout, netns),
        )

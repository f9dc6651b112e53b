"""The agent's heartbeat sender: a thread that, every interval, sends one signed heartbeat per
appliance to each of its health managers (steelyard.model.heartbeat has the wire format).

An appliance in a network namespace sends from a socket made inside that namespace (a socket
stays in the namespace of the thread that created it), so its heartbeats take the appliance's
own link: an appliance whose link is down goes silent, as a real one would, even though the
agent process itself is fine. Sockets are made again when the namespace is replaced.
"""

import hashlib
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from steelyard.agent.appliance import Appliance, NotRunning
from steelyard.agent.layout import read_applied
from steelyard.agent.netns import netns_path, parse_address, run_in_netns
from steelyard.agent.registry import ApplianceRegistry
from steelyard.model.heartbeat import (
    VRRP_STATES,
    Heartbeat,
    HeartbeatKey,
    ProxyRow,
    StatTable,
    encode,
    parse_key,
)

log = logging.getLogger("steelyard.agent.heartbeat")
DEFAULT_INTERVAL_S = 1.0


def read_key_file(path: Path) -> HeartbeatKey:
    return parse_key(path.read_bytes())


def read_vrrp_state(path: Path) -> str | None:
    """keepalived's last state as its notify script wrote it; None when absent or not a state."""
    try:
        text = path.read_text(encoding="ascii", errors="replace").strip()
    except OSError:
        return None
    return text if text in VRRP_STATES else None


def next_seq(last: int, now_ns: int) -> int:
    """Strictly above `last`, and (from the clock) above anything sent before a restart."""
    return max(last + 1, now_ns // 1000)


class FileDigests:
    """SHA-256 of files, read again only when a file's inode, size or modification time
    changed (a config is replaced whole by the agent, edited in place by a person)."""

    def __init__(self) -> None:
        self._known: dict[Path, tuple[tuple[int, int, int], str]] = {}

    def of(self, path: Path) -> str | None:
        try:
            stat = path.stat()
            key = (stat.st_ino, stat.st_size, stat.st_mtime_ns)
            known = self._known.get(path)
            if known is not None and known[0] == key:
                return known[1]
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
        except OSError:
            return None
        self._known[path] = (key, digest)
        return digest

    def keep_only(self, paths: set[Path]) -> None:
        for path in set(self._known) - paths:
            del self._known[path]


def heartbeat_of(
    appliance: Appliance, seq: int, now: float, digests: FileDigests | None = None
) -> Heartbeat:
    """The appliance's heartbeat. Its config hash is that of the haproxy.cfg on disk (what
    HAProxy loads on every reload), not the one the agent recorded when it wrote the file:
    a config edited by hand shows as drift (controller/drift.py)."""
    try:
        rows = appliance.stats()
        running = True
    except NotRunning:
        rows, running = [], False
    applied = read_applied(appliance.layout)
    digest = None
    if applied is not None:
        digest = (digests or FileDigests()).of(appliance.layout.cfg)
    return Heartbeat(
        appliance=appliance.name,
        seq=seq,
        sent_at=now,
        generation=applied.generation if applied else None,
        config_sha256=digest,
        haproxy_running=running,
        vrrp_state=read_vrrp_state(appliance.layout.vrrp_state),
        stats=StatTable.from_rows(ProxyRow(**row.model_dump()) for row in rows),
    )


@dataclass
class _Sockets:
    """The sockets one appliance sends from, per address family, and where they were made."""

    netns: str | None
    netns_inode: int | None
    by_family: dict[int, socket.socket]

    def close(self) -> None:
        for sock in self.by_family.values():
            sock.close()


def _netns_inode(netns: str | None) -> int | None:
    if netns is None:
        return None
    try:
        return os.stat(netns_path(netns)).st_ino
    except OSError:
        return None


class HeartbeatSender:
    def __init__(
        self,
        registry: ApplianceRegistry,
        key: HeartbeatKey,
        interval_s: float = DEFAULT_INTERVAL_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._registry = registry
        self._key = key
        self._interval = interval_s
        self._clock = clock
        self._seq: dict[str, int] = {}
        self._sockets: dict[str, _Sockets] = {}
        self._digests = FileDigests()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="heartbeats", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=10)
        for sockets in self._sockets.values():
            sockets.close()
        self._sockets.clear()

    def _run(self) -> None:
        next_at = time.monotonic()
        while not self._stopping.is_set():
            try:
                self.send_all()
            except Exception:
                log.exception("sending heartbeats failed")
            next_at += self._interval
            # Fixed rate, not fixed delay; after a long stall, start afresh rather than burst.
            next_at = max(next_at, time.monotonic())
            self._stopping.wait(next_at - time.monotonic())

    def send_all(self) -> None:
        targets = self._registry.heartbeat_targets()
        current = {appliance.name for appliance, _ in targets}
        for name in set(self._sockets) - current:
            self._sockets.pop(name).close()
        self._digests.keep_only({appliance.layout.cfg for appliance, _ in targets})
        for appliance, addresses in targets:
            try:
                self.send_one(appliance, addresses)
            except Exception as exc:  # one appliance must not silence the others
                log.warning("%s: no heartbeat sent: %s", appliance.name, exc)

    def send_one(self, appliance: Appliance, addresses: tuple[str, ...]) -> None:
        seq = next_seq(self._seq.get(appliance.name, 0), time.time_ns())
        self._seq[appliance.name] = seq
        datagram = encode(heartbeat_of(appliance, seq, self._clock(), self._digests), self._key)
        sockets = self._sockets_for(appliance)
        for text in addresses:
            host, port = parse_address(text)
            family = socket.AF_INET6 if ":" in host else socket.AF_INET
            try:
                sock = sockets.by_family.get(family) or self._open(sockets, family)
                sock.sendto(datagram, (host, port))
            except OSError as exc:
                # A link that is down (ENETUNREACH) is what silence means; keep trying.
                log.debug("%s: heartbeat to %s not sent: %s", appliance.name, text, exc)

    def _sockets_for(self, appliance: Appliance) -> _Sockets:
        inode = _netns_inode(appliance.netns)
        known = self._sockets.get(appliance.name)
        if known is not None and (known.netns, known.netns_inode) == (appliance.netns, inode):
            return known
        if known is not None:
            known.close()
        fresh = _Sockets(appliance.netns, inode, {})
        self._sockets[appliance.name] = fresh
        return fresh

    @staticmethod
    def _open(sockets: _Sockets, family: int) -> socket.socket:
        def make() -> socket.socket:
            sock = socket.socket(family, socket.SOCK_DGRAM)
            sock.setblocking(False)  # a full send buffer drops a heartbeat, never stalls them
            return sock

        sock = make() if sockets.netns is None else run_in_netns(sockets.netns, make)
        sockets.by_family[family] = sock
        return sock

"""What the receiver does with each datagram: verify, drop replays and strangers, count, and
keep the latest heartbeat per appliance for the next flush. No socket and no database here,
so the receiver's hot path is this and one `recv`.

Replays: a heartbeat whose sequence number is not above the last one accepted for its
appliance is dropped. The last numbers are kept in memory and start from the database's
`heartbeat_seq` (`refresh`), so a restarted health manager still refuses old datagrams.

Strangers: an authentic heartbeat of an appliance missing from the list is held until the next
`refresh` (a new appliance's first heartbeat can beat the health manager's next read of the
list), then taken in if the appliance is listed by then, else counted `unknown`; at most
`MAX_HELD` wait, the rest are counted `unknown` at once.
"""

import threading
from dataclasses import dataclass
from datetime import datetime

from steelyard.db.appliance_health import KnownAppliance
from steelyard.model.health import HEARTBEAT_OUTCOMES, HeartbeatCounts
from steelyard.model.heartbeat import Heartbeat, HeartbeatRejected, Keyring, decode

MAX_HELD = 1024
HELD = "held"  # accept's answer for a stranger's heartbeat that waits for the next refresh


@dataclass(frozen=True, slots=True)
class Received:
    heartbeat: Heartbeat
    at: datetime  # the health manager's clock
    appliance: KnownAppliance


class Ingest:
    """Called by one receiver thread (`accept`) and one worker thread (the rest); what both
    touch (the list, the tables, the counts) changes under the lock."""

    def __init__(self, keys: Keyring) -> None:
        self._keys = keys
        self._counts = dict.fromkeys(HEARTBEAT_OUTCOMES, 0)
        self._known: dict[str, KnownAppliance] = {}
        self._lock = threading.Lock()
        self._last_seq: dict[str, int] = {}
        self._pending: dict[str, Received] = {}
        self._last_heard: dict[str, datetime] = {}
        self._haproxy_down_since: dict[str, datetime] = {}
        self._held: list[tuple[Heartbeat, datetime]] = []

    def accept(self, data: bytes, now: datetime) -> str:
        """Take one datagram; returns its outcome (one of HEARTBEAT_OUTCOMES), or HELD."""
        try:
            heartbeat = decode(data, self._keys)
        except HeartbeatRejected as exc:
            with self._lock:
                return self._count(exc.reason)
        with self._lock:
            known = self._known.get(heartbeat.appliance)
            if known is not None:
                return self._count(self._take_in(heartbeat, now, known))
            if len(self._held) >= MAX_HELD:
                return self._count("unknown")
            self._held.append((heartbeat, now))
            return HELD

    def _take_in(self, heartbeat: Heartbeat, now: datetime, known: KnownAppliance) -> str:
        """Under the lock: the heartbeat of a listed appliance, accepted or replayed."""
        name = heartbeat.appliance
        if heartbeat.seq <= self._last_seq.get(name, 0):
            return "replayed"
        self._last_seq[name] = heartbeat.seq
        self._pending[name] = Received(heartbeat, now, known)
        self._last_heard[name] = now
        # Before the first config HAProxy is not meant to run (a booting appliance, a spare).
        if heartbeat.haproxy_running or heartbeat.generation is None:
            self._haproxy_down_since.pop(name, None)
        else:
            self._haproxy_down_since.setdefault(name, now)
        return "accepted"

    def _count(self, outcome: str) -> str:
        self._counts[outcome] += 1
        return outcome

    def counts(self) -> HeartbeatCounts:
        with self._lock:
            return HeartbeatCounts(**self._counts)

    def take(self) -> list[Received]:
        """The latest heartbeat of each appliance heard since the last call."""
        with self._lock:
            pending, self._pending = self._pending, {}
        return list(pending.values())

    def refresh(self, known: list[KnownAppliance]) -> None:
        """The appliances to accept heartbeats from, with the sequence numbers recorded."""
        by_name = {appliance.name: appliance for appliance in known}
        with self._lock:
            for name, appliance in by_name.items():
                if appliance.heartbeat_seq > self._last_seq.get(name, 0):
                    self._last_seq[name] = appliance.heartbeat_seq
            for table in (self._last_seq, self._last_heard, self._haproxy_down_since):
                for name in [name for name in table if name not in by_name]:
                    del table[name]
            self._known = by_name
            held, self._held = self._held, []
            for heartbeat, at in held:
                listed = by_name.get(heartbeat.appliance)
                self._count("unknown" if listed is None else self._take_in(heartbeat, at, listed))

    def last_heard(self, name: str) -> datetime | None:
        return self._last_heard.get(name)

    def haproxy_down_since(self, name: str) -> datetime | None:
        return self._haproxy_down_since.get(name)

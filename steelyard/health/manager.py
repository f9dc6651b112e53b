"""The health manager: receives heartbeats over UDP, writes them to the database in batches,
turns their rows into operating statuses (through an injected status writer), and declares
silent appliances FAILED, unless the circuit breaker holds failover back (health.staleness).

Four threads: the receiver (`recv`, then Ingest.accept: verification and bookkeeping in
memory); the flusher, which every `flush_interval_s` records what arrived in one transaction;
the checker, which every `check_interval_s` judges staleness from what the receiver heard
(not from the database, which may lag); and the status thread, which hands the latest
heartbeat of each appliance to the status writer, STATUS_CHUNK appliances at a time. Their
costs differ (a load balancer's spec is read when its rows change, thousands at a start), so
each is paced on its own and none delays the checks. The receiver never touches the
database; a large receive buffer absorbs what arrives while others hold the interpreter.
"""

import contextlib
import hashlib
import logging
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session

from steelyard.db.appliance_health import (
    WATCHED_STATUSES,
    HeartbeatRecord,
    KnownAppliance,
    get_breaker,
    known_appliances,
    mark_failed,
    record_heartbeats,
    save_manager_status,
    trip_breaker,
)
from steelyard.health.ingest import Ingest, Received
from steelyard.health.staleness import HealthPolicy, Verdict, Watched, judge
from steelyard.model.health import ManagerStatus
from steelyard.model.heartbeat import ApplianceReport, Keyring

log = logging.getLogger(__name__)

# Writes operating statuses and counters from accepted heartbeats (in its own transactions).
StatusWriter = Callable[[Sequence[ApplianceReport], datetime], None]
MAX_DATAGRAM_READ = 65_536
SO_RCVBUFFORCE = 33  # Linux; Python's socket module does not name it
STATUS_EVERY_S = 1.0
STATUS_CHUNK = 10  # appliances per status pass: short bursts, then room for the others
ROLES = {"MASTER": "MASTER", "BACKUP": "BACKUP", "FAULT": "BACKUP", "STOP": "BACKUP"}


@dataclass(frozen=True)
class HealthSettings:
    host: str = "0.0.0.0"  # every address, so each VIP bridge's gateway receives
    port: int = 5555
    policy: HealthPolicy = field(default_factory=HealthPolicy)
    flush_interval_s: float = 0.5  # heartbeats recorded in the database
    check_interval_s: float = 0.5  # staleness judged
    status_interval_s: float = 1.0  # statuses and counters handed to the status writer
    max_duty: float = 0.25  # of the time, for the flusher, the checker and the status thread each
    receive_buffer_bytes: int = 32 * 1024 * 1024


def manager_id(host: str, port: int) -> str:
    """Stable across restarts of the same manager, so its status row is reused."""
    where = f"{socket.gethostname()} {host}:{port}"
    return hashlib.sha256(where.encode()).hexdigest()[:16]


def record_of(received: Received) -> HeartbeatRecord:
    heartbeat = received.heartbeat
    running = heartbeat.haproxy_running and heartbeat.generation is not None
    return HeartbeatRecord(
        appliance_id=received.appliance.id,
        seq=heartbeat.seq,
        received_at=received.at,
        generation=heartbeat.generation if running else None,
        config_sha256=heartbeat.config_sha256 if running else None,
        role=ROLES.get(heartbeat.vrrp_state or ""),
    )


class HealthManager:
    def __init__(
        self,
        sessions: Callable[[], Session],
        keys: Keyring,
        settings: HealthSettings,
        *,
        notify: Callable[[str], None],
        clock: Callable[[], datetime],
        status_writer: StatusWriter | None = None,
        read_sessions: Callable[[], Session] | None = None,
    ) -> None:
        self._sessions = sessions
        self._read_sessions = read_sessions or sessions
        self._settings = settings
        self._notify = notify
        self._clock = clock
        self._status_writer = status_writer
        self.ingest = Ingest(keys)
        self._first_seen: dict[tuple[str, str], datetime] = {}
        self._last_read_at = clock()  # when the previous check read the appliances
        self._watched = self._silent = 0
        self._status_due = 0.0
        self._reports: dict[str, ApplianceReport] = {}  # the latest per appliance
        self._reports_lock = threading.Lock()
        self._stopping = threading.Event()
        self._sock = self._bind()
        self.address: tuple[str, int] = self._sock.getsockname()[:2]
        self.manager = manager_id(settings.host, self.address[1])
        self._threads = [
            threading.Thread(target=self._receive, name="heartbeat-receiver", daemon=True),
            threading.Thread(target=self._flush_loop, name="health-manager", daemon=True),
            threading.Thread(target=self._check_loop, name="health-checks", daemon=True),
            threading.Thread(target=self._write_statuses, name="health-statuses", daemon=True),
        ]

    def _bind(self) -> socket.socket:
        host = self._settings.host
        sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_DGRAM)
        try:
            size = self._settings.receive_buffer_bytes
            try:  # root may exceed net.core.rmem_max
                sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, size)
            except OSError:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, size)
            sock.bind((host, self._settings.port))
        except BaseException:
            sock.close()
            raise
        return sock

    def start(self) -> None:
        self.refresh()
        for thread in self._threads:
            thread.start()
        log.info("health manager receiving heartbeats on %s:%d", *self.address)

    def stop(self) -> None:
        self._stopping.set()
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)  # wakes the blocked recv
        for thread in self._threads:
            if thread.ident is not None:  # started
                thread.join(timeout=10)
        self._sock.close()

    def _receive(self) -> None:
        recv, accept, clock = self._sock.recv, self.ingest.accept, self._clock
        while True:
            try:
                data = recv(MAX_DATAGRAM_READ)
            except OSError:
                if self._stopping.is_set():
                    return
                log.exception("receiving heartbeats failed")
                continue
            if self._stopping.is_set():
                return
            accept(data, clock())

    def _flush_loop(self) -> None:
        def due_work() -> float:
            self.flush()
            return self._settings.flush_interval_s

        self._paced(due_work, "recording heartbeats")

    def _check_loop(self) -> None:
        def due_work() -> float:
            self.check()
            return self._settings.check_interval_s

        self._paced(due_work, "judging staleness")

    def _write_statuses(self) -> None:
        def due_work() -> float:
            self.write_statuses()
            return self._settings.status_interval_s

        self._paced(due_work, "writing statuses from heartbeats")

    def _paced(self, work: Callable[[], float], what: str) -> None:
        """Run `work` until stopped, waiting what it returns between passes, and at least long
        enough that it takes no more than `max_duty` of the time: the receiver shares the
        interpreter (and maybe the core) and must keep up with the datagrams."""
        duty = self._settings.max_duty
        while True:
            started = time.monotonic()
            try:
                wait = work()
            except Exception:
                log.exception("%s failed", what)
                wait = self._settings.flush_interval_s
            took = time.monotonic() - started
            if self._stopping.wait(max(wait, took * (1 - duty) / duty)):
                return

    def write_statuses(self) -> None:
        """Hand the heartbeats reported since the last call to the status writer."""
        with self._reports_lock:
            reports, self._reports = list(self._reports.values()), {}
        if self._status_writer is None:
            return
        for start in range(0, len(reports), STATUS_CHUNK):
            began = time.monotonic()
            self._status_writer(reports[start : start + STATUS_CHUNK], self._clock())
            # Room for the other writers (and the receiver) between two chunks.
            took = time.monotonic() - began
            if self._stopping.wait(took * (1 - self._settings.max_duty) / self._settings.max_duty):
                return

    def refresh(self) -> list[KnownAppliance]:
        with self._read_sessions() as session:
            known = known_appliances(session)
        self.ingest.refresh(known)
        return known

    def flush(self) -> None:
        """Write what arrived since the last flush, in one transaction."""
        batch = self.ingest.take()
        status_due = time.monotonic() >= self._status_due
        if not batch and not status_due:
            return
        now = self._clock()
        with self._sessions() as session:
            record_heartbeats(session, [record_of(r) for r in batch])
            if status_due:
                save_manager_status(session, self.status(now))
                self._status_due = time.monotonic() + STATUS_EVERY_S
            session.commit()
        with self._reports_lock:
            for r in batch:
                lb_id = r.appliance.loadbalancer_id
                if lb_id is not None and r.appliance.status == "ALLOCATED":
                    self._reports[r.appliance.name] = ApplianceReport(lb_id, r.heartbeat)

    def status(self, now: datetime) -> ManagerStatus:
        return ManagerStatus(
            manager=self.manager,
            listen=f"{self._settings.host}:{self.address[1]}",
            updated_at=now,
            heartbeats=self.ingest.counts(),
            watched=self._watched,
            silent=self._silent,
        )

    def check(self) -> Verdict:
        """Judge every watched appliance; fail, or trip the circuit breaker."""
        read_at = self._clock()
        known = self.refresh()
        with self._read_sessions() as session:
            breaker = get_breaker(session)
        now = self._clock()
        watched = self._watched_now(known, read_at)
        verdict = judge(watched, now, self._settings.policy, breaker)
        self._watched, self._silent = len(watched), len(verdict.silent)
        if verdict.trip:
            with self._sessions() as session:
                trip_breaker(session, [w.name for w in verdict.silent], len(watched), now)
                session.commit()
            log.critical(
                "health circuit breaker tripped: %d of %d appliances silent",
                len(verdict.silent),
                len(watched),
            )
        for failure in verdict.failed:
            with self._sessions() as session:
                lb_id = mark_failed(session, failure.appliance.appliance_id, failure.reason, now)
                session.commit()
            log.error("appliance %s failed: %s", failure.appliance.name, failure.reason)
            if lb_id is not None:
                self._notify(lb_id)
        return verdict

    def _watched_now(self, known: list[KnownAppliance], read_at: datetime) -> list[Watched]:
        watched = []
        seen: dict[tuple[str, str], datetime] = {}
        # One not seen in its status by the previous check entered it after that check read
        # the list (or, at the first check, it is watched since this manager started). That
        # read is the bound, not this check's: a first heartbeat may arrive in between.
        unseen = self._last_read_at
        for appliance in known:
            if appliance.status not in WATCHED_STATUSES:
                continue
            key = (appliance.id, appliance.status)
            seen[key] = self._first_seen.get(key, unseen)
            last = max(
                (
                    t
                    for t in (appliance.last_heartbeat_at, self.ingest.last_heard(appliance.name))
                    if t is not None
                ),
                default=None,
            )
            watched.append(
                Watched(
                    appliance_id=appliance.id,
                    name=appliance.name,
                    loadbalancer_id=appliance.loadbalancer_id,
                    last_heartbeat_at=last,
                    watched_since=max(appliance.created_at, seen[key]),
                    haproxy_down_since=self.ingest.haproxy_down_since(appliance.name),
                )
            )
        self._first_seen, self._last_read_at = seen, read_at
        return watched

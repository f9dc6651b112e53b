"""Worker threads that claim dirty load balancers and reconcile them.

A write in this process wakes a worker at once (`kick`); writes from other processes are
found by polling. A worker keeps claiming until nothing is dirty, so a write that lands
while its load balancer is being reconciled is picked up right after (coalesced).
"""

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from steelyard.controller.reconciler import Reconciler
from steelyard.db.leases import claim_next, release, renew

log = logging.getLogger(__name__)


class ControllerWorkers:
    def __init__(
        self,
        sessions: Callable[[], Session],
        reconciler: Reconciler,
        owner: str,
        clock: Callable[[], datetime],
        *,
        workers: int = 4,
        lease_ttl: timedelta = timedelta(seconds=15),
        poll_interval_s: float = 0.5,
    ) -> None:
        self._sessions = sessions
        self._reconciler = reconciler
        self._owner = owner
        self._clock = clock
        self._workers = workers
        self._ttl = lease_ttl
        self._poll = poll_interval_s
        self._wake = threading.Condition()
        self._kicks = 0
        self._stopping = threading.Event()
        self._held: set[str] = set()
        self._held_lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        for index in range(self._workers):
            thread = threading.Thread(target=self._work, name=f"reconcile-{index}", daemon=True)
            thread.start()
            self._threads.append(thread)
        renewer = threading.Thread(target=self._renew_leases, name="lease-renewer", daemon=True)
        renewer.start()
        self._threads.append(renewer)

    def kick(self, _lb_id: str = "") -> None:
        with self._wake:
            self._kicks += 1
            self._wake.notify()

    def stop(self) -> None:
        self._stopping.set()
        with self._wake:
            self._wake.notify_all()
        for thread in self._threads:
            thread.join(timeout=10)

    def _wait_for_work(self) -> None:
        with self._wake:
            if self._kicks == 0:
                self._wake.wait(self._poll)
            self._kicks = max(0, self._kicks - 1)

    def _work(self) -> None:
        while not self._stopping.is_set():
            try:
                lb_id = claim_next(self._sessions, self._owner, self._clock(), self._ttl)
            except Exception:
                log.exception("claiming work failed")
                lb_id = None
            if lb_id is None:
                self._wait_for_work()
                continue
            with self._held_lock:
                self._held.add(lb_id)
            try:
                self._reconciler.reconcile(lb_id)
            finally:
                with self._held_lock:
                    self._held.discard(lb_id)
                self._release(lb_id)

    def _release(self, lb_id: str) -> None:
        try:
            with self._sessions() as session:
                release(session, lb_id, self._owner)
                session.commit()
        except Exception:  # the lease then simply expires
            log.exception("releasing the lease on %s failed", lb_id)

    def _renew_leases(self) -> None:
        while not self._stopping.wait(self._ttl.total_seconds() / 3):
            with self._held_lock:
                held = list(self._held)
            for lb_id in held:
                try:
                    with self._sessions() as session:
                        renew(session, lb_id, self._owner, self._clock() + self._ttl)
                        session.commit()
                except Exception:
                    log.exception("renewing the lease on %s failed", lb_id)

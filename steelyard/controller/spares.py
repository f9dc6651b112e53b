"""The spare pool: appliances built ahead of need, so that a create or a failover adopts one
instead of building it.

A spare is a namespace wired to the default VIP network's bridge without an address, with its
agent appliance registered and HAProxy running an empty config (adopting it is a reload, not a
cold start). The keeper holds `size` spares per zone: it finishes spares a crash left BOOTING,
removes failed ones, and builds the missing ones, one at a time, in the background. The
reconciler claims spares through the database (`db.appliances.claim_spare`), so a spare is
never given out twice.
"""

import logging
import secrets
import threading
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from steelyard.compute.base import ApplianceSlot, VipPlacement
from steelyard.controller.reconciler import DataPlane
from steelyard.controller.topology import pick_host
from steelyard.db.appliances import (
    BOOTING,
    READY,
    add_appliance,
    appliances_per_host,
    failed_spares,
    remove_appliance,
    spare_ready,
    spares,
)
from steelyard.db.hosts import placement_candidates
from steelyard.db.snapshot import VipNetwork
from steelyard.model.spec import LoadBalancerSpec, RuntimePaths
from steelyard.render.haproxy import render_haproxy

log = logging.getLogger(__name__)


def spare_name() -> str:
    return f"spare-{secrets.token_hex(5)}"


class SparePool:
    def __init__(
        self,
        sessions: Callable[[], Session],
        plane: DataPlane,
        clock: Callable[[], datetime],
        network: Callable[[], VipNetwork | None],
        *,
        size: int,
        zones: Sequence[str | None] = (None,),
        interval_s: float = 1.0,
    ) -> None:
        self._sessions = sessions
        self._plane = plane
        self._clock = clock
        self._network = network
        self._size = size
        self._zones = tuple(zones)
        self._interval = interval_s
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="spare-pool", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                self.fill_once()
            except Exception:
                log.exception("spare pool upkeep failed")
            self._stopping.wait(self._interval)

    def fill_once(self) -> int:
        """One round of upkeep; returns how many spares were made ready."""
        with self._sessions() as session:
            dead = failed_spares(session)
            have = [(a.id, a.name, a.status, a.availability_zone) for a in spares(session)]
        # Spares send no heartbeats (no address yet): one whose HAProxy died is rebuilt.
        dead += [name for _, name, status, _ in have if status == READY and not self._alive(name)]
        for name in dead:
            self._remove(name)
        have = [spare for spare in have if spare[1] not in dead]
        network = self._network()
        if network is None or self._size <= 0:
            return 0
        made = 0
        for zone in self._zones:
            mine = [(ident, name, status) for ident, name, status, z in have if z == zone]
            for ident, name, status in mine:
                if status == BOOTING:  # a crash interrupted its build: finish it
                    self._build(ident, name, network)
                    made += 1
            for _ in range(self._size - len(mine)):
                if self._stopping.is_set():
                    return made
                self._build(*self._add_row(zone), network)
                made += 1
        return made

    def _add_row(self, zone: str | None) -> tuple[str, str]:
        ident, name = str(uuid.uuid4()), spare_name()
        with self._sessions() as session:
            hosts = placement_candidates(session, None, zone, self._plane.host)
            add_appliance(
                session,
                new_id=ident,
                name=name,
                lb_id=None,
                slot=0,
                role="STANDALONE",
                host=pick_host(hosts, frozenset(), appliances_per_host(session)),
                compute_driver=self._plane.compute.name,
                zone=zone,
                now=self._clock(),
            )
            session.commit()
        return ident, name

    def _build(self, ident: str, name: str, network: VipNetwork) -> None:
        plane = self._plane
        placement = VipPlacement(
            address=None, prefixlen=0, bridge=plane.networks.ensure(network), gateway=None
        )
        where = plane.compute.ensure(ApplianceSlot(name=name, vip=placement))
        info = plane.agent.ensure_appliance(name, where.netns, heartbeat_to=[])
        paths = RuntimePaths(
            stats_socket=info.paths.stats_socket,
            server_state_file=info.paths.server_state_file,
            log_socket=info.paths.log_socket,
        )
        # No listeners: HAProxy runs, holds nothing, and the adopting apply is a reload.
        empty = LoadBalancerSpec(id=ident, vip_address="127.0.0.1", listeners=(), pools=())
        cfg = render_haproxy(empty, plane.render_settings(paths))
        plane.agent.apply_config(name, 0, cfg, [])
        with self._sessions() as session:
            spare_ready(session, name, self._clock())
            session.commit()
        log.info("spare appliance %s ready", name)

    def _alive(self, name: str) -> bool:
        info = self._plane.agent.get_appliance(name)
        return info is not None and info.running

    def _remove(self, name: str) -> None:
        self._plane.agent.delete_appliance(name)
        self._plane.compute.delete(name)
        with self._sessions() as session:
            remove_appliance(session, name)
            session.commit()
        log.info("spare appliance %s removed (failed)", name)

"""reconcile(lb_id): observe (DB) -> render (pure) -> apply (idempotent) -> record.

Each run reads the whole desired state, never the event that caused it, so coalesced or
repeated runs are harmless. `applied_generation` is written last: a crash anywhere before it
leaves the load balancer dirty, and the next run (here or on another controller) finishes.
"""

import ipaddress
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal

from sqlalchemy.orm import Session

from steelyard.compute.base import ApplianceSlot, ComputeDriver, VipPlacement
from steelyard.controller.naming import appliance_name
from steelyard.controller.ports import ApplianceAgent, VipNetworks
from steelyard.db.outcomes import (
    record_appliance_config,
    record_applied,
    record_deleted,
    record_failure,
    upsert_appliance,
)
from steelyard.db.snapshot import LbSnapshot, load_snapshot
from steelyard.model.spec import LoadBalancerSpec, RenderSettings, RuntimePaths
from steelyard.render.haproxy import render_haproxy

log = logging.getLogger(__name__)

Outcome = Literal["absent", "applied", "deleted", "failed"]
FULL_ENSURE_EVERY_S = 30.0


@dataclass(frozen=True)
class DataPlane:
    compute: ComputeDriver
    networks: VipNetworks
    agent: ApplianceAgent
    host: str
    render_settings: Callable[[RuntimePaths], RenderSettings]  # deployment settings + paths


@dataclass(frozen=True)
class Result:
    outcome: Outcome
    detail: str = ""
    retry_after_s: float = 0.0


@dataclass(frozen=True)
class _Placed:
    name: str
    paths: RuntimePaths
    at: float  # monotonic time of the last full ensure


def verify_targets(spec: LoadBalancerSpec) -> list[str]:
    """Listeners that must accept connections once a config is in force."""
    host = spec.vip_address
    if ipaddress.ip_address(host).version == 6:
        host = f"[{host}]"
    if not spec.admin_state_up:
        return []
    return [f"{host}:{li.protocol_port}" for li in spec.listeners if li.admin_state_up]


class Reconciler:
    def __init__(
        self,
        sessions: Callable[[], Session],
        plane: DataPlane,
        clock: Callable[[], datetime],
        read_sessions: Callable[[], Session] | None = None,
    ) -> None:
        self._sessions = sessions
        self._read_sessions = read_sessions or sessions
        self._plane = plane
        self._clock = clock
        self._placed: dict[str, _Placed] = {}

    def reconcile(self, lb_id: str) -> Result:
        with self._read_sessions() as session:
            snap = load_snapshot(session, lb_id)
        if snap is None:
            return Result("absent")
        started = time.perf_counter()
        try:
            result = self._teardown(lb_id, snap) if snap.deleting else self._apply(lb_id, snap)
        except Exception as exc:  # every failure is retried with backoff
            log.warning("reconcile %s generation %d failed: %s", lb_id, snap.generation, exc)
            with self._sessions() as session:
                delay = record_failure(
                    session, lb_id, f"{type(exc).__name__}: {exc}", self._clock()
                )
                session.commit()
            return Result("failed", str(exc), delay.total_seconds())
        log.info(
            "reconcile %s generation %d: %s in %.1f ms",
            lb_id,
            snap.generation,
            result.outcome,
            (time.perf_counter() - started) * 1000,
        )
        return result

    def _slot(self, snap: LbSnapshot, slot: int, bridge: str | None) -> ApplianceSlot:
        net = snap.network
        return ApplianceSlot(
            name=appliance_name(snap.spec.id, slot),
            vip=VipPlacement(
                address=snap.spec.vip_address,
                prefixlen=ipaddress.ip_network(net.cidr).prefixlen,
                bridge=bridge,
                gateway=net.gateway_ip,
            ),
        )

    def _place(self, lb_id: str, snap: LbSnapshot) -> _Placed:
        """Network, namespace, appliance row and agent appliance, all ensured; the result is
        remembered so that a member change does not pay for it again (FULL_ENSURE_EVERY_S
        re-checks everything, as does a resync or any failure)."""
        name = appliance_name(snap.spec.id, 0)
        known = self._placed.get(name)
        fresh = known is not None and time.monotonic() - known.at < FULL_ENSURE_EVERY_S
        if known is not None and fresh and snap.applied_generation > 0:
            return known
        plane = self._plane
        slot = self._slot(snap, 0, plane.networks.ensure(snap.network))
        placed = plane.compute.ensure(slot)
        with self._sessions() as session:
            upsert_appliance(
                session,
                lb_id=lb_id,
                name=slot.name,
                slot=0,
                compute_driver=plane.compute.name,
                netns=placed.netns,
                host=plane.host,
                vip_address=slot.vip.address,
                now=self._clock(),
                new_id=str(uuid.uuid4()),
            )
            session.commit()
        info = plane.agent.ensure_appliance(slot.name, placed.netns)
        paths = RuntimePaths(
            stats_socket=info.paths.stats_socket,
            server_state_file=info.paths.server_state_file,
            log_socket=info.paths.log_socket,
        )
        self._placed[name] = _Placed(name, paths, time.monotonic())
        return self._placed[name]

    def _apply(self, lb_id: str, snap: LbSnapshot) -> Result:
        plane = self._plane
        name = appliance_name(snap.spec.id, 0)
        try:
            placed = self._place(lb_id, snap)
            settings = plane.render_settings(placed.paths)
            if plane.compute.name == "netns":
                # Own loopback per appliance: stick tables survive reloads through a local peer
                # (the agent runs HAProxy with `-L <name>`). Appliances of the process driver
                # share the host's loopback, so they cannot all listen on the peer port.
                settings = replace(settings, local_peer=name)
            cfg = render_haproxy(snap.spec, settings)
            applied = plane.agent.apply_config(
                name, snap.generation, cfg, verify_targets(snap.spec)
            )
        except Exception:
            self._placed.pop(name, None)  # check everything again next time
            raise
        with self._sessions() as session:
            now = self._clock()
            record_appliance_config(session, name, snap.generation, applied.config_sha256, now)
            record_applied(session, lb_id, snap.generation, snap.doomed, now)
            session.commit()
        return Result("applied", applied.action)

    def _teardown(self, lb_id: str, snap: LbSnapshot) -> Result:
        names = {a.name for a in snap.appliances} | {appliance_name(snap.spec.id, 0)}
        for name in sorted(names):
            self._placed.pop(name, None)
            self._plane.agent.delete_appliance(name)
            self._plane.compute.delete(name)
        with self._sessions() as session:
            record_deleted(session, lb_id)
            session.commit()
        return Result("deleted")

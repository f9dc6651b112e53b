"""reconcile(lb_id): observe (DB) -> plan appliances -> render (pure) -> apply -> record.

Each run reads the whole desired state, never the event that caused it, so coalesced or
repeated runs are harmless. `applied_generation` is written last: a crash anywhere before it
leaves the load balancer dirty, and the next run (here or on another controller) finishes.

Appliances follow `controller.topology`: each pass removes the dead, hands a retiring MASTER's
VIP over, adds appliances (from the spare pool when one is ready), configures every serving
appliance (HAProxy, keepalived for ACTIVE_STANDBY, the ECMP route for ACTIVE_ACTIVE) and then
removes the replaced. Rows are written before the data plane is touched, so a failover that a
crash interrupts is finished by the next run.
"""

import ipaddress
import logging
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal

from sqlalchemy.orm import Session

from steelyard.compute.base import ApplianceSlot, ComputeDriver, VipPlacement
from steelyard.controller.naming import appliance_name
from steelyard.controller.ports import ApplianceAgent, VipNetworks
from steelyard.controller.topology import (
    Current,
    NewAppliance,
    Pass,
    appliance_count,
    pick_host,
    plan_pass,
)
from steelyard.db.appliances import (
    add_appliance,
    appliances_per_host,
    claim_spare,
    ensure_own_address,
    ensure_router_address,
    record_agent,
    remove_appliance,
    routed_vips,
    set_placed,
    set_serving,
)
from steelyard.db.events import record_event
from steelyard.db.hosts import placement_candidates
from steelyard.db.outcomes import (
    record_appliance_config,
    record_deleted,
    record_failure,
    record_snapshot_applied,
)
from steelyard.db.repair import complete_repairs, forget_loadbalancer
from steelyard.db.secret_box import SecretBox
from steelyard.db.secrets import load_materials
from steelyard.db.snapshot import ApplianceRecord, LbSnapshot, appliance_records, load_snapshot
from steelyard.model.enums import ApplianceRole as Role
from steelyard.model.enums import ApplianceStatus as Status
from steelyard.model.enums import Topology
from steelyard.model.secret import SecretMaterial
from steelyard.model.spec import LoadBalancerSpec, RenderSettings, RuntimePaths
from steelyard.model.vrrp import KeepalivedPaths, VipAddress, VrrpProfile, VrrpRole, VrrpSpec
from steelyard.network.ecmp import EcmpRouters
from steelyard.render.haproxy import render_haproxy
from steelyard.render.haproxy_tls import tls_files
from steelyard.render.keepalived import render_keepalived

log = logging.getLogger(__name__)

Outcome = Literal["absent", "applied", "deleted", "failed"]
FULL_ENSURE_EVERY_S = 30.0
MAX_PASSES = 6  # an ACTIVE_STANDBY failover of both appliances takes three
HANDOVER_WAIT_S = 3.0
NOOP_PROVIDER = "noop"


class UnsupportedTopology(RuntimeError):
    pass


@dataclass(frozen=True)
class DataPlane:
    compute: ComputeDriver
    networks: VipNetworks
    agent: ApplianceAgent
    host: str
    render_settings: Callable[[RuntimePaths], RenderSettings]  # deployment settings + paths
    # Where an appliance on this VIP network sends its heartbeats ("ip:port").
    heartbeat_to: Callable[[str | None], list[str]] = lambda gateway: []
    router: EcmpRouters | None = None  # ACTIVE_ACTIVE needs one
    vrrp_profile: VrrpProfile | None = None  # ACTIVE_STANDBY needs one
    # TLS (issue 6): opens the secret store's secrets for the appliances that need them.
    secret_box: SecretBox | None = None


@dataclass(frozen=True)
class Result:
    outcome: Outcome
    detail: str = ""
    retry_after_s: float = 0.0


@dataclass(frozen=True)
class _Placed:
    name: str
    paths: RuntimePaths
    keepalived: KeepalivedPaths | None
    own_address: str | None
    at: float  # monotonic time of the last full ensure
    # SINGLE, just ensured: announced once its HAProxy serves the VIP (ComputeDriver.announce)
    announce: ApplianceSlot | None = None


def verify_targets(spec: LoadBalancerSpec) -> list[str]:
    """Listeners that must accept connections once a config is in force."""
    host = spec.vip_address
    if ipaddress.ip_address(host).version == 6:
        host = f"[{host}]"
    if not spec.admin_state_up:
        return []
    return [f"{host}:{li.protocol_port}" for li in spec.listeners if li.admin_state_up]


def vrrp_router_id(lb_id: str) -> int:
    """1..255 from the load balancer id (peers are unicast, so ids only need to differ between
    the instances of one appliance, which has one)."""
    return int(lb_id.replace("-", "")[:8], 16) % 255 + 1


class Reconciler:
    def __init__(
        self,
        sessions: Callable[[], Session],
        plane: DataPlane,
        clock: Callable[[], datetime],
        read_sessions: Callable[[], Session] | None = None,
        on_result: Callable[[str, float], None] = lambda outcome, seconds: None,
    ) -> None:
        """`on_result(outcome, seconds)` hears of every reconcile (the control-plane metrics)."""
        self._sessions = sessions
        self._read_sessions = read_sessions or sessions
        self._plane = plane
        self._clock = clock
        self._on_result = on_result
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
            self._on_result("failed", time.perf_counter() - started)
            return Result("failed", str(exc), delay.total_seconds())
        took = time.perf_counter() - started
        self._on_result(result.outcome, took)
        log.info(
            "reconcile %s generation %d: %s in %.1f ms",
            lb_id,
            snap.generation,
            result.outcome,
            took * 1000,
        )
        return result

    # -- the passes -------------------------------------------------------------------------

    def _apply(self, lb_id: str, snap: LbSnapshot) -> Result:
        if snap.provider == NOOP_PROVIDER:  # Octavia's noop driver: statuses settle, nothing runs
            with self._sessions() as session:
                record_snapshot_applied(session, lb_id, snap, self._clock())
                session.commit()
            return Result("applied", "noop provider")
        topology = Topology(snap.topology)
        if topology is not Topology.SINGLE and self._plane.compute.name != "netns":
            raise UnsupportedTopology(
                f"{topology.value} needs the netns compute driver "
                f"(this server runs {self._plane.compute.name})"
            )
        count = appliance_count(topology, snap.appliance_count)
        appliances = snap.appliances
        actions: list[str] = []
        for _ in range(MAX_PASSES):
            current = self._current(topology, appliances)
            plan = plan_pass(topology, count, current)
            actions.append(self._run_pass(lb_id, snap, topology, plan))
            retiring = any(a.status is Status.RETIRING for a in current)
            if not (plan.remove_first or plan.handover or plan.remove_after or retiring):
                break  # added appliances serve once configured: nothing else to do
            with self._read_sessions() as session:
                appliances = appliance_records(session, lb_id)
        else:
            raise RuntimeError(f"appliances did not settle in {MAX_PASSES} passes")
        with self._sessions() as session:
            record_snapshot_applied(session, lb_id, snap, self._clock())
            complete_repairs(session, lb_id, snap.generation, self._clock())
            session.commit()
        return Result("applied", ", ".join(actions))

    def _current(self, topology: Topology, records: Sequence[ApplianceRecord]) -> list[Current]:
        """Appliances as the planner sees them; for ACTIVE_STANDBY with the VRRP state each
        appliance's keepalived reports now (the database may lag by a heartbeat)."""
        currents = []
        for record in records:
            role = Role(record.role) if record.role in Role.__members__ else Role.STANDALONE
            if topology is Topology.ACTIVE_STANDBY and record.status != Status.FAILED:
                reported = self._vrrp_state(record.name)
                if reported in (Role.MASTER, Role.BACKUP):
                    role = Role(reported)
            status = Status(record.status) if record.status in Status.__members__ else Status.FAILED
            currents.append(Current(record.name, record.slot, status, role, record.host))
        return currents

    def _vrrp_state(self, name: str) -> str | None:
        try:
            info = self._plane.agent.get_appliance(name)
        except Exception:  # unreachable: the planner goes by the database
            return None
        return info.vrrp_state if info is not None else None

    def _run_pass(self, lb_id: str, snap: LbSnapshot, topology: Topology, plan: Pass) -> str:
        if plan.remove_first and topology is Topology.ACTIVE_ACTIVE:
            # Take the dead out of the route before anything else: their flows move now.
            self._route(snap, [n for n in plan.roles])
        for name in plan.remove_first:
            self._remove(lb_id, name, "failed")
        if plan.handover is not None:
            master = next((n for n, r in plan.roles.items() if r is Role.MASTER), None)
            self._handover(plan.handover, master)
        # A pair's replaced appliance holds no VIP by now (a MASTER handed it over). It goes
        # before the others are reconfigured: once they stop sending it adverts, its keepalived
        # would take the VIP back (measured: a split brain, 1 in 3 new connections lost).
        leaving_first = topology is Topology.ACTIVE_STANDBY
        if leaving_first:
            for name in plan.remove_after:
                self._remove(lb_id, name, "replaced")
        roles = dict(plan.roles)
        for new in plan.add:
            roles[self._add(lb_id, snap, new)] = new.role
        action = self._configure(lb_id, snap, topology, roles)
        if topology is Topology.ACTIVE_ACTIVE:
            self._route(snap, list(roles))
        if not leaving_first:
            for name in plan.remove_after:
                self._remove(lb_id, name, "replaced")
        with self._sessions() as session:
            set_serving(session, roles, {n: r.value for n, r in roles.items()})
            session.commit()
        return action

    def _add(self, lb_id: str, snap: LbSnapshot, new: NewAppliance) -> str:
        """A row for the new appliance: a spare from the pool, else one to build."""
        now = self._clock()
        with self._sessions() as session:
            hosts = placement_candidates(session, lb_id, snap.availability_zone, self._plane.host)
            spare = claim_spare(
                session, lb_id, new.slot, new.role.value, snap.availability_zone, now, hosts
            )
            if spare is not None:
                name = spare.name
            else:
                name = appliance_name(lb_id, new.slot)
                host = pick_host(hosts, new.avoid_hosts, appliances_per_host(session))
                add_appliance(
                    session,
                    new_id=str(uuid.uuid4()),
                    name=name,
                    lb_id=lb_id,
                    slot=new.slot,
                    role=new.role.value,
                    host=host,
                    compute_driver=self._plane.compute.name,
                    zone=snap.availability_zone,
                    now=now,
                )
            session.commit()
        log.info(
            "load balancer %s: appliance %s %s",
            lb_id,
            name,
            "from the spare pool" if spare else "built",
        )
        return name

    def _configure(
        self, lb_id: str, snap: LbSnapshot, topology: Topology, roles: dict[str, Role]
    ) -> str:
        placed = {name: self._place(lb_id, snap, topology, name) for name in roles}
        # TLS (issue 6): the decrypted secrets the spec names, turned into each appliance's
        # files below (tls_files: certificates, CAs, CRLs and crt-lists, by that appliance's path).
        with self._read_sessions() as session:
            materials = load_materials(session, snap.spec, self._plane.secret_box)
        names = sorted(roles, key=lambda n: (roles[n] is not Role.MASTER, n))
        actions = []
        if roles[names[0]] is Role.MASTER:
            # The MASTER's keepalived starts first, so that it wins the election of a new pair
            # (both run nopreempt: whoever is MASTER first stays MASTER).
            master, names = names[0], names[1:]
            actions.append(
                self._configure_one(lb_id, snap, topology, master, roles, placed, materials)
            )
        # The others at once: each apply is mostly waiting for HAProxy processes.
        with ThreadPoolExecutor(max(1, len(names)), thread_name_prefix="apply") as pool:
            futures = [
                pool.submit(self._configure_one, lb_id, snap, topology, n, roles, placed, materials)
                for n in names
            ]
            actions += [future.result() for future in futures]
        return "/".join(actions)

    def _configure_one(
        self,
        lb_id: str,
        snap: LbSnapshot,
        topology: Topology,
        name: str,
        roles: dict[str, Role],
        placed: dict[str, _Placed],
        materials: dict[str, SecretMaterial],
    ) -> str:
        place = placed[name]
        try:
            settings = self._plane.render_settings(place.paths)
            if snap.haproxy_threads is not None:  # the load balancer's flavor says
                settings = replace(settings, nbthread=snap.haproxy_threads)
            if self._plane.compute.name == "netns":
                # Own loopback per appliance: stick tables survive reloads through a local
                # peer (the agent runs HAProxy with `-L <name>`). Appliances of the process
                # driver share the host's loopback, so they cannot all listen on the peer port.
                settings = replace(settings, local_peer=name)
            cfg = render_haproxy(snap.spec, settings)
            keepalived = None
            if topology is Topology.ACTIVE_STANDBY:
                keepalived = self._keepalived(lb_id, snap, name, roles, placed)
            # keepalived puts the VIP on a pair's MASTER after HAProxy is in force, so
            # nothing local answers on it yet to verify (the agent still checks workers).
            standby = topology is Topology.ACTIVE_STANDBY
            verify = [] if standby else verify_targets(snap.spec)
            files = tls_files(snap.spec, materials, place.paths.tls_dir)  # TLS (issue 6)
            applied = self._plane.agent.apply_config(
                name, snap.generation, cfg, verify, keepalived_cfg=keepalived, files=files
            )
            if place.announce is not None:
                self._plane.compute.announce(place.announce)
        except Exception:
            self._placed.pop(name, None)  # check everything again next time
            raise
        with self._sessions() as session:
            record_appliance_config(
                session, name, snap.generation, applied.config_sha256, self._clock()
            )
            session.commit()
        return applied.action

    def _keepalived(
        self,
        lb_id: str,
        snap: LbSnapshot,
        name: str,
        roles: dict[str, Role],
        placed: dict[str, _Placed],
    ) -> str:
        profile = self._plane.vrrp_profile
        own, paths = placed[name].own_address, placed[name].keepalived
        if profile is None or own is None or paths is None:
            raise UnsupportedTopology(
                "ACTIVE_STANDBY needs a VRRP profile, own addresses and an agent with keepalived"
            )
        spec = VrrpSpec(
            router_id=vrrp_router_id(lb_id),
            interface="eth0",
            role=VrrpRole.MASTER if roles[name] is Role.MASTER else VrrpRole.BACKUP,
            unicast_src_ip=own,
            unicast_peers=tuple(
                p.own_address for n, p in sorted(placed.items()) if n != name and p.own_address
            ),
            vips=(
                VipAddress(
                    snap.spec.vip_address, ipaddress.ip_network(snap.network.cidr).prefixlen
                ),
            ),
            profile=profile,
            paths=paths,
        )
        return render_keepalived(spec)

    def _place(self, lb_id: str, snap: LbSnapshot, topology: Topology, name: str) -> _Placed:
        """Network, namespace, own address and agent appliance, all ensured; the result is
        remembered so that a member change does not pay for it again (FULL_ENSURE_EVERY_S
        re-checks everything, as does a resync or any failure)."""
        known = self._placed.get(name)
        fresh = known is not None and time.monotonic() - known.at < FULL_ENSURE_EVERY_S
        if known is not None and fresh and snap.applied_generation > 0:
            return known
        plane = self._plane
        own: str | None = None
        if topology is not Topology.SINGLE:
            with self._sessions() as session:
                own = ensure_own_address(session, name)
                session.commit()
        net = snap.network
        vip = snap.spec.vip_address
        placement = VipPlacement(
            address=own or vip,
            prefixlen=ipaddress.ip_network(net.cidr).prefixlen,
            bridge=plane.networks.ensure(net),
            gateway=net.gateway_ip,
            loopback_vips=(vip,) if topology is Topology.ACTIVE_ACTIVE else (),
            is_vip=own is None,
        )
        slot = ApplianceSlot(name=name, vip=placement)
        where = plane.compute.ensure(slot)
        with self._sessions() as session:
            set_placed(session, name, where.netns, vip, self._clock())
            session.commit()
        info = plane.agent.ensure_appliance(
            name, where.netns, heartbeat_to=plane.heartbeat_to(net.gateway_ip)
        )
        self._record_agent(name)
        paths = RuntimePaths(
            stats_socket=info.paths.stats_socket,
            server_state_file=info.paths.server_state_file,
            log_socket=info.paths.log_socket,
            tls_dir=info.paths.tls_dir,  # TLS (issue 6): where the agent keeps the files
        )
        self._placed[name] = _Placed(name, paths, info.paths.keepalived, own, time.monotonic())
        return replace(self._placed[name], announce=slot if placement.is_vip else None)

    def _record_agent(self, name: str) -> None:
        """The agent's versions and certificate on the appliance's row (issue 4: the amphora
        API and the operator views show them), once per full ensure."""
        agent = self._plane.agent
        reported = agent.info()
        with self._sessions() as session:
            record_agent(
                session,
                name,
                agent_version=reported.agent_version,
                haproxy_version=reported.haproxy_version,
                agent_address=agent.address,
                cert_not_after=reported.server_cert_not_after,
            )
            session.commit()

    def _route(self, snap: LbSnapshot, serving: list[str]) -> None:
        """ACTIVE_ACTIVE: the network's router sends the VIP's flows to the serving appliances
        (resilient nexthop group: adding or removing one moves only that one's flows)."""
        router = self._plane.router
        if router is None:
            raise UnsupportedTopology("ACTIVE_ACTIVE needs an ECMP router on this host")
        net = snap.network
        with self._sessions() as session:
            router_ip = ensure_router_address(session, snap.vip_subnet_id)
            session.commit()
            records = {r.name: r for r in appliance_records(session, snap.spec.id)}
        bridge = self._plane.networks.ensure(net)
        if bridge is None:
            raise UnsupportedTopology("ACTIVE_ACTIVE needs a bridged VIP network")
        rebuilt = router.ensure_router(
            net.network_id, router_ip, ipaddress.ip_network(net.cidr).prefixlen, bridge
        )
        if rebuilt:  # the routes of the network's other VIPs went with the old links
            with self._read_sessions() as session:
                others = routed_vips(session, net.network_id)
            for vip, addresses in others.items():
                if vip != snap.spec.vip_address:
                    router.ensure_vip(net.network_id, vip, addresses)
        hops = [r.own_address for n in serving if (r := records.get(n)) and r.own_address]
        router.ensure_vip(net.network_id, snap.spec.vip_address, hops)

    def _handover(self, old_master: str, new_master: str | None) -> None:
        """A planned switchover: the MASTER drains (new connections wait for their SYN
        retransmit, requests in flight finish: agent/drain.py), then steps down (keepalived
        sends priority 0) and the BACKUP takes the VIP in about one advert interval."""
        released = self._plane.agent.release_vrrp(old_master)
        drain = released.drain
        if drain is not None:
            log.info(
                "%s drained in %.0f ms before the handover (%d requests cut, %d idle "
                "connections closed%s)",
                old_master,
                drain.drain_ms,
                drain.in_flight_cut,
                drain.idle_closed,
                ", timed out" if drain.timed_out else "",
            )
        if new_master is None:
            return
        deadline = time.monotonic() + HANDOVER_WAIT_S
        while time.monotonic() < deadline:
            if self._vrrp_state(new_master) == Role.MASTER:
                return
            time.sleep(0.02)
        log.warning("%s did not report MASTER %.1f s after %s stepped down", new_master,
                    HANDOVER_WAIT_S, old_master)  # fmt: skip

    def _remove(self, lb_id: str, name: str, why: str) -> None:
        self._placed.pop(name, None)
        self._plane.agent.delete_appliance(name)
        self._plane.compute.delete(name)
        now = self._clock()
        with self._sessions() as session:
            remove_appliance(session, name)
            record_event(
                session,
                type="appliance.removed",
                severity="info",
                message=f"an appliance of load balancer {lb_id} was removed ({why})",
                loadbalancer_id=lb_id,
                details={"reason": why},
                operator_details={"appliance": name},
                now=now,
            )
            session.commit()

    def _teardown(self, lb_id: str, snap: LbSnapshot) -> Result:
        if Topology(snap.topology) is Topology.ACTIVE_ACTIVE and self._plane.router is not None:
            self._plane.router.remove_vip(snap.network.network_id, snap.spec.vip_address)
        for name in sorted(a.name for a in snap.appliances):
            self._placed.pop(name, None)
            self._plane.agent.delete_appliance(name)
            self._plane.compute.delete(name)
        with self._sessions() as session:
            record_deleted(session, lb_id, self._clock())
            forget_loadbalancer(session, lb_id)
            session.commit()
        return Result("deleted")

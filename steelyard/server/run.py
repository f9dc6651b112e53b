"""The embedded server: API, reconciler, status observer and health manager in one process,
one local agent.

This is the composition root: the one place that picks the drivers and wires the layers.
"""

import logging
import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import uvicorn
from sqlalchemy.orm import Session, sessionmaker

from steelyard.agent.client import AgentClient
from steelyard.agent.layout import check_state_dir
from steelyard.agent.pki import client_ssl_context, ensure_pki
from steelyard.api.app import create_app
from steelyard.api.policy import load_policy
from steelyard.api.policy_defaults import DEFAULT_RULES
from steelyard.api.services import Services
from steelyard.api.settings import ApiSettings
from steelyard.compute.base import ComputeDriver
from steelyard.compute.netns import NetnsDriver
from steelyard.compute.process import ProcessDriver
from steelyard.controller.observer import StatusObserver
from steelyard.controller.reconciler import DataPlane, Reconciler
from steelyard.controller.spares import SparePool
from steelyard.controller.workers import ControllerWorkers
from steelyard.db.engine import make_engine, make_read_sessionmaker, make_sessionmaker, sqlite_url
from steelyard.db.hosts import sync_hosts
from steelyard.db.leases import new_owner_id
from steelyard.db.migrate import upgrade
from steelyard.db.networks import ensure_default_network
from steelyard.db.secret_box import KEY_FILE, SecretBox, load_or_create_key
from steelyard.db.snapshot import VipNetwork, vip_network_named
from steelyard.health.manager import HealthManager
from steelyard.model.enums import Topology
from steelyard.model.spec import RenderSettings, RuntimePaths
from steelyard.model.vrrp import PROFILES
from steelyard.model.webhook import parse_networks
from steelyard.network.ecmp import EcmpRouters
from steelyard.network.names import NameScheme
from steelyard.server.diagnostics import AgentDiagnostics
from steelyard.server.heartbeat import (
    ensure_heartbeat_key,
    heartbeat_targets,
    make_health_manager,
)
from steelyard.server.local_agent import LocalAgent
from steelyard.server.logs import start_log_collector
from steelyard.server.settings import ServerSettings, parse_hostport
from steelyard.server.vip_networks import HostVipNetworks
from steelyard.telemetry.control import ControlPlaneMetrics
from steelyard.telemetry.logs_collector import LogCollector
from steelyard.telemetry.thresholds import ThresholdWatcher
from steelyard.telemetry.usage import UsageAccrual
from steelyard.telemetry.webhook_signature import RetryPolicy
from steelyard.telemetry.webhooks import WebhookDispatcher

log = logging.getLogger("steelyard")


def utcnow() -> datetime:
    """Naive UTC, as the database stores it."""
    return datetime.now(UTC).replace(tzinfo=None)


def _wait_for_agent(agent: AgentClient, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            agent.info()
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


@dataclass
class Running:
    sessions: sessionmaker[Session]
    read_sessions: sessionmaker[Session]
    agent_process: LocalAgent
    agent: AgentClient
    workers: ControllerWorkers
    observer: StatusObserver
    health: HealthManager
    spares: SparePool | None
    webhooks: WebhookDispatcher
    thresholds: ThresholdWatcher
    control_metrics: ControlPlaneMetrics  # issue 4 (metering)
    usage: UsageAccrual
    logs: LogCollector | None = None  # issue 4 (logs)

    def stop(self) -> None:
        if self.logs is not None:
            self.logs.stop()
        self.usage.stop()
        self.thresholds.stop()
        self.webhooks.stop()
        if self.spares is not None:
            self.spares.stop()
        self.health.stop()
        self.observer.stop()
        self.workers.stop()
        self.agent.close()
        self.agent_process.stop()


def _compute(settings: ServerSettings) -> ComputeDriver:
    if settings.driver == "netns":
        return NetnsDriver(settings.prefix)
    return ProcessDriver()


def secrets_key(settings: ServerSettings) -> bytes:
    """The secret store's key (STATE/secrets.key, made 0600 at first start): the API seals new
    secrets with it, the reconciler opens them for the appliances."""
    return load_or_create_key(settings.state_dir / KEY_FILE)


def start_control_plane(settings: ServerSettings) -> Running:
    state = settings.state_dir
    state.mkdir(parents=True, exist_ok=True, mode=0o700)
    engine = make_engine(sqlite_url(state))
    upgrade(engine)
    sessions = make_sessionmaker(engine)
    read_sessions = make_read_sessionmaker(engine)
    with sessions() as session:
        ensure_default_network(
            session,
            name=settings.default_network,
            cidr=settings.effective_vip_cidr,
            kind="bridge" if settings.driver == "netns" else "loopback",
            bridge=None,
        )
        sync_hosts(session, settings.effective_hosts, utcnow())
        session.commit()
        default_network = vip_network_named(session, settings.default_network)
    networks = HostVipNetworks(NameScheme(settings.prefix))
    if default_network is not None:
        # Up from the start, so host processes can bind the gateway address as members.
        networks.ensure(default_network)

    check_state_dir(state / "agent")  # fail now, not in a restarting child, if it is too long
    pki = ensure_pki(state / "pki")
    agent_host, agent_port = parse_hostport(settings.agent_listen)
    heartbeat_key = ensure_heartbeat_key(state)
    # Bound now (port 0: a free one), started once the reconciler it wakes exists.
    health = make_health_manager(
        settings,
        heartbeat_key,
        sessions,
        read_sessions,
        lambda lb_id: workers.kick(lb_id),
        utcnow,
    )
    heartbeat_port = health.address[1]
    agent_process = LocalAgent(
        agent_host,
        agent_port,
        state / "agent",
        state / "pki",
        heartbeat_key_file=heartbeat_key,
        heartbeat_interval_s=settings.heartbeat_interval_s,
    )
    agent_process.start()
    agent = AgentClient(agent_process.url, client_ssl_context(pki))
    _wait_for_agent(agent)

    def render_settings(paths: RuntimePaths) -> RenderSettings:
        return RenderSettings(
            paths=paths,
            max_connections=settings.max_connections,
            default_listener_maxconn=settings.max_connections,
            nbthread=settings.effective_haproxy_threads,
            connection_logging=settings.connection_logging,
        )

    plane = DataPlane(
        compute=_compute(settings),
        networks=networks,
        agent=agent,
        host=settings.effective_hosts[0].name,  # where appliances go if no host is declared
        render_settings=render_settings,
        heartbeat_to=lambda gateway: heartbeat_targets(gateway, heartbeat_port),
        # ACTIVE_STANDBY and ACTIVE_ACTIVE need namespaces (own links, own addresses).
        router=EcmpRouters(settings.prefix) if settings.driver == "netns" else None,
        vrrp_profile=PROFILES[settings.vrrp_timing] if settings.driver == "netns" else None,
        secret_box=SecretBox(secrets_key(settings)),  # TLS (issue 6)
    )
    control_metrics = ControlPlaneMetrics()
    reconciler = Reconciler(
        sessions, plane, utcnow, read_sessions, on_result=control_metrics.reconciled
    )
    workers = ControllerWorkers(
        sessions, reconciler, new_owner_id(), utcnow, workers=settings.workers
    )
    workers.start()
    observer = StatusObserver(
        sessions, agent, utcnow, on_resync=workers.kick, interval_s=settings.status_interval_s
    )
    observer.start()
    health.start()
    spares = None
    if settings.spare_pool > 0 and settings.driver == "netns":

        def spare_network() -> VipNetwork | None:
            with read_sessions() as session:
                return vip_network_named(session, settings.default_network)

        spares = SparePool(sessions, plane, utcnow, spare_network, size=settings.spare_pool)
        spares.start()
    webhooks = WebhookDispatcher(
        sessions,
        SecretBox(secrets_key(settings)),
        utcnow,
        RetryPolicy(max_attempts=settings.webhook_attempts, base_s=settings.webhook_backoff_s),
        None if settings.webhook_allow is None else parse_networks(settings.webhook_allow),
    )
    webhooks.start()
    thresholds = ThresholdWatcher(sessions, utcnow, settings.max_connections)
    thresholds.start()
    usage = UsageAccrual(sessions, utcnow, settings.usage_interval_s)
    usage.start()
    logs = start_log_collector(
        settings, sessions, agent_process.url, client_ssl_context(pki), utcnow
    )
    control_metrics.include(logs.families)
    return Running(
        sessions, read_sessions, agent_process, agent, workers, observer, health, spares,
        webhooks, thresholds, control_metrics, usage, logs=logs,
    )  # fmt: skip


def serve(settings: ServerSettings) -> None:
    logging.basicConfig(
        level=os.environ.get("STEELYARD_LOG_LEVEL", "INFO"),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per agent call otherwise
    policy = load_policy(settings.policy_file, DEFAULT_RULES)  # a bad file stops us here
    running = start_control_plane(settings)
    host, port = parse_hostport(settings.listen)
    app = create_app(
        ApiSettings(
            auth=settings.auth,
            default_network=settings.default_network,
            policy=policy,
            default_topology=settings.default_topology,
            topologies=(
                frozenset(Topology) if settings.driver == "netns" else frozenset({Topology.SINGLE})
            ),
            secrets_key=secrets_key(settings),  # TLS (issue 6): the secret store seals with it
        ),
        running.sessions,
        running.workers.kick,
        running.read_sessions,
        services=Services(
            diagnostics=AgentDiagnostics(running.agent),
            webhooks=running.webhooks,
            control_metrics=running.control_metrics,
        ),
    )
    if settings.auth == "noauth":
        log.warning(
            "auth is 'noauth': anyone who reaches %s acts as any project. DEVELOPMENT ONLY; "
            "use --auth keys with `steelyard keys create` for anything else.",
            settings.listen,
        )
    url = f"http://{host}:{port}"
    print(
        f"Steelyard API on {url} (driver {settings.driver}, state in {settings.state_dir})\n"
        f"  try:  curl {url}/v2/lbaas/loadbalancers -H 'X-Project-Id: demo'\n"
        f"  demo: steelyard demo --url {url}   (or: make demo)",
        flush=True,
    )
    try:
        uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)
    finally:
        running.stop()

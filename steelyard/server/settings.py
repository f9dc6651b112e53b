"""Settings of one Steelyard server process (the embedded default: API, controller and status
observer in one process, SQLite in the state directory, one local appliance agent)."""

import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from steelyard.model.enums import Topology
from steelyard.model.repair import HostDeclaration

Driver = Literal["netns", "process"]
Auth = Literal["noauth", "keys"]

DEFAULT_LISTEN = "127.0.0.1:9876"
DEFAULT_HEARTBEAT_LISTEN = "0.0.0.0:5555"
BRIDGE_CIDR = "198.18.0.0/24"  # netns driver: a bridge, host side at .1
LOOPBACK_CIDR = "127.226.0.0/24"  # process driver: VIPs on loopback, no root needed


def default_state_dir() -> Path:
    if env := os.environ.get("STEELYARD_STATE_DIR"):
        return Path(env)
    if os.geteuid() == 0:
        return Path("/var/lib/steelyard")
    return Path.home() / ".local" / "state" / "steelyard"


def default_driver() -> Driver:
    return "netns" if os.geteuid() == 0 else "process"


def parse_hostport(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"expected HOST:PORT, got {text!r}")
    return host.strip("[]") or "127.0.0.1", int(port)


@dataclass(frozen=True)
class ServerSettings:
    state_dir: Path
    listen: str = DEFAULT_LISTEN
    auth: Auth = "noauth"
    driver: Driver = "process"
    # Prefix of every namespace, link and bridge this server makes (tests run several apart).
    prefix: str = "sy"
    vip_cidr: str | None = None  # default network's subnet; None = by driver
    default_network: str = "public"
    agent_listen: str = "127.0.0.1:0"  # port 0: a free port at start
    workers: int = 4
    status_interval_s: float = 1.0
    usage_interval_s: float = 60.0  # issue 4 (metering): how often usage records are accrued
    # Heartbeats: the health manager listens on every address (each VIP bridge's gateway).
    heartbeat_listen: str = DEFAULT_HEARTBEAT_LISTEN
    heartbeat_interval_s: float = 1.0
    heartbeat_timeout_s: float = 3.0  # silent longer: the appliance has failed
    breaker_share: float = 0.5  # more silent at once than this share: hold failover back
    breaker_min: int = 3  # ... and at least this many
    max_connections: int = 5000
    haproxy_threads: int | None = None  # None: one per CPU, at most 4
    policy_file: Path | None = None  # YAML rules over Octavia's default policy
    default_topology: Topology = Topology.SINGLE  # for load balancers whose flavor names none
    spare_pool: int = 0  # ready spare appliances kept (netns driver)
    # keepalived timing of ACTIVE_STANDBY pairs: STEELYARD, or OCTAVIA_DEFAULTS (for comparison)
    vrrp_timing: str = "STEELYARD"
    # Webhooks (issue 4): attempts per delivery, the wait after the first failure (doubling
    # up to 10 min, jittered), and the networks they may go to (None: anywhere)
    webhook_attempts: int = 8
    webhook_backoff_s: float = 2.0
    webhook_allow: str | None = None
    # issue 4: hosts appliances are placed on, all served by the local agent; () = one host
    # named after this machine
    hosts: tuple[HostDeclaration, ...] = ()
    # issue 4 (logs): flow and admin logs kept this long, at most this many rows per table;
    # remote syslog targets ("udp://HOST:PORT", "tcp://HOST:PORT") of flow and of admin logs
    log_retention_hours: float = 72.0
    log_max_rows: int = 1_000_000
    log_targets: tuple[str, ...] = ()
    admin_log_targets: tuple[str, ...] = ()
    # A flow log row per request; off (--no-connection-logging) saves the CPU it costs, as
    # Octavia's [haproxy_amphora] connection_logging. Admin logs stay either way.
    connection_logging: bool = True

    @property
    def effective_haproxy_threads(self) -> int:
        return self.haproxy_threads or min(os.cpu_count() or 1, 4)

    @property
    def effective_hosts(self) -> tuple[HostDeclaration, ...]:
        return self.hosts or (HostDeclaration(socket.gethostname()),)

    @property
    def effective_vip_cidr(self) -> str:
        if self.vip_cidr:
            return self.vip_cidr
        return BRIDGE_CIDR if self.driver == "netns" else LOOPBACK_CIDR

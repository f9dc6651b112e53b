"""An appliance's live state for operators: HAProxy's runtime API, keepalived, the network.

Read-only and without the appliance's lock (like the protection counters): a reload meanwhile
at worst answers for either config. Each section is read on its own; one that fails is left
out and `errors` says why, so a dead HAProxy still shows keepalived and the namespace's links.
"""

import json
import re
import shutil
import subprocess
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from pydantic import ValidationError

from steelyard.agent.appliance import Appliance
from steelyard.agent.diagnostics_parse import (
    parse_ip_addr,
    parse_ip_route,
    parse_keepalived_instances,
    parse_servers_state,
    parse_show_info,
    parse_show_stat,
    summarise_sessions,
)
from steelyard.agent.layout import read_applied
from steelyard.agent.netns import netns_path
from steelyard.agent.runtime_api import RuntimeApiError
from steelyard.model.diagnostics import (
    MAX_SESSIONS_SCANNED,
    MAX_TARGETS,
    OBJECT_NAME_PATTERN,
    ApplianceDiagnostics,
    KeepalivedState,
    NetworkState,
    ProbeTarget,
    Section,
)

T = TypeVar("T")
_OBJECT_NAME = re.compile(OBJECT_NAME_PATTERN)
IP_TIMEOUT_S = 5.0
# A `show sess` line of HAProxy 2.6 is about 350 bytes: room for the lines we count.
_SESSIONS_HEAD = MAX_SESSIONS_SCANNED * 512


class SectionUnavailable(Exception):
    """A section cannot be read; the message says why, for the operator."""


def collect(appliance: Appliance) -> ApplianceDiagnostics:
    start = time.perf_counter()
    errors: dict[Section, str] = {}

    def section(name: Section, read: Callable[[], T]) -> T | None:
        try:
            return read()
        except (
            SectionUnavailable,
            RuntimeApiError,
            OSError,
            ValueError,
            subprocess.SubprocessError,
        ) as exc:
            errors[name] = str(exc) or type(exc).__name__
            return None

    running = appliance.process.master_pid() is not None
    runtime = appliance.runtime

    def haproxy(command: str, head: int | None = None) -> str:
        if not running:
            raise SectionUnavailable("HAProxy is not running")
        return runtime.command(command, head=head)

    info = section("info", lambda: parse_show_info(haproxy("show info")))
    stats = section("stats", lambda: parse_show_stat(haproxy("show stat")))
    servers = section("servers", lambda: parse_servers_state(haproxy("show servers state")))
    sessions = section(
        "sessions",
        lambda: summarise_sessions(haproxy("show sess", _SESSIONS_HEAD), MAX_SESSIONS_SCANNED),
    )
    keepalived = section("keepalived", lambda: _keepalived(appliance))
    network = section("network", lambda: network_state(appliance.netns))
    applied = read_applied(appliance.layout)
    return ApplianceDiagnostics(
        appliance=appliance.name,
        netns=appliance.netns,
        collected_at=datetime.now(UTC).replace(tzinfo=None),
        duration_ms=round((time.perf_counter() - start) * 1000, 3),
        haproxy_running=running,
        generation=applied.generation if applied else None,
        config_sha256=applied.config_sha256 if applied else None,
        info=info,
        stats=stats or [],
        servers=servers or [],
        sessions=sessions,
        keepalived=keepalived,
        network=network,
        errors=errors,
    )


def running_targets(appliance: Appliance) -> list[ProbeTarget]:
    """Every server of the config in force with an address and a port, as a TCP target
    (member id = server name, pool id = backend name when they are ids)."""
    if appliance.process.master_pid() is None:
        raise SectionUnavailable("HAProxy is not running")
    targets = []
    for server in parse_servers_state(appliance.runtime.command("show servers state")):
        if server.port is None:
            continue  # a server without a port of its own forwards to the client's
        try:
            targets.append(
                ProbeTarget(
                    member_id=_id_or_none(server.server),
                    pool_id=_id_or_none(server.backend),
                    address=server.address,
                    port=server.port,
                )
            )
        except ValidationError:
            continue  # a name-based address (resolvers): nothing to connect to by itself
    return targets[:MAX_TARGETS]


def _id_or_none(name: str) -> str | None:
    return name if _OBJECT_NAME.fullmatch(name) else None


def _keepalived(appliance: Appliance) -> KeepalivedState:
    cfg_path = appliance.layout.keepalived_cfg
    cfg = cfg_path.read_text(encoding="utf-8") if cfg_path.exists() else None
    pid = appliance.keepalived.pid()
    return KeepalivedState(
        configured=cfg is not None,
        running=pid is not None,
        pid=pid,
        vrrp_state=appliance.keepalived.vrrp_state(),
        instances=parse_keepalived_instances(cfg) if cfg is not None else [],
    )


def network_state(netns: str | None) -> NetworkState:
    """Links, addresses and routes (main table, IPv4 and IPv6) of the appliance's namespace.

    An appliance of the `process` driver shares the host's namespace: the host's network is
    not the appliance's to show, so that section is refused."""
    if netns is None:
        raise SectionUnavailable("the appliance runs in the host's network namespace")
    netns_path(netns)  # validates the name before it reaches a command line
    return NetworkState(
        netns=netns,
        interfaces=parse_ip_addr(_ip_json(netns, "addr", "show")),
        routes=parse_ip_route(_ip_json(netns, "route", "show"), "inet")
        + parse_ip_route(_ip_json(netns, "-6", "route", "show"), "inet6"),
    )


def _ip_json(netns: str, *args: str) -> list[dict[str, Any]]:
    ip = shutil.which("ip") or "/usr/sbin/ip"
    done = subprocess.run(
        [ip, "-n", netns, "-j", *args],
        capture_output=True,
        text=True,
        timeout=IP_TIMEOUT_S,
        check=False,
    )
    if done.returncode != 0:
        raise SectionUnavailable(f"ip {' '.join(args)}: {done.stderr.strip()[:300]}")
    parsed = json.loads(done.stdout or "[]")
    if not isinstance(parsed, list):
        raise SectionUnavailable(f"ip {' '.join(args)}: unexpected answer")
    return parsed

"""Pure: which members to test, and what the appliances' answers mean, in plain language.

`probe_targets` turns a load balancer's pools into connectivity targets (the pool's health
monitor decides the check; an HTTP pool without one gets `GET /` expecting 200-399).
`state_verdicts` reads HAProxy's, keepalived's and the agent's answers; `connectivity_verdicts`
reads the member tests. Verdicts name the member by address, port and id, and say what to check.
"""

from collections import defaultdict
from collections.abc import Sequence

from steelyard.db.diagnostics import DiagnosedLoadBalancer
from steelyard.model.diagnostics import (
    MAX_TARGETS,
    ApplianceConnectivity,
    ApplianceReport,
    HealthCheckProbe,
    ProbeResult,
    ProbeTarget,
    StatLine,
    Verdict,
)
from steelyard.model.enums import HealthMonitorType, PoolProtocol
from steelyard.model.spec import PoolSpec

NO_MONITOR_CODES = "200-399"  # an HTTP pool without a monitor: any answer that is not an error
SLOW_MS = 500.0  # a connect or an answer this slow is worth a warning
_HTTP_POOLS = (PoolProtocol.HTTP, PoolProtocol.HTTPS)
_HAPROXY_SECTIONS = ("info", "stats", "servers", "sessions")  # read from its runtime API
# What HAProxy's check status says, and what to look at (HAProxy 2.6 `check_status` values).
_CHECK_ADVICE = {
    "L4CON": "refuses connections or is unreachable: check that the service on the member runs",
    "L4TOUT": "does not accept connections in time: check that the member is up and that no "
    "firewall drops the traffic",
    "L6RSP": "fails the TLS handshake: check the member's TLS setup",
    "L6TOUT": "does not finish the TLS handshake in time",
    "L7RSP": "answers the health check with something that is not HTTP",
    "L7TOUT": "accepts connections but does not answer the health check in time: check the "
    "application",
    "L7STS": "answers the health check with an unexpected status: check the application, or "
    "the monitor's url_path and expected_codes",
    "SOCKERR": "cannot be connected to (socket error): check the member's address",
}


def probe_targets(pools: Sequence[PoolSpec]) -> tuple[list[ProbeTarget], int]:
    """The targets for every member of `pools` (at most MAX_TARGETS), and how many were left
    out beyond that."""
    targets = [
        ProbeTarget(
            member_id=member.id,
            pool_id=pool.id,
            address=member.address,
            port=member.protocol_port,
            monitor_address=member.monitor_address,
            monitor_port=member.monitor_port,
            check=_check_of(pool),
        )
        for pool in pools
        for member in pool.members
    ]
    return targets[:MAX_TARGETS], max(0, len(targets) - MAX_TARGETS)


def _check_of(pool: PoolSpec) -> HealthCheckProbe | None:
    monitor = pool.healthmonitor
    if monitor is None or not monitor.admin_state_up:
        if pool.protocol not in _HTTP_POOLS:
            return None
        kind = "HTTPS" if pool.protocol == PoolProtocol.HTTPS or pool.tls else "HTTP"
        return HealthCheckProbe(type=kind, expected_codes=NO_MONITOR_CODES)
    if monitor.type == HealthMonitorType.TCP:
        return None  # the TCP connect is the check
    if monitor.type == HealthMonitorType.TLS_HELLO:
        return HealthCheckProbe(type="TLS-HELLO")
    return HealthCheckProbe(
        type="HTTPS" if monitor.type == HealthMonitorType.HTTPS or pool.tls else "HTTP",
        http_method=monitor.http_method,
        url_path=monitor.url_path,
        expected_codes=monitor.expected_codes,
        http_version=monitor.http_version,
        domain_name=monitor.domain_name,
    )


# --- state --------------------------------------------------------------------------------


def state_verdicts(
    reports: Sequence[ApplianceReport], lb: DiagnosedLoadBalancer | None = None
) -> list[Verdict]:
    verdicts: list[Verdict] = []
    for report in reports:
        verdicts += _appliance_verdicts(report, lb.desired_generation if lb else None)
    if lb is not None:
        verdicts += _vrrp_verdicts(reports, lb)
        if not reports:
            verdicts.append(
                Verdict(
                    severity="warning" if lb.provider != "noop" else "info",
                    code="no_appliances",
                    message=f"load balancer {lb.id} has no appliances"
                    + (" (provider noop: no data plane)" if lb.provider == "noop" else "")
                    + f"; it is {lb.provisioning_status}",
                )
            )
    if not any(v.severity in ("error", "warning") for v in verdicts):
        verdicts.append(
            Verdict(
                severity="info",
                code="healthy",
                message=f"nothing wrong found on {len(reports)} appliance(s)",
                appliance_ids=[r.appliance_id for r in reports],
            )
        )
    return verdicts


def _appliance_verdicts(report: ApplianceReport, desired: int | None) -> list[Verdict]:
    where = f"appliance {report.name} (id {report.appliance_id}, host {report.host})"
    ids = [report.appliance_id]
    found = report.diagnostics
    if found is None:
        return [
            Verdict(
                severity="error",
                code="agent_unreachable",
                message=f"no diagnostics from {where}: {report.error}; check the agent on "
                "that host",
                appliance_ids=ids,
            )
        ]
    verdicts = []
    if not found.haproxy_running:
        verdicts.append(
            Verdict(
                severity="error",
                code="haproxy_not_running",
                message=f"HAProxy is not running on {where}: it serves nothing until it is "
                "restarted (the health manager repairs it, or fail the appliance over)",
                appliance_ids=ids,
            )
        )
    unread = {
        section: why
        for section, why in found.errors.items()
        if not (section in _HAPROXY_SECTIONS and not found.haproxy_running)
        and not (section == "network" and found.netns is None)  # the process driver's
    }
    if unread:
        verdicts.append(
            Verdict(
                severity="warning",
                code="diagnostics_incomplete",
                message=f"part of {where} could not be read: "
                + "; ".join(f"{section}: {why}" for section, why in sorted(unread.items())),
                appliance_ids=ids,
            )
        )
    for line in found.stats:
        verdict = _stat_verdict(line, report)
        if verdict is not None:
            verdicts.append(verdict)
    keepalived = found.keepalived
    if keepalived is not None and keepalived.configured:
        if not keepalived.running:
            verdicts.append(
                Verdict(
                    severity="error",
                    code="keepalived_not_running",
                    message=f"keepalived is not running on {where}: this appliance cannot "
                    "take the VIP over",
                    appliance_ids=ids,
                )
            )
        elif keepalived.vrrp_state == "FAULT":
            verdicts.append(
                Verdict(
                    severity="error",
                    code="vrrp_fault",
                    message=f"keepalived on {where} is in FAULT (its HAProxy check or its "
                    "interface failed): it cannot hold the VIP",
                    appliance_ids=ids,
                )
            )
    if desired is not None and found.generation is not None and found.generation < desired:
        verdicts.append(
            Verdict(
                severity="warning",
                code="config_behind",
                message=f"{where} runs configuration generation {found.generation}, the load "
                f"balancer is at {desired}: a change is not applied there yet (the reconciler "
                "retries; see the load balancer's last error)",
                appliance_ids=ids,
            )
        )
    return verdicts


def _stat_verdict(line: StatLine, report: ApplianceReport) -> Verdict | None:
    where = f"appliance {report.name}"
    ids = [report.appliance_id]
    if line.type == "backend" and line.status == "DOWN":
        return Verdict(
            severity="error",
            code="pool_down",
            message=f"pool {line.proxy} has no member UP on {where}: its requests fail (503)",
            appliance_ids=ids,
            pool_id=line.proxy,
        )
    if line.type != "server" or not line.status.startswith("DOWN"):
        return None
    said = " ".join(
        part
        for part in (
            line.check_status,
            f"HTTP {line.check_code}" if line.check_code else None,
            line.last_check or line.check_description,
        )
        if part
    )
    advice = _CHECK_ADVICE.get(line.check_status or "", "fails its health check")
    return Verdict(
        severity="error",
        code="member_down",
        message=f"member {line.address or '?'} (id {line.name}) of pool {line.proxy} is DOWN "
        f"on {where}: it {advice}" + (f" (health check: {said})" if said else ""),
        appliance_ids=ids,
        member_id=line.name,
        pool_id=line.proxy,
    )


def _vrrp_verdicts(reports: Sequence[ApplianceReport], lb: DiagnosedLoadBalancer) -> list[Verdict]:
    if lb.topology != "ACTIVE_STANDBY":
        return []
    states = {
        r.appliance_id: r.diagnostics.keepalived.vrrp_state
        for r in reports
        if r.diagnostics is not None and r.diagnostics.keepalived is not None
    }
    masters = [ident for ident, state in states.items() if state == "MASTER"]
    if len(states) < len(reports) or len(masters) == 1:
        return []  # an unreachable appliance may be the MASTER: nothing certain to say
    if masters:
        return [
            Verdict(
                severity="error",
                code="vrrp_split_brain",
                message=f"{len(masters)} appliances are VRRP MASTER at once: both answer for "
                "the VIP (the peers do not hear each other's adverts); check the link between "
                "them",
                appliance_ids=masters,
            )
        ]
    return [
        Verdict(
            severity="error",
            code="vrrp_no_master",
            message="no appliance is VRRP MASTER: nobody answers for the VIP",
            appliance_ids=list(states),
        )
    ]


# --- connectivity -------------------------------------------------------------------------


def connectivity_verdicts(
    results: Sequence[ApplianceConnectivity], members: int, not_tested: int = 0
) -> list[Verdict]:
    """The appliances that could not test, then one verdict per member and problem (naming
    every appliance that saw it), then a summary. `members`: how many targets were sent."""
    seen: dict[tuple[str, str, int, str], list[str]] = defaultdict(list)
    first: dict[tuple[str, str, int, str], tuple[ProbeResult, str]] = {}
    verdicts: list[Verdict] = []
    tested: set[tuple[str, str, int]] = set()
    failing: set[tuple[str, str, int]] = set()
    for appliance in results:
        if appliance.report is None:
            verdicts.append(
                Verdict(
                    severity="error",
                    code="agent_unreachable",
                    message=f"appliance {appliance.name} (id {appliance.appliance_id}, host "
                    f"{appliance.host}) could not test its members: {appliance.error}",
                    appliance_ids=[appliance.appliance_id],
                )
            )
            continue
        for result in appliance.report.results:
            target = result.target
            member = (target.member_id or "", target.address, target.port)
            tested.add(member)
            for code in _problems(result):
                key = (*member, code)
                seen[key].append(appliance.appliance_id)
                first.setdefault(key, (result, appliance.name))
                if not code.endswith("_slow"):
                    failing.add(member)
    for key, appliance_ids in seen.items():
        result, name = first[key]
        verdicts.append(_member_verdict(result, key[3], name, appliance_ids))
    if not_tested:
        verdicts.append(
            Verdict(
                severity="warning",
                code="members_not_tested",
                message=f"{not_tested} member(s) beyond the first {MAX_TARGETS} were not tested",
            )
        )
    if not members or not results:
        verdicts.append(
            Verdict(
                severity="info" if not members else "warning",
                code="nothing_tested",
                message="the load balancer has no members to test"
                if not members
                else "the load balancer has no appliance to test its members from",
            )
        )
    elif tested:
        good = len(tested - failing)
        verdicts.append(
            Verdict(
                severity="info",
                code="summary",
                message=f"{good} of {len(tested)} member(s) answer as the pool expects from "
                f"every appliance that tested them",
            )
        )
    return verdicts


def _problems(result: ProbeResult) -> list[str]:
    codes = [] if result.verdict == "ok" else [f"member_{result.verdict}"]
    if result.tcp.ok and (result.tcp.connect_ms or 0) >= SLOW_MS:
        codes.append("member_connect_slow")
    check = result.check
    if check is not None and check.ok and (check.response_ms or 0) >= SLOW_MS:
        codes.append("member_check_slow")
    return codes


def _member_verdict(
    result: ProbeResult, code: str, first_name: str, appliance_ids: list[str]
) -> Verdict:
    target, tcp, check = result.target, result.tcp, result.check
    host = f"[{target.address}]" if ":" in target.address else target.address
    member = f"member {host}:{target.port}" + (
        f" (id {target.member_id})" if target.member_id else ""
    )
    source = f"appliance {first_name}" + (
        f" and {len(appliance_ids) - 1} other(s)" if len(appliance_ids) > 1 else ""
    )
    errno = f" ({tcp.errno})" if tcp.errno else ""
    messages = {
        "member_refused": f"{member} refuses connections{errno} from {source}: check that the "
        f"service on the member runs and listens on port {target.port}",
        "member_timeout": f"{member} does not answer a TCP connect within "
        f"{_seconds(tcp.connect_ms)} from {source}{errno}: check that the member is up and "
        "that no firewall or security group drops the traffic",
        "member_unreachable": f"{member} is unreachable from {source}{errno}: "
        f"{tcp.detail}; check the member's address and that the appliance can route to it",
        "member_reset": f"{member} resets connections from {source}{errno}: check the "
        "service and any firewall that rejects",
        "member_error": f"connecting to {member} fails from {source}{errno}: {tcp.detail}",
        "member_connect_slow": f"{member} takes {tcp.connect_ms or 0:.0f} ms to accept a "
        f"connection from {source}: the member or the network is slow",
    }
    if check is not None:
        messages |= {
            "member_unexpected_status": f"{member} answers the health check "
            f"{_request(check.request)} with HTTP {check.status_code}, the pool expects "
            f"{check.expected_codes}, from {source}: HAProxy takes it out of rotation; check "
            "the application (or the monitor's url_path and expected_codes)",
            "member_check_failed": f"{member} accepts connections but its health check "
            f"{_request(check.request)} fails from {source}: {check.detail}"
            + (f" ({check.errno})" if check.errno else ""),
            "member_check_slow": f"{member} answers the health check "
            f"{_request(check.request)} in {check.response_ms or 0:.0f} ms from {source}: the "
            "application is slow",
        }
    severity = "warning" if code.endswith("_slow") else "error"
    return Verdict(
        severity=severity,
        code=code,
        message=messages.get(code, f"{member}: {code} from {source}"),
        appliance_ids=appliance_ids,
        member_id=target.member_id,
        pool_id=target.pool_id,
    )


def _request(described: str) -> str:
    return described.split(" -> ", 1)[0]


def _seconds(ms: float | None) -> str:
    return f"{(ms or 0) / 1000:.1f} s"

"""Pure: connectivity targets from a load balancer's pools, and the verdicts in plain words."""

from datetime import datetime
from typing import Any

from steelyard.api.operator.diagnosis import (
    NO_MONITOR_CODES,
    connectivity_verdicts,
    probe_targets,
    state_verdicts,
)
from steelyard.db.diagnostics import DiagnosedLoadBalancer
from steelyard.model.diagnostics import (
    MAX_TARGETS,
    ApplianceConnectivity,
    ApplianceDiagnostics,
    ApplianceReport,
    CheckResult,
    ConnectivityReport,
    KeepalivedState,
    ProbeResult,
    ProbeTarget,
    StatLine,
    TcpResult,
)
from steelyard.model.enums import HealthMonitorType, HTTPMethod, LBAlgorithm, PoolProtocol
from steelyard.model.spec import HealthMonitorSpec, MemberSpec, PoolSpec

POOL, MEMBER = "8b7c3a52-0c6e-4a57-9c55-5b1a7d5e2f10", "1f0e9d8c-7b6a-4594-8372-6150f4e3d2c1"


def pool(protocol: PoolProtocol = PoolProtocol.HTTP, **monitor: Any) -> PoolSpec:
    hm = None
    if monitor:
        hm = HealthMonitorSpec(id="hm", delay=1, timeout=1, max_retries=1, max_retries_down=1,
                               **{"type": HealthMonitorType.HTTP, **monitor})  # fmt: skip
    members = (MemberSpec(id=MEMBER, address="198.18.0.7", protocol_port=8081, monitor_port=9),)
    return PoolSpec(POOL, protocol, LBAlgorithm.ROUND_ROBIN, members=members, healthmonitor=hm)


def test_targets_follow_the_pools_monitor() -> None:
    (target,), left = probe_targets(
        [pool(http_method=HTTPMethod.HEAD, url_path="/health", expected_codes="200-204")]
    )
    assert left == 0
    assert (target.member_id, target.pool_id, target.address, target.port) == (
        MEMBER, POOL, "198.18.0.7", 8081,
    )  # fmt: skip
    assert target.monitor_port == 9
    assert target.check is not None
    assert (target.check.type, target.check.http_method, target.check.url_path) == (
        "HTTP", HTTPMethod.HEAD, "/health",
    )  # fmt: skip
    assert target.check.expected_codes == "200-204"
    (tcp,), _ = probe_targets([pool(type=HealthMonitorType.TCP)])
    assert tcp.check is None
    (tls,), _ = probe_targets([pool(type=HealthMonitorType.TLS_HELLO)])
    assert tls.check is not None and tls.check.type == "TLS-HELLO"
    (bare,), _ = probe_targets([pool()])  # an HTTP pool without a monitor: GET /, any success
    assert bare.check is not None
    assert (bare.check.url_path, bare.check.expected_codes) == ("/", NO_MONITOR_CODES)
    (plain,), _ = probe_targets([pool(PoolProtocol.TCP)])
    assert plain.check is None


def test_targets_are_capped() -> None:
    many = PoolSpec(POOL, PoolProtocol.TCP, LBAlgorithm.ROUND_ROBIN, members=tuple(
        MemberSpec(id=f"m{i}", address="198.18.0.7", protocol_port=1000 + i) for i in range(300)
    ))  # fmt: skip
    targets, left = probe_targets([many])
    assert (len(targets), left) == (MAX_TARGETS, 300 - MAX_TARGETS)


def report(name: str = "a-0", **found: Any) -> ApplianceReport:
    diagnostics = ApplianceDiagnostics(
        appliance=name, netns=found.pop("netns", None), collected_at=datetime(2026, 1, 1),
        duration_ms=1.0,
        haproxy_running=found.pop("haproxy_running", True), generation=found.pop("generation", 3),
        config_sha256=None, **found,
    )  # fmt: skip
    return ApplianceReport(
        appliance_id=f"id-{name}",
        name=name,
        role="STANDALONE",
        status="ALLOCATED",
        host="h1",
        reachable=True,
        diagnostics=diagnostics,
    )


def lb(**fields: Any) -> DiagnosedLoadBalancer:
    values: dict[str, Any] = {
        "id": "lb1", "project_id": "p", "provisioning_status": "ACTIVE",
        "operating_status": "ONLINE", "topology": "SINGLE", "provider": "appliance",
        "desired_generation": 3, "applied_generation": 3, "appliances": (), "pools": (),
    }  # fmt: skip
    return DiagnosedLoadBalancer(**{**values, **fields})


def codes(verdicts: Any) -> list[str]:
    return [v.code for v in verdicts]


def test_a_healthy_appliance_says_so() -> None:
    verdicts = state_verdicts([report()], lb())
    assert codes(verdicts) == ["healthy"]
    assert verdicts[0].message == "nothing wrong found on 1 appliance(s)"


def test_a_member_down_is_named_with_the_check_s_words() -> None:
    down = StatLine(proxy=POOL, name=MEMBER, type="server", status="DOWN",
                    address="198.18.0.7:8081", check_status="L4CON",
                    last_check="Connection refused")  # fmt: skip
    backend = StatLine(proxy=POOL, name="BACKEND", type="backend", status="DOWN")
    verdicts = state_verdicts([report(stats=[down, backend])], lb())
    assert codes(verdicts) == ["member_down", "pool_down"]
    member = verdicts[0]
    assert (member.member_id, member.pool_id, member.appliance_ids) == (MEMBER, POOL, ["id-a-0"])
    assert member.message == (
        f"member 198.18.0.7:8081 (id {MEMBER}) of pool {POOL} is DOWN on appliance a-0: it "
        "refuses connections or is unreachable: check that the service on the member runs "
        "(health check: L4CON Connection refused)"
    )
    assert "fail (503)" in verdicts[1].message
    status = down.model_copy(
        update={"check_status": "L7STS", "check_code": 500, "last_check": None,
                "check_description": "Layer7 wrong status"}
    )  # fmt: skip
    (wrong,) = state_verdicts([report(stats=[status])], lb())
    assert (
        "unexpected status" in wrong.message
        and "L7STS HTTP 500 Layer7 wrong status" in wrong.message
    )


def test_appliance_problems() -> None:
    unreachable = ApplianceReport(
        appliance_id="id-b",
        name="b",
        role="BACKUP",
        status="ALLOCATED",
        host="h2",
        reachable=False,
        error="its agent does not answer",
    )
    stopped = report(haproxy_running=False, generation=2)
    verdicts = state_verdicts([stopped, unreachable], lb())
    assert codes(verdicts) == ["haproxy_not_running", "config_behind", "agent_unreachable"]
    assert verdicts[2].message == (
        "no diagnostics from appliance b (id id-b, host h2): its agent does not answer; check "
        "the agent on that host"
    )


def test_sections_that_could_not_be_read_are_a_warning() -> None:
    lost = report(netns="ns1", errors={"stats": "stats socket gone", "network": "ip: timed out"})
    (verdict,) = state_verdicts([lost], lb())
    assert (verdict.code, verdict.severity) == ("diagnostics_incomplete", "warning")
    assert verdict.message == (
        "part of appliance a-0 (id id-a-0, host h1) could not be read: network: ip: timed out; "
        "stats: stats socket gone"
    )
    # expected gaps: HAProxy's sections of a stopped HAProxy (its own verdict says so), the
    # network of an appliance in the host's namespace (netns None here)
    stopped = report(haproxy_running=False, errors={"info": "HAProxy is not running",
                                                    "network": "the host's namespace"})  # fmt: skip
    assert codes(state_verdicts([stopped], lb())) == ["haproxy_not_running"]


def keepalived(state: str | None, running: bool = True) -> KeepalivedState:
    return KeepalivedState(configured=True, running=running, pid=1 if running else None,
                           vrrp_state=state, instances=[])  # fmt: skip


def test_vrrp_verdicts_of_a_pair() -> None:
    pair = lb(topology="ACTIVE_STANDBY")
    good = [
        report("a", keepalived=keepalived("MASTER")),
        report("b", keepalived=keepalived("BACKUP")),
    ]
    assert codes(state_verdicts(good, pair)) == ["healthy"]
    split = [
        report("a", keepalived=keepalived("MASTER")),
        report("b", keepalived=keepalived("MASTER")),
    ]
    assert codes(state_verdicts(split, pair)) == ["vrrp_split_brain"]
    none = [
        report("a", keepalived=keepalived("FAULT")),
        report("b", keepalived=keepalived("STOP", False)),
    ]
    assert codes(state_verdicts(none, pair)) == [
        "vrrp_fault",
        "keepalived_not_running",
        "vrrp_no_master",
    ]


def result(
    verdict: str,
    *,
    port: int = 8081,
    check: CheckResult | None = None,
    connect_ms: float = 0.3,
    **tcp: Any,
) -> ProbeResult:
    target = ProbeTarget(member_id=MEMBER, pool_id=POOL, address="198.18.0.7", port=port)
    ok = verdict not in ("refused", "timeout", "unreachable", "reset", "error")
    return ProbeResult(target=target, tcp=TcpResult(ok=ok, connect_ms=connect_ms, **tcp),
                       check=check, verdict=verdict)  # fmt: skip


def seen_from(name: str, *results: ProbeResult) -> ApplianceConnectivity:
    report = ConnectivityReport(appliance=name, netns=None, source="request", timeout_s=2.0,
                                duration_ms=1.0, results=list(results))  # fmt: skip
    return ApplianceConnectivity(appliance_id=f"id-{name}", name=name, role="MASTER", host="h",
                                 reachable=True, report=report)  # fmt: skip


def test_a_refused_member_seen_from_two_appliances_is_one_verdict() -> None:
    refused = result("refused", error="refused", errno="ECONNREFUSED", detail="Connection refused")
    verdicts = connectivity_verdicts([seen_from("a", refused), seen_from("b", refused)], members=1)
    assert codes(verdicts) == ["member_refused", "summary"]
    assert verdicts[0].appliance_ids == ["id-a", "id-b"]
    assert verdicts[0].message == (
        f"member 198.18.0.7:8081 (id {MEMBER}) refuses connections (ECONNREFUSED) from "
        "appliance a and 1 other(s): check that the service on the member runs and listens on "
        "port 8081"
    )
    assert verdicts[1].message == (
        "0 of 1 member(s) answer as the pool expects from every appliance that tested them"
    )


def test_timeouts_statuses_and_slowness() -> None:
    timeout = result("timeout", error="timeout", errno="ETIMEDOUT", connect_ms=2001.0)
    status = CheckResult(type="HTTP", request="GET /health HTTP/1.0 -> 198.18.0.7:8082",
                         ok=False, status_code=500, expected_codes="200",
                         error="unexpected_status")  # fmt: skip
    slow = CheckResult(type="HTTP", request="GET / HTTP/1.0 -> 198.18.0.7:8083", ok=True,
                       status_code=200, expected_codes="200", response_ms=900.0)  # fmt: skip
    verdicts = connectivity_verdicts(
        [seen_from("a", timeout, result("unexpected_status", port=8082, check=status),
                result("ok", port=8083, check=slow))],
        members=3,
    )  # fmt: skip
    assert codes(verdicts) == [
        "member_timeout", "member_unexpected_status", "member_check_slow", "summary",
    ]  # fmt: skip
    assert "does not answer a TCP connect within 2.0 s from appliance a (ETIMEDOUT)" in (
        verdicts[0].message
    )
    assert verdicts[1].message.startswith(
        f"member 198.18.0.7:8082 (id {MEMBER}) answers the health check GET /health HTTP/1.0 with "
        "HTTP 500, the pool expects 200, from appliance a"
    )
    assert (verdicts[2].severity, verdicts[3].message[:11]) == ("warning", "1 of 3 memb")


def test_nothing_to_test_and_appliances_that_could_not() -> None:
    assert codes(connectivity_verdicts([], members=0)) == ["nothing_tested"]
    down = ApplianceConnectivity(appliance_id="x", name="x", role="MASTER", host="h",
                                 reachable=False, error="its agent does not answer")  # fmt: skip
    verdicts = connectivity_verdicts([down], members=2, not_tested=5)
    assert codes(verdicts) == ["agent_unreachable", "members_not_tested"]

"""The plain-language health of a load balancer (model/lb_health.py): each rule, and the word
as the worst finding."""

from dataclasses import replace

import pytest

from steelyard.model.lb_health import (
    ApplianceState,
    LoadBalancerState,
    MemberState,
    endpoint,
    summarize_health,
)

TIMEOUT = 5.0


def appliance(name: str, role: str = "STANDALONE", **given: object) -> ApplianceState:
    fields: dict[str, object] = {
        "status": "ALLOCATED",
        "heartbeat_age_s": 0.4,
        "applied_generation": 3,
        **given,
    }
    return ApplianceState(name=name, role=role, **fields)  # type: ignore[arg-type]


def member(port: int, status: str = "ONLINE", address: str = "198.18.0.1") -> MemberState:
    return MemberState(address=address, protocol_port=port, operating_status=status)


PAIR = LoadBalancerState(
    topology="ACTIVE_STANDBY",
    expected_appliances=2,
    provider="appliance",
    admin_state_up=True,
    provisioning_status="ACTIVE",
    desired_generation=3,
    applied_generation=3,
    last_error=None,
    appliances=(appliance("lb-0", "MASTER"), appliance("lb-1", "BACKUP")),
    members=(member(8081), member(8082), member(8083)),
)


def test_a_healthy_pair_is_ok_and_says_why() -> None:
    health = summarize_health(PAIR, TIMEOUT)
    assert health.status == "OK"
    assert health.summary == (
        "2 of 2 appliances report heartbeats; MASTER is lb-0; 3 of 3 members up"
    )
    assert health.findings == health.summary.split("; ")


def test_one_member_down_is_degraded_and_named() -> None:
    lb = replace(PAIR, members=(member(8081, "ERROR"), member(8082), member(8083)))
    health = summarize_health(lb, TIMEOUT)
    assert health.status == "DEGRADED"
    assert health.findings[-1] == "1 of 3 members is down: 198.18.0.1:8081 (ERROR)"


def test_every_enabled_member_down_is_down() -> None:
    lb = replace(
        PAIR,
        members=(
            member(8081, "ERROR"),
            member(8082, "ERROR"),
            MemberState("198.18.0.1", 8083, "OFFLINE", admin_state_up=False),
        ),
    )
    health = summarize_health(lb, TIMEOUT)
    assert health.status == "DOWN"
    assert "2 of 3 members are down: 198.18.0.1:8081 (ERROR), 198.18.0.1:8082 (ERROR)" in (
        health.findings
    )
    assert "1 member is disabled" in health.findings


def test_ipv6_members_are_bracketed_and_long_lists_counted() -> None:
    assert endpoint("fd00::5", 80) == "[fd00::5]:80"
    assert endpoint("not-an-address", 80) == "not-an-address:80"
    many = (*(member(9000 + i, "ERROR", "fd00::5") for i in range(8)), member(1))
    health = summarize_health(replace(PAIR, members=many), TIMEOUT)
    assert health.findings[-1].endswith("[fd00::5]:9004 (ERROR) and 3 more")


def test_a_silent_backup_degrades_and_a_silent_pair_is_down() -> None:
    silent_backup = (appliance("lb-0", "MASTER"), appliance("lb-1", "BACKUP", heartbeat_age_s=9))
    health = summarize_health(replace(PAIR, appliances=silent_backup), TIMEOUT)
    assert health.status == "DEGRADED"
    assert health.findings[:2] == [
        "1 of 2 appliances report heartbeats",
        "silent: lb-1 (last heartbeat 9 s ago)",
    ]
    never = tuple(replace(a, heartbeat_age_s=None) for a in PAIR.appliances)
    health = summarize_health(replace(PAIR, appliances=never), TIMEOUT)
    assert health.status == "DOWN"
    assert health.findings[0] == "0 of 2 appliances report heartbeats"


def test_a_pair_without_a_master_is_down_and_two_masters_degraded() -> None:
    backups = tuple(replace(a, role="BACKUP") for a in PAIR.appliances)
    health = summarize_health(replace(PAIR, appliances=backups), TIMEOUT)
    assert health.status == "DOWN"
    assert "no appliance is MASTER: nothing holds the VIP" in health.findings
    masters = tuple(replace(a, role="MASTER") for a in PAIR.appliances)
    health = summarize_health(replace(PAIR, appliances=masters), TIMEOUT)
    assert health.status == "DEGRADED"
    assert "2 appliances claim MASTER: lb-0, lb-1" in health.findings


def test_a_failed_appliance_being_replaced_is_degraded_with_its_reason() -> None:
    appliances = (
        appliance("lb-0", "MASTER"),
        appliance("lb-1", "BACKUP", status="FAILED", failed_reason="silent for 3.0 s"),
    )
    health = summarize_health(replace(PAIR, appliances=appliances), TIMEOUT)
    assert health.status == "DEGRADED"
    assert "1 of 2 appliances serve" in health.findings
    assert "1 failed, being replaced: lb-1 (silent for 3.0 s)" in health.findings


def test_a_change_being_applied_is_mentioned_not_counted() -> None:
    lb = replace(PAIR, desired_generation=4, provisioning_status="PENDING_UPDATE")
    health = summarize_health(lb, TIMEOUT)
    assert health.status == "OK"
    assert "applying generation 4" in health.findings


def test_an_appliance_running_another_config_is_drift() -> None:
    appliances = (appliance("lb-0", "MASTER"), appliance("lb-1", "BACKUP", applied_generation=2))
    health = summarize_health(replace(PAIR, appliances=appliances), TIMEOUT)
    assert health.status == "DEGRADED"
    assert "config differs from generation 3: lb-1 runs 2" in health.findings


def test_a_failed_apply_is_degraded_with_its_error_cut_short() -> None:
    lb = replace(PAIR, provisioning_status="ERROR", last_error="AgentApplyError: " + "x" * 500)
    health = summarize_health(lb, TIMEOUT)
    assert health.status == "DEGRADED"
    finding = next(f for f in health.findings if f.startswith("last apply failed: "))
    assert len(finding) == len("last apply failed: ") + 200


def test_being_created_is_degraded_and_disabled_is_down() -> None:
    creating = replace(
        PAIR, provisioning_status="PENDING_CREATE", applied_generation=0, appliances=()
    )
    health = summarize_health(creating, TIMEOUT)
    assert (health.status, health.findings[0]) == (
        "DEGRADED",
        "being created: no appliance serves yet",
    )
    disabled = replace(PAIR, admin_state_up=False)
    health = summarize_health(disabled, TIMEOUT)
    assert health.status == "DOWN"
    assert health.findings[0] == "disabled by its owner (admin_state_up is false)"


def test_no_appliance_at_all_is_down_and_noop_has_no_data_plane() -> None:
    gone = replace(PAIR, appliances=())
    health = summarize_health(gone, TIMEOUT)
    assert health.status == "DOWN"
    assert health.findings[0] == "no appliance serves it (0 of 2)"
    noop = replace(PAIR, provider="noop", appliances=(), members=())
    health = summarize_health(noop, TIMEOUT)
    assert (health.status, health.summary) == ("OK", "noop provider: no data plane")


@pytest.mark.parametrize("topology", ["SINGLE", "ACTIVE_ACTIVE"])
def test_other_topologies_name_no_master(topology: str) -> None:
    actives = tuple(replace(a, role="ACTIVE") for a in PAIR.appliances)
    health = summarize_health(replace(PAIR, topology=topology, appliances=actives), TIMEOUT)
    assert health.status == "OK"
    assert not any("MASTER" in finding for finding in health.findings)

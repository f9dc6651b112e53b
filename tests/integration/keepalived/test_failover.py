"""The VIP moves between two real appliance namespaces, under Steelyard's and Octavia's timing.

Per case: a pair (HAProxy + keepalived in each namespace, driven by a real agent) in front of one
backend, and a client namespace on the same bridge opening a new connection to the VIP every
10 ms (tests/support/gap_probe.py). The MASTER then fails:

- link_down: its eth0 goes down inside its namespace;
- haproxy_killed: its HAProxy master and workers are SIGKILLed (keepalived stays up);
- release: a planned switchover through the agent (`POST .../vrrp/release`).

What is asserted is functional: traffic continues through the other appliance, the agent reports
the new roles (from the vrrp.state files), and the VIP is on the other eth0 only. The longest gap
between successful new connections is printed (run with -s), never asserted: timings depend on
the machine.
"""

import dataclasses
import os
import signal
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from steelyard.agent.client import AgentClient
from steelyard.compute.base import ApplianceSlot
from steelyard.compute.netns import NetnsDriver
from steelyard.model.vrrp import (
    OCTAVIA_DEFAULTS,
    STEELYARD,
    ScriptTracking,
    VrrpProfile,
    VrrpRole,
)
from steelyard.network.iproute import ip
from tests.integration.agent.helpers import ThreadedAgent
from tests.integration.keepalived.pair import (
    SERVED_BY,
    Member,
    Pair,
    make_pair,
    vip_holders,
    vrrp_states,
    wait_for_roles,
    wait_until,
)
from tests.support import BackendNamespace, VipNetwork
from tests.support.gap_probe import GapProbe

pytestmark = pytest.mark.root


def link_down(agent: AgentClient, member: Member) -> str:
    ip("link", "set", "eth0", "down", netns=member.netns)
    return "FAULT"  # keepalived tracks its interface


def haproxy_killed(agent: AgentClient, member: Member) -> str:
    info = agent.get_appliance(member.name)
    assert info is not None and info.master_pid is not None
    for pid in (info.master_pid, *info.worker_pids):
        os.kill(pid, signal.SIGKILL)
    return "FAULT"  # tracked HAProxy gone


def release(agent: AgentClient, member: Member) -> str:
    result = agent.release_vrrp(member.name)
    assert result.released and result.previous_state == "MASTER"
    return "BACKUP"  # back with nopreempt, the peer keeps the VIP


FAILURES: dict[str, Callable[[AgentClient, Member], str]] = {
    "link_down": link_down,
    "haproxy_killed": haproxy_killed,
    "release": release,
}


@pytest.fixture
def backend(network_v4: VipNetwork) -> Iterator[BackendNamespace]:
    with BackendNamespace.on(network_v4, "be") as running:
        yield running


# Steelyard's timing with the fastest check script keepalived allows (whole seconds), for the
# comparison with process tracking when HAProxy dies.
SCRIPT_1S = dataclasses.replace(
    STEELYARD, name="STEELYARD_SCRIPT_1S", haproxy_tracking=ScriptTracking(1, fall=1, rise=1)
)
CASES = [
    *((failure, profile) for failure in FAILURES for profile in (STEELYARD, OCTAVIA_DEFAULTS)),
    ("haproxy_killed", SCRIPT_1S),
]


@pytest.mark.parametrize(
    ("failure", "profile"), CASES, ids=[f"{failure}-{profile.name}" for failure, profile in CASES]
)
def test_vip_moves_to_the_backup(
    failure: str,
    profile: VrrpProfile,
    agent: ThreadedAgent,
    netns_driver: NetnsDriver,
    network_v4: VipNetwork,
    backend: BackendNamespace,
) -> None:
    client = netns_driver.ensure(ApplianceSlot("client", network_v4.placement()))
    assert client.netns is not None
    pair = make_pair(
        agent.client, netns_driver, network_v4, (backend.address, backend.port), profile
    )
    master, backup = pair.member(VrrpRole.MASTER), pair.member(VrrpRole.BACKUP)
    wait_for_roles(agent.client, pair, master)

    with GapProbe(client.netns, pair.vip, pair.port, http_header=SERVED_BY) as probe:
        probe.wait_for_success(time.monotonic(), served_by=master.name)
        time.sleep(0.3)  # steady traffic before
        # The failure runs beside the watch, so that a slow one (a release returns once the
        # released keepalived is back) does not delay the observation of the takeover.
        with ThreadPoolExecutor(max_workers=1) as pool:
            failed_at = time.monotonic()
            failing = pool.submit(FAILURES[failure], agent.client, master)
            taken_over_at = _wait_for_takeover(agent.client, pair, backup)
            served_at = probe.wait_for_success(failed_at, served_by=backup.name).finished
            master_state = failing.result()
        time.sleep(0.5)  # steady traffic after
    report = probe.report(since=failed_at - 0.3)

    print(
        f"\n[keepalived failover] {profile.name} {failure}: {report.describe()}; "
        f"{backup.name} reported MASTER after {taken_over_at - failed_at:.3f} s, "
        f"first answer from it after {served_at - failed_at:.3f} s"
    )
    assert vrrp_states(agent.client, pair) == {master.name: master_state, backup.name: "MASTER"}
    assert vip_holders(pair) == [backup.name]
    last = probe.attempts()[-10:]
    assert all(attempt.ok and attempt.served_by == backup.name for attempt in last), last
    assert report.served_by[master.name] > 0 and report.served_by[backup.name] > 0


def _wait_for_takeover(agent: AgentClient, pair: Pair, backup: Member) -> float:
    return wait_until(
        lambda: (
            vrrp_states(agent, pair)[backup.name] == "MASTER" and backup.name in vip_holders(pair)
        ),
        lambda: f"{backup.name} to take over (states {vrrp_states(agent, pair)})",
    )

"""keepalived as diagnostics show it: an ACTIVE_STANDBY pair (the keepalived suite's own
helpers and fixtures), each appliance's VRRP state and the instance it runs, and the operator's
verdicts on them."""

import pytest

from steelyard.agent.client import AgentClient
from steelyard.api.operator.diagnosis import state_verdicts
from steelyard.compute.netns import NetnsDriver
from steelyard.model.diagnostics import ApplianceReport
from steelyard.model.vrrp import STEELYARD, VrrpRole
from tests.integration.keepalived.pair import make_pair, wait_for_roles
from tests.support import VipNetwork

pytestmark = pytest.mark.root


def test_each_appliance_of_a_pair_reports_its_vrrp_state_and_instance(
    agent: AgentClient, netns_driver: NetnsDriver, network_v4: VipNetwork
) -> None:
    pair = make_pair(
        agent, netns_driver, network_v4, (network_v4.gateway, 9), STEELYARD,
        names=("dg-a", "dg-b"),
    )  # fmt: skip
    master = pair.member(VrrpRole.MASTER)
    wait_for_roles(agent, pair, master)
    reports = []
    for member in pair.members:
        found = agent.diagnostics(member.name)
        keepalived = found.keepalived
        assert keepalived is not None and keepalived.configured and keepalived.running
        assert keepalived.vrrp_state == member.role.value
        (instance,) = keepalived.instances
        assert instance.unicast_src_ip == member.own_address
        assert instance.unicast_peers == [
            other.own_address for other in pair.members if other is not member
        ]
        assert instance.virtual_ipaddresses[0].startswith(f"{pair.vip}/")
        assert instance.version == 3 and instance.nopreempt
        assert found.network is not None
        eth0 = next(link for link in found.network.interfaces if link.name == "eth0")
        assert f"{member.own_address}/{network_v4.prefixlen}" in eth0.addresses
        assert (pair.vip in " ".join(eth0.addresses)) is (member is master)
        reports.append(
            ApplianceReport(appliance_id=member.name, name=member.name, role=member.role.value,
                            status="ALLOCATED", host="h", reachable=True, diagnostics=found)
        )  # fmt: skip
    assert [v.code for v in state_verdicts(reports)] == ["healthy"]

"""An ACTIVE_STANDBY pair for tests: appliance namespaces whose eth0 holds their own address,
HAProxy binding the VIP on both (nonlocal bind) and keepalived moving it, driven by a real
agent through its client.

`make_pair` creates the namespaces with the netns driver (the slot's address is the
appliance's own address, "vrrp_ip"), the agent's appliances, and applies HAProxy and keepalived
configs: the MASTER's first, so that it wins the first election by time as well as by priority.
"""

import ipaddress
import json
import time
from collections.abc import Callable
from dataclasses import dataclass

from steelyard.agent.client import AgentClient
from steelyard.agent.contract import ApplianceInfo
from steelyard.compute.base import ApplianceSlot
from steelyard.compute.netns import NetnsDriver
from steelyard.model.vrrp import VipAddress, VrrpProfile, VrrpRole, VrrpSpec
from steelyard.network.iproute import ip
from steelyard.render.keepalived import render_keepalived
from tests.support import VipNetwork

ROUTER_ID = 51
SERVED_BY = "X-Served-By"


@dataclass(frozen=True)
class Member:
    name: str  # appliance (agent) name
    netns: str
    own_address: str
    role: VrrpRole


@dataclass(frozen=True)
class Pair:
    vip: str
    port: int
    members: tuple[Member, ...]

    def member(self, role: VrrpRole) -> Member:
        return next(member for member in self.members if member.role is role)


def haproxy_cfg(info: ApplianceInfo, vip: str, port: int, backend: tuple[str, int]) -> str:
    """HTTP on VIP:port (bound before the VIP is here: nonlocal bind), one backend server; the
    answer names the appliance that served it. Idle keep-alive connections of an old worker
    are closed after their next answer, as the renderer has it (render/haproxy_frontend.py)."""
    host = f"[{vip}]" if ":" in vip else vip
    server = f"[{backend[0]}]" if ":" in backend[0] else backend[0]
    return f"""global
    stats socket {info.paths.stats_socket} mode 600 level admin expose-fd listeners
    server-state-file {info.paths.server_state_file}
    hard-stop-after 3s
    maxconn 2000

defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s

frontend fe
    option idle-close-on-response
    bind {host}:{port}
    http-response set-header {SERVED_BY} {info.name}
    default_backend be

backend be
    server b1 {server}:{backend[1]}
"""


def keepalived_cfg(
    info: ApplianceInfo,
    member: Member,
    peers: list[str],
    vips: list[VipAddress],
    profile: VrrpProfile,
) -> str:
    assert info.paths.keepalived is not None
    return render_keepalived(
        VrrpSpec(
            router_id=ROUTER_ID,
            interface="eth0",
            role=member.role,
            unicast_src_ip=member.own_address,
            unicast_peers=tuple(peers),
            vips=tuple(vips),
            profile=profile,
            paths=info.paths.keepalived,
        )
    )


def make_pair(
    agent: AgentClient,
    driver: NetnsDriver,
    network: VipNetwork,
    backend: tuple[str, int],
    profile: VrrpProfile,
    *,
    names: tuple[str, str] = ("ka-a", "ka-b"),
    port: int = 80,
) -> Pair:
    vip = network.allocate()
    members = []
    for name, role in zip(names, (VrrpRole.MASTER, VrrpRole.BACKUP), strict=True):
        placement = network.placement()
        placed = driver.ensure(ApplianceSlot(name, placement))
        assert placed.netns is not None and placement.address is not None
        members.append(Member(name, placed.netns, placement.address, role))
    pair = Pair(vip, port, tuple(members))
    vips = [VipAddress(vip, network.prefixlen)]
    for member in pair.members:
        info = agent.ensure_appliance(member.name, netns=member.netns)
        peers = [other.own_address for other in pair.members if other is not member]
        agent.apply_config(
            member.name,
            1,
            haproxy_cfg(info, vip, port, backend),
            keepalived_cfg=keepalived_cfg(info, member, peers, vips, profile),
        )
    return pair


def addresses(netns: str) -> set[str]:
    """The addresses on eth0 of `netns`."""
    links = json.loads(ip("-j", "addr", "show", "dev", "eth0", netns=netns))
    return {str(ipaddress.ip_address(a["local"])) for link in links for a in link["addr_info"]}


def vip_holders(pair: Pair) -> list[str]:
    return [member.name for member in pair.members if pair.vip in addresses(member.netns)]


def vrrp_states(agent: AgentClient, pair: Pair) -> dict[str, str | None]:
    states = {}
    for member in pair.members:
        info = agent.get_appliance(member.name)
        states[member.name] = info.vrrp_state if info else None
    return states


def wait_until(
    condition: Callable[[], bool], what: Callable[[], str], *, polls: int = 2000
) -> float:
    """Poll every 10 ms, a bounded number of times; returns when it held (monotonic)."""
    for _ in range(polls):
        if condition():
            return time.monotonic()
        time.sleep(0.01)
    raise AssertionError(f"gave up waiting for {what()}")


def wait_for_roles(agent: AgentClient, pair: Pair, master: Member) -> None:
    """Until `master` reports MASTER and holds the VIP, and every other member is BACKUP."""
    wanted = {m.name: "MASTER" if m is master else "BACKUP" for m in pair.members}
    wait_until(
        lambda: vrrp_states(agent, pair) == wanted and vip_holders(pair) == [master.name],
        lambda: (
            f"{master.name} to be MASTER (states {vrrp_states(agent, pair)}, "
            f"VIP on {vip_holders(pair)})"
        ),
    )

"""The agent runs keepalived beside HAProxy: start, reload, stop, refuse, adopt, delete, release.

Appliances are real namespaces on a test bridge; keepalived is real. An appliance whose peer
does not exist becomes MASTER on its own after the advert timeout.
"""

import dataclasses
import os
import signal
import threading
import time
from pathlib import Path

import pytest

from steelyard.agent.client import AgentApplyError, AgentClient, AgentError
from steelyard.agent.layout import layout_for
from steelyard.agent.netns import netns_path
from steelyard.agent.pki import PkiPaths
from steelyard.compute.netns import NetnsDriver
from steelyard.model.vrrp import STEELYARD, VipAddress, VrrpRole
from steelyard.network.iproute import ip
from tests.integration.agent.helpers import ThreadedAgent, pid_alive
from tests.integration.keepalived.pair import (
    Member,
    Pair,
    addresses,
    haproxy_cfg,
    keepalived_cfg,
    make_pair,
    vip_holders,
    wait_for_roles,
    wait_until,
)
from tests.support import VipNetwork

pytestmark = pytest.mark.root
NO_BACKEND = ("198.18.112.254", 80)  # never contacted: no health checks, no traffic


@pytest.fixture
def pair(agent: ThreadedAgent, netns_driver: NetnsDriver, network_v4: VipNetwork) -> Pair:
    made = make_pair(agent.client, netns_driver, network_v4, NO_BACKEND, STEELYARD)
    wait_for_roles(agent.client, made, made.member(VrrpRole.MASTER))
    return made


def _configs(
    client: AgentClient, pair: Pair, member: Member, vips: list[VipAddress]
) -> tuple[str, str]:
    info = client.get_appliance(member.name)
    assert info is not None
    peers = [other.own_address for other in pair.members if other is not member]
    return (
        haproxy_cfg(info, pair.vip, pair.port, NO_BACKEND),
        keepalived_cfg(info, member, peers, vips, STEELYARD),
    )


def _state(client: AgentClient, name: str) -> tuple[str | None, int | None]:
    info = client.get_appliance(name)
    assert info is not None
    return info.vrrp_state, info.keepalived_pid


def test_start_unchanged_reload_and_stop(
    agent: ThreadedAgent, pair: Pair, network_v4: VipNetwork
) -> None:
    client, master = agent.client, pair.member(VrrpRole.MASTER)
    state, pid = _state(client, master.name)
    assert state == "MASTER" and pid is not None
    # keepalived lives in the appliance's namespace (it joined it with --namespace).
    assert os.stat(f"/proc/{pid}/ns/net").st_ino == os.stat(netns_path(master.netns)).st_ino
    vip = VipAddress(pair.vip, network_v4.prefixlen)

    cfg, kcfg = _configs(client, pair, master, [vip])
    result = client.apply_config(master.name, 2, cfg, keepalived_cfg=kcfg)
    assert (result.action, result.keepalived_action) == ("unchanged", "unchanged")

    extra = VipAddress(network_v4.allocate(), network_v4.prefixlen)
    cfg, kcfg = _configs(client, pair, master, [vip, extra])
    assert client.apply_config(master.name, 3, cfg, keepalived_cfg=kcfg).keepalived_action == (
        "reloaded"
    )
    wait_until(lambda: extra.address in addresses(master.netns), lambda: "the added VIP")
    assert _state(client, master.name) == ("MASTER", pid)  # same process, same role

    result = client.apply_config(master.name, 4, cfg, keepalived_cfg=None)
    assert result.keepalived_action == "stopped"
    assert not pid_alive(pid)
    assert _state(client, master.name) == (None, None)
    assert pair.vip not in addresses(master.netns) and extra.address not in addresses(master.netns)


def test_a_rejected_keepalived_config_changes_nothing(
    agent: ThreadedAgent, pair: Pair, state_dir: Path
) -> None:
    client, master = agent.client, pair.member(VrrpRole.MASTER)
    before = client.get_appliance(master.name)
    assert before is not None
    cfg, kcfg = _configs(client, pair, master, [VipAddress(pair.vip, 24)])
    changed_cfg = cfg.replace("timeout client 5s", "timeout client 6s")
    # Valid to the renderer, refused by keepalived: the namespace has no eth9.
    broken = kcfg.replace("interface eth0", "interface eth9")
    with pytest.raises(AgentApplyError) as refused:
        client.apply_config(master.name, 2, changed_cfg, keepalived_cfg=broken)
    error = refused.value.error
    assert (error.stage, error.component, error.rolled_back) == ("validate", "keepalived", False)
    assert "eth9" in error.output
    after = client.get_appliance(master.name)
    assert after is not None
    assert (after.generation, after.config_sha256) == (before.generation, before.config_sha256)
    assert (after.vrrp_state, after.keepalived_pid) == ("MASTER", before.keepalived_pid)
    layout = layout_for(state_dir, master.name)
    assert layout.keepalived_cfg.read_text() == kcfg


def test_a_restarted_agent_adopts_keepalived(
    agent: ThreadedAgent, pair: Pair, state_dir: Path, pki: PkiPaths
) -> None:
    client, master = agent.client, pair.member(VrrpRole.MASTER)
    state, pid = _state(client, master.name)
    agent.stop()
    restarted = ThreadedAgent(state_dir, pki)
    try:
        assert _state(restarted.client, master.name) == (state, pid)
        cfg, kcfg = _configs(restarted.client, pair, master, [VipAddress(pair.vip, 24)])
        result = restarted.client.apply_config(master.name, 2, cfg, keepalived_cfg=kcfg)
        assert result.keepalived_action == "unchanged"
    finally:
        restarted.stop()


def test_a_crashed_keepalived_is_reported_and_started_again(
    agent: ThreadedAgent, pair: Pair, state_dir: Path
) -> None:
    client, master, backup = (
        agent.client,
        pair.member(VrrpRole.MASTER),
        pair.member(VrrpRole.BACKUP),
    )
    layout = layout_for(state_dir, master.name)
    _, pid = _state(client, master.name)
    vrrp_pid = int(layout.keepalived_vrrp_pid.read_text())
    for victim in (pid, vrrp_pid):
        assert victim is not None
        os.kill(victim, signal.SIGKILL)
    # The file still says MASTER; the agent does not believe it without a keepalived.
    wait_until(lambda: _state(client, master.name) == ("STOP", None), lambda: "STOP reported")
    wait_until(lambda: _state(client, backup.name)[0] == "MASTER", lambda: "the peer to take over")
    cfg, kcfg = _configs(client, pair, master, [VipAddress(pair.vip, 24)])
    assert client.apply_config(master.name, 2, cfg, keepalived_cfg=kcfg).keepalived_action == (
        "started"
    )
    # Back as BACKUP (nopreempt): the peer keeps the VIP, which keepalived removed here at start.
    wait_until(lambda: _state(client, master.name)[0] == "BACKUP", lambda: "BACKUP again")
    assert vip_holders(pair) == [backup.name]


def test_delete_stops_keepalived_first(agent: ThreadedAgent, pair: Pair) -> None:
    client, master, backup = (
        agent.client,
        pair.member(VrrpRole.MASTER),
        pair.member(VrrpRole.BACKUP),
    )
    _, pid = _state(client, master.name)
    client.delete_appliance(master.name)
    assert pid is not None and not pid_alive(pid)
    wait_until(lambda: vip_holders(pair) == [backup.name], lambda: "the VIP on the peer")


def test_release_of_a_backup_or_without_keepalived(agent: ThreadedAgent, pair: Pair) -> None:
    client, master, backup = (
        agent.client,
        pair.member(VrrpRole.MASTER),
        pair.member(VrrpRole.BACKUP),
    )
    result = client.release_vrrp(backup.name)
    assert (result.released, result.previous_state, result.vrrp_state) == (
        False,
        "BACKUP",
        "BACKUP",
    )
    assert vip_holders(pair) == [master.name]
    cfg, _ = _configs(client, pair, master, [VipAddress(pair.vip, 24)])
    client.apply_config(master.name, 2, cfg, keepalived_cfg=None)
    with pytest.raises(AgentError) as refused:
        client.release_vrrp(master.name)
    assert refused.value.status_code == 409
    with pytest.raises(AgentError) as unknown:
        client.release_vrrp("no-such-appliance")
    assert unknown.value.status_code == 404


def test_release_hands_over_and_comes_back_as_backup(agent: ThreadedAgent, pair: Pair) -> None:
    client, master, backup = (
        agent.client,
        pair.member(VrrpRole.MASTER),
        pair.member(VrrpRole.BACKUP),
    )
    result = client.release_vrrp(master.name)
    assert (result.released, result.previous_state, result.vrrp_state) == (True, "MASTER", "BACKUP")
    wait_for_roles(client, pair, backup)
    # Releasing the new MASTER moves the VIP back: roles are symmetric after the first election.
    assert client.release_vrrp(backup.name).released
    wait_for_roles(client, pair, master)


def test_haproxy_reloads_never_move_the_vip(
    agent: ThreadedAgent, pair: Pair, state_dir: Path
) -> None:
    """HAProxy's re-executed master briefly shows another command line; keepalived tracks
    argv[0] alone, so reloads do not fault the MASTER (a parameter match did, every time)."""
    client, master = agent.client, pair.member(VrrpRole.MASTER)
    layout = layout_for(state_dir, master.name)
    seen: set[str] = set()
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            seen.add(layout.vrrp_state.read_text().strip())
            time.sleep(0.001)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        cfg, kcfg = _configs(client, pair, master, [VipAddress(pair.vip, 24)])
        for generation in range(2, 22):
            changed = cfg.replace("timeout client 5s", f"timeout client {generation}s")
            result = client.apply_config(master.name, generation, changed, keepalived_cfg=kcfg)
            assert (result.action, result.keepalived_action) == ("reloaded", "unchanged")
    finally:
        done.set()
        watcher.join()
    assert seen == {"MASTER"}
    assert vip_holders(pair) == [master.name]


def test_ipv6_pair_moves_the_vip(
    agent: ThreadedAgent, netns_driver: NetnsDriver, network_v6: VipNetwork
) -> None:
    backend = ("fd00:7e:70::fe", 80)
    made = make_pair(agent.client, netns_driver, network_v6, backend, STEELYARD)
    master, backup = made.member(VrrpRole.MASTER), made.member(VrrpRole.BACKUP)
    wait_for_roles(agent.client, made, master)
    ip("link", "set", "eth0", "down", netns=master.netns)
    wait_for_roles(agent.client, dataclasses.replace(made, members=(backup,)), backup)

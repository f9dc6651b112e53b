"""HAProxy inside a network namespace: started, checked and reloaded there, reachable only
through the namespace's own link (a veth to a client namespace, 198.18.64.0/24)."""

import os
import secrets
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from steelyard.agent.client import AgentClient
from steelyard.agent.netns import netns_path, run_in_netns, unreachable
from tests.integration.agent.helpers import fetch, pid_alive

VIP = "198.18.64.2"
CLIENT = "198.18.64.1"


@dataclass(frozen=True)
class NetnsPair:
    appliance: str
    client: str


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


@pytest.fixture
def netns_pair() -> Iterator[NetnsPair]:
    suffix = secrets.token_hex(3)
    pair = NetnsPair(appliance=f"tb-{suffix}-a", client=f"tb-{suffix}-c")
    created: list[str] = []
    try:
        for name in (pair.appliance, pair.client):
            ip("netns", "add", name)
            created.append(name)
            ip("-n", name, "link", "set", "lo", "up")
        # veth ends are created in the client namespace and one is moved: never on the host.
        ip(
            "-n",
            pair.client,
            "link",
            "add",
            f"tb{suffix}c",
            "type",
            "veth",
            "peer",
            "name",
            f"tb{suffix}a",
            "netns",
            pair.appliance,
        )
        ip("-n", pair.client, "addr", "add", f"{CLIENT}/24", "dev", f"tb{suffix}c")
        ip("-n", pair.appliance, "addr", "add", f"{VIP}/24", "dev", f"tb{suffix}a")
        ip("-n", pair.client, "link", "set", f"tb{suffix}c", "up")
        ip("-n", pair.appliance, "link", "set", f"tb{suffix}a", "up")
        yield pair
    finally:
        for name in created:
            subprocess.run(["ip", "netns", "del", name], check=False, capture_output=True)


def same_netns(pid: int, netns: str) -> bool:
    return os.stat(f"/proc/{pid}/ns/net").st_ino == os.stat(netns_path(netns)).st_ino


def cfg(stats_socket: str, state_file: str, body: str) -> str:
    return f"""global
    stats socket {stats_socket} mode 600 level admin expose-fd listeners
    server-state-file {state_file}
    hard-stop-after 3s
    maxconn 100

defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s

frontend fe
    bind {VIP}:80
    http-request return status 200 content-type text/plain string {body}
"""


@pytest.mark.root
def test_haproxy_runs_and_reloads_inside_a_namespace(
    netns_pair: NetnsPair, agent: AgentClient
) -> None:
    info = agent.ensure_appliance("lb1", netns=netns_pair.appliance)
    assert info.netns == netns_pair.appliance
    paths = (info.paths.stats_socket, info.paths.server_state_file)

    started = agent.apply_config("lb1", 1, cfg(*paths, "one"), [f"{VIP}:80"])
    assert started.action == "started"
    assert run_in_netns(netns_pair.client, lambda: fetch(80, host=VIP)) == "one"
    before = agent.get_appliance("lb1")
    assert before is not None and before.master_pid is not None
    # Master and worker live in the appliance's namespace (never probed from the host: its
    # default route leads off the machine).
    for pid in (before.master_pid, *before.worker_pids):
        assert same_netns(pid, netns_pair.appliance)
    reloaded = agent.apply_config("lb1", 2, cfg(*paths, "two"), [f"{VIP}:80"])
    assert reloaded.action == "reloaded"
    assert run_in_netns(netns_pair.client, lambda: fetch(80, host=VIP)) == "two"
    after = agent.get_appliance("lb1")
    assert after is not None and after.master_pid is not None
    assert after.master_pid == before.master_pid
    assert (after.generation, after.running) == (2, True)

    agent.delete_appliance("lb1")
    assert not pid_alive(after.master_pid)
    assert run_in_netns(netns_pair.appliance, lambda: unreachable([(VIP, 80)], None, retry_for=0.0))

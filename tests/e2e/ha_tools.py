"""What the high-availability tests and benchmarks do: flavors that pick a topology, the
appliances of a load balancer (Octavia's amphora API), and ways to break an appliance."""

import contextlib
import json
import os
import signal
import subprocess
import uuid
from typing import Any

import httpx

from steelyard.agent.client import AgentClient
from tests.e2e.harness import wait_until


def make_flavor(admin: httpx.Client, topology: str, **extra: Any) -> str:
    """A flavor (and its profile) of `topology`; returns the flavor id."""
    data = json.dumps({"loadbalancer_topology": topology, **extra})
    profile = admin.post(
        "/v2/lbaas/flavorprofiles",
        json={
            "flavorprofile": {
                "name": f"fp-{uuid.uuid4().hex[:8]}",
                "provider_name": "appliance",
                "flavor_data": data,
            }
        },
    )
    assert profile.status_code == 201, profile.text
    flavor = admin.post(
        "/v2/lbaas/flavors",
        json={
            "flavor": {
                "name": f"f-{uuid.uuid4().hex[:8]}",
                "flavor_profile_id": profile.json()["flavorprofile"]["id"],
                "enabled": True,
            }
        },
    )
    assert flavor.status_code == 201, flavor.text
    flavor_id: str = flavor.json()["flavor"]["id"]
    return flavor_id


def amphorae(admin: httpx.Client, lb_id: str) -> list[dict[str, Any]]:
    response = admin.get("/v2/octavia/amphorae", params={"loadbalancer_id": lb_id})
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["amphorae"]
    return found


def serving(admin: httpx.Client, lb_id: str) -> list[dict[str, Any]]:
    return [a for a in amphorae(admin, lb_id) if a["status"] == "ALLOCATED"]


def wait_redundant(
    admin: httpx.Client,
    lb_id: str,
    roles: list[str],
    gone: frozenset[str] = frozenset(),
    timeout_s: float = 60,
) -> list[dict[str, Any]]:
    """Until the load balancer has exactly one ALLOCATED appliance per role in `roles`, none of
    `gone` (appliance ids) among its appliances, and is ACTIVE again."""

    def settled() -> list[dict[str, Any]] | None:
        found = amphorae(admin, lb_id)
        ok = (
            sorted(a["role"] for a in found if a["status"] == "ALLOCATED") == sorted(roles)
            and len(found) == len(roles)
            and not {a["id"] for a in found} & gone
        )
        lb = admin.get(f"/v2/lbaas/loadbalancers/{lb_id}").json()["loadbalancer"]
        return found if ok and lb["provisioning_status"] == "ACTIVE" else None

    result: list[dict[str, Any]] = wait_until(settled, timeout_s, interval_s=0.1)
    return result


def by_role(found: list[dict[str, Any]], role: str) -> dict[str, Any]:
    matches = [a for a in found if a["role"] == role]
    assert len(matches) == 1, found
    return matches[0]


def link_down(netns: str) -> None:
    """The appliance's only link goes down: no traffic, no heartbeats (a dead host, to the
    network)."""
    subprocess.run(["ip", "-n", netns, "link", "set", "eth0", "down"], check=True)


def kill_haproxy(agent: AgentClient, appliance: str) -> list[int]:
    """SIGKILL the appliance's HAProxy (master and workers), as a crash would."""
    info = agent.get_appliance(appliance)
    assert info is not None and info.master_pid is not None, info
    pids = [info.master_pid, *info.worker_pids]
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return pids


def kill_appliance_processes(agent: AgentClient, appliance: str) -> list[int]:
    """SIGKILL everything the appliance runs: HAProxy and keepalived."""
    info = agent.get_appliance(appliance)
    assert info is not None, appliance
    pids = kill_haproxy(agent, appliance)
    if info.keepalived_pid is not None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(info.keepalived_pid, signal.SIGKILL)
        pids.append(info.keepalived_pid)
    return pids


def vip_holders(found: list[dict[str, Any]], vip: str) -> list[str]:
    """Names of the appliances whose eth0 holds `vip` right now."""
    holders = []
    for amphora in found:
        shown = subprocess.run(
            ["ip", "-n", amphora["compute_id"], "-br", "addr", "show", "dev", "eth0"],
            capture_output=True,
            text=True,
            check=False,
        )
        addresses = {word.split("/")[0] for word in shown.stdout.split()[2:]}
        if shown.returncode == 0 and vip in addresses:
            holders.append(amphora["name"])
    return holders

"""A real load balancer end to end: tenant API -> reconciler -> agent -> HAProxy in a network
namespace -> traffic from this host to backends on this host through the VIP bridge."""

import threading
import time
from typing import Any

import httpx
import pytest

from steelyard.cli.backends import NamedBackend
from tests.e2e.agent_access import agent_for, appliance_of
from tests.e2e.conftest import Backends
from tests.e2e.harness import ServerHandle, wait_until
from tests.e2e.lbtools import (
    create_lb,
    lb_body,
    pool_members,
    spread,
    vip_url,
    wait_active,
)

pytestmark = pytest.mark.root


def test_round_robin_gives_each_member_its_share_then_weights_one_to_two(
    netns_server: ServerHandle, backends: Backends
) -> None:
    members = backends.start(netns_server)
    with netns_server.api() as api:
        lb = create_lb(api, lb_body(members, netns_server.member_host))
        lb = wait_active(api, lb["id"])
        assert spread(vip_url(lb), 30) == {"b1": 10, "b2": 10, "b3": 10}

        pool_id = lb["pools"][0]["id"] if lb.get("pools") else None
        assert pool_id is not None
        by_name = {m["name"]: m for m in pool_members(api, pool_id)}
        api.put(
            f"/v2/lbaas/pools/{pool_id}/members/{by_name['b3']['id']}",
            json={"member": {"admin_state_up": False}},
        ).raise_for_status()
        api.put(
            f"/v2/lbaas/pools/{pool_id}/members/{by_name['b2']['id']}",
            json={"member": {"weight": 2}},
        ).raise_for_status()
        wait_active(api, lb["id"])
        assert spread(vip_url(lb), 30) == {"b1": 10, "b2": 20}


def _member_status(api: httpx.Client, pool_id: str, name: str) -> str:
    return str(next(m["operating_status"] for m in pool_members(api, pool_id) if m["name"] == name))


def test_dead_member_goes_to_error_gets_no_traffic_and_comes_back(
    netns_server: ServerHandle, backends: Backends
) -> None:
    members = backends.start(netns_server)
    monitor = {"type": "HTTP", "delay": 1, "timeout": 1, "max_retries": 1, "max_retries_down": 1}
    with netns_server.api() as api:
        lb = create_lb(api, lb_body(members, netns_server.member_host, healthmonitor=monitor))
        lb = wait_active(api, lb["id"])
        pool_id = lb["pools"][0]["id"]
        wait_until(lambda: _member_status(api, pool_id, "b2") == "ONLINE")

        members[1].stop()
        wait_until(lambda: _member_status(api, pool_id, "b2") == "ERROR")
        assert set(spread(vip_url(lb), 20)) == {"b1", "b3"}
        pool = api.get(f"/v2/lbaas/pools/{pool_id}").json()["pool"]
        assert pool["operating_status"] == "DEGRADED"

        backends.add(NamedBackend("b2", netns_server.member_host, members[1].port))
        wait_until(lambda: _member_status(api, pool_id, "b2") == "ONLINE")
        assert set(spread(vip_url(lb), 30)) == {"b1", "b2", "b3"}


def test_weight_zero_drains_without_a_reload(
    netns_server: ServerHandle, backends: Backends
) -> None:
    members = backends.start(netns_server)
    with netns_server.api() as api, agent_for(netns_server) as agent:
        lb = create_lb(api, lb_body(members, netns_server.member_host))
        lb = wait_active(api, lb["id"])
        pool_id = lb["pools"][0]["id"]
        name = appliance_of(lb["id"])
        before = agent.get_appliance(name)
        assert before is not None and before.worker_pids

        b1 = next(m for m in pool_members(api, pool_id) if m["name"] == "b1")
        api.put(
            f"/v2/lbaas/pools/{pool_id}/members/{b1['id']}", json={"member": {"weight": 0}}
        ).raise_for_status()
        wait_active(api, lb["id"])
        assert "b1" not in spread(vip_url(lb), 12)
        after = agent.get_appliance(name)
        assert after is not None
        assert (after.master_pid, after.worker_pids) == (before.master_pid, before.worker_pids)
        wait_until(lambda: _member_status(api, pool_id, "b1") == "DRAINING")


class LoadLoop:
    """A client sending requests back to back until stopped; counts failures."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.ok = 0
        self.failed: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with httpx.Client(timeout=5) as client:
            while not self._stop.is_set():
                try:
                    # A new connection each time: reloads must not refuse any.
                    r = client.get(self.url, headers={"Connection": "close"})
                    if r.status_code == 200:
                        self.ok += 1
                    else:
                        self.failed.append(f"HTTP {r.status_code}")
                except httpx.HTTPError as exc:
                    self.failed.append(repr(exc))

    def __enter__(self) -> "LoadLoop":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


@pytest.mark.slow
def test_hundred_reloads_under_load_fail_no_request(
    netns_server: ServerHandle, backends: Backends
) -> None:
    members = backends.start(netns_server)
    with netns_server.api() as api, agent_for(netns_server) as agent:
        lb = create_lb(api, lb_body(members, netns_server.member_host))
        lb = wait_active(api, lb["id"])
        listener_id = lb["listeners"][0]["id"]
        name = appliance_of(lb["id"])
        first = agent.get_appliance(name)
        assert first is not None
        with LoadLoop(vip_url(lb)) as load:
            for change in range(100):
                # connection_limit is a frontend setting: only a reload applies it.
                api.put(
                    f"/v2/lbaas/listeners/{listener_id}",
                    json={"listener": {"connection_limit": 1000 + change}},
                ).raise_for_status()
                wait_active(api, lb["id"])
            time.sleep(0.5)
        last = agent.get_appliance(name)
        assert last is not None
        assert last.master_pid == first.master_pid  # reloaded, never restarted
        assert last.worker_pids != first.worker_pids
        assert load.ok > 100
        assert load.failed == []


def test_config_haproxy_rejects_is_refused_and_old_one_serves(
    netns_server: ServerHandle, backends: Backends
) -> None:
    from steelyard.agent.client import AgentApplyError

    members = backends.start(netns_server)
    with netns_server.api() as api, agent_for(netns_server) as agent:
        lb = create_lb(api, lb_body(members, netns_server.member_host))
        lb = wait_active(api, lb["id"])
        name = appliance_of(lb["id"])
        info = agent.get_appliance(name)
        assert info is not None
        broken = "global\n    no-such-keyword 1\n"
        with pytest.raises(AgentApplyError) as refused:
            agent.apply_config(name, 999, broken, [])
        assert not refused.value.error.rolled_back
        assert set(spread(vip_url(lb), 9)) == {"b1", "b2", "b3"}
        still = agent.get_appliance(name)
        assert still is not None and still.config_sha256 == info.config_sha256


def _leftovers(handle: ServerHandle) -> dict[str, Any]:
    import subprocess

    netns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    appliances = handle.state_dir / "agent" / "appliances"
    return {
        "netns": [ln.split()[0] for ln in netns.splitlines() if ln.startswith(handle.prefix + "-")],
        "veths": [
            ln.split(":")[1].strip().split("@")[0]
            for ln in links.splitlines()
            if ln.split(":")[1].strip().startswith(handle.prefix + "v")
        ],
        "files": sorted(p.name for p in appliances.iterdir()) if appliances.exists() else [],
    }


def _running(pid: int) -> bool:
    """True while the process exists and is not a zombie (this sandbox's PID 1 reaps
    orphans late, so an exited HAProxy can linger briefly as a zombie)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.parametrize("cascade", [False, True])
def test_delete_leaves_no_namespace_link_process_or_file(
    netns_server: ServerHandle, backends: Backends, cascade: bool
) -> None:
    members = backends.start(netns_server, 2)
    with netns_server.api() as api, agent_for(netns_server) as agent:
        lb = create_lb(api, lb_body(members, netns_server.member_host))
        lb = wait_active(api, lb["id"])
        name = appliance_of(lb["id"])
        info = agent.get_appliance(name)
        assert info is not None and info.master_pid
        pids = [info.master_pid, *info.worker_pids]
        assert _leftovers(netns_server)["netns"]

        if cascade:
            r = api.delete(f"/v2/lbaas/loadbalancers/{lb['id']}?cascade=true")
            assert r.status_code == 204, r.text
        else:
            refused = api.delete(f"/v2/lbaas/loadbalancers/{lb['id']}")
            assert refused.status_code == 400, refused.text
            assert "faultstring" in refused.json()
            listener_id = lb["listeners"][0]["id"]
            pool_id = lb["pools"][0]["id"]
            assert api.delete(f"/v2/lbaas/listeners/{listener_id}").status_code == 204
            assert api.delete(f"/v2/lbaas/pools/{pool_id}").status_code == 204
            wait_active(api, lb["id"])
            assert api.delete(f"/v2/lbaas/loadbalancers/{lb['id']}").status_code == 204
        wait_until(lambda: api.get(f"/v2/lbaas/loadbalancers/{lb['id']}").status_code == 404)

        assert _leftovers(netns_server) == {"netns": [], "veths": [], "files": []}
        assert [p for p in pids if _running(p)] == []

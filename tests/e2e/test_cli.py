"""The user-facing commands: `steelyard demo` and `steelyard keys create` with --auth keys."""

import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.e2e.harness import ServerHandle, running_server
from tests.e2e.lbtools import lb_body, start_backends


def _steelyard(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "steelyard", *args], capture_output=True, text=True, timeout=120
    )


@pytest.mark.root
def test_demo_sends_traffic_through_every_backend_and_cleans_up(
    netns_server: ServerHandle,
) -> None:
    done = _steelyard("demo", "--url", netns_server.url, "--requests", "9")
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    for n in range(1, 10):
        assert f"request {n:2d} -> backend-" in out
    assert "backend-1: 3, backend-2: 3, backend-3: 3" in out
    assert "deleted load balancer" in out
    with netns_server.api(project="demo") as api:
        assert api.get("/v2/lbaas/loadbalancers").json()["loadbalancers"] == []


def test_api_keys_scope_projects_and_roles(tmp_path: Path) -> None:
    with running_server(tmp_path, "process", ("--auth", "keys")) as server:
        state = str(server.state_dir)
        member1 = _steelyard(
            "keys", "create", "--project", "p1", "--role", "member", "--state-dir", state
        )
        reader1 = _steelyard(
            "keys", "create", "--project", "p1", "--role", "reader", "--state-dir", state
        )
        member2 = _steelyard(
            "keys", "create", "--project", "p2", "--role", "member", "--state-dir", state
        )
        for done in (member1, reader1, member2):
            assert done.returncode == 0, done.stderr
        k1, r1, k2 = (d.stdout.strip() for d in (member1, reader1, member2))
        assert len({k1, r1, k2}) == 3

        assert httpx.get(server.url + "/v2/lbaas/loadbalancers").status_code == 401
        bad = httpx.get(server.url + "/v2/lbaas/loadbalancers", headers={"X-Auth-Token": k1 + "x"})
        assert bad.status_code == 401
        assert "faultstring" in bad.json()

        backends = start_backends(server, 1)
        try:
            with server.api(project=None, token=k1) as api1:
                created = api1.post("/v2/lbaas/loadbalancers", json=lb_body(backends, "127.0.0.1"))
                assert created.status_code == 201, created.text
                lb_id = created.json()["loadbalancer"]["id"]
                assert created.json()["loadbalancer"]["project_id"] == "p1"
            with server.api(project=None, token=r1) as reader:
                assert reader.get(f"/v2/lbaas/loadbalancers/{lb_id}").status_code == 200
                denied = reader.put(
                    f"/v2/lbaas/loadbalancers/{lb_id}", json={"loadbalancer": {"name": "x"}}
                )
                assert denied.status_code == 403, denied.text
            with server.api(project=None, token=k2) as api2:
                assert api2.get(f"/v2/lbaas/loadbalancers/{lb_id}").status_code == 404
                assert (
                    api2.delete(f"/v2/lbaas/loadbalancers/{lb_id}?cascade=true").status_code == 404
                )
                assert api2.get("/v2/lbaas/loadbalancers").json()["loadbalancers"] == []
            with server.api(project=None, token=k1) as api1:
                assert (
                    api1.delete(f"/v2/lbaas/loadbalancers/{lb_id}?cascade=true").status_code == 204
                )
        finally:
            for b in backends:
                b.stop()

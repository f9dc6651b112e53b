"""The operator finds a tenant's broken member from the load balancer's ID alone: a netns
load balancer with one good member and one whose port is closed; the operator's diagnostics
and member test name the broken member, its address and the error."""

import socket
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import Backends
from tests.e2e.harness import ServerHandle, wait_until
from tests.e2e.lbtools import create_lb, lb_body, pool_members, spread, vip_url, wait_active

pytestmark = pytest.mark.root
OP = "/v2/operator"


def closed_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
    return port  # nothing listens there once the socket is closed


def verdicts(answer: httpx.Response, key: str) -> dict[str, dict[str, Any]]:
    assert answer.status_code == 200, answer.text
    return {v["code"]: v for v in answer.json()[key]["verdicts"]}


def test_diagnostics_name_the_member_that_refuses(
    netns_server: ServerHandle, backends: Backends
) -> None:
    (good,) = backends.start(netns_server, 1)
    host = netns_server.member_host
    broken = closed_port(host)
    body = lb_body([good], host, healthmonitor={
        "type": "HTTP", "delay": 1, "timeout": 1, "max_retries": 1, "max_retries_down": 1,
    })  # fmt: skip
    body["loadbalancer"]["listeners"][0]["default_pool"]["members"].append(
        {"name": "broken", "address": host, "protocol_port": broken}
    )
    with netns_server.api() as tenant, netns_server.api(project=None) as operator:
        lb = wait_active(tenant, create_lb(tenant, body)["id"])
        members = {m["name"]: m for m in pool_members(tenant, lb["pools"][0]["id"])}
        broken_id = members["broken"]["id"]
        assert set(spread(vip_url(lb), 4)) == {"b1"}

        # the state: HAProxy's own health check has taken the member out
        def member_down() -> dict[str, Any] | None:
            found = verdicts(
                operator.get(f"{OP}/loadbalancers/{lb['id']}/diagnostics"), "diagnostics"
            )
            return found.get("member_down")

        down = wait_until(member_down, timeout_s=15)
        assert down["member_id"] == broken_id
        assert f"member {host}:{broken} (id {broken_id})" in down["message"]
        assert "L4CON Connection refused" in down["message"]

        # the member test from inside the appliance
        tested = operator.post(f"{OP}/loadbalancers/{lb['id']}/connectivity")
        found = verdicts(tested, "connectivity")
        assert set(found) == {"member_refused", "summary"}, found
        refused = found["member_refused"]
        assert refused["member_id"] == broken_id
        assert refused["message"].startswith(
            f"member {host}:{broken} (id {broken_id}) refuses connections (ECONNREFUSED) from "
            "appliance "
        )
        assert found["summary"]["message"].startswith("1 of 2 member(s) answer")
        (appliance,) = tested.json()["connectivity"]["appliances"]
        results = {r["target"]["member_id"]: r for r in appliance["report"]["results"]}
        assert results[members["b1"]["id"]]["check"]["status_code"] == 200

        # one appliance by its amphora ID: HAProxy, its sessions and its namespace
        one = operator.get(f"{OP}/appliances/{appliance['appliance_id']}/diagnostics")
        assert one.status_code == 200, one.text
        state = one.json()["diagnostics"]["appliance"]["diagnostics"]
        assert state["haproxy_running"] and state["info"]["version"].startswith("2.6")
        assert state["network"]["netns"] and state["errors"] == {}
        assert any(
            lb["vip_address"] in " ".join(i["addresses"]) for i in state["network"]["interfaces"]
        )

        # the tenant cannot ask
        assert tenant.get(f"{OP}/loadbalancers/{lb['id']}/diagnostics").status_code == 403

"""Metering end to end: real requests through a netns load balancer (200s and 404s from real
backends) show up exactly in /metrics (read with the official Prometheus parser) at the
listener, pool and member level, in Octavia's load balancer and amphora stats, and as bytes in
the usage records; the control plane's own metrics count the API, the reconciles and the flow
log records."""

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.harness import ServerHandle, running_server, wait_until
from tests.e2e.lbtools import create_lb, lb_body, vip_url, wait_active
from tests.support.http_backend import HttpBackend

pytestmark = pytest.mark.root
SERVED, NOT_FOUND = 20, 10  # requests answered 200 and 404 by the members


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerHandle]:
    if os.geteuid() != 0:
        pytest.skip("the netns driver needs root")
    with running_server(tmp_path, "netns", ("--usage-interval", "1")) as handle:
        yield handle


def scrape(admin: httpx.Client) -> dict[str, Metric]:
    response = admin.get("/metrics")
    assert response.status_code == 200, response.text
    return {family.name: family for family in text_string_to_metric_families(response.text)}


def total(families: dict[str, Metric], name: str, **labels: str) -> float:
    return sum(
        s.value
        for s in families[name].samples
        if s.name == name + "_total" or s.name == name
        if all(s.labels.get(k) == v for k, v in labels.items())
    )


def test_requests_are_counted_exactly_everywhere(server: ServerHandle) -> None:
    with (
        HttpBackend("m1", server.member_host) as first,
        HttpBackend("m2", server.member_host) as second,
        server.api() as api,
        server.api(project=None) as admin,
    ):
        members = [first, second]
        body = lb_body([], server.member_host)
        body["loadbalancer"]["listeners"][0]["default_pool"]["members"] = [
            {"name": m.name, "address": server.member_host, "protocol_port": m.port}
            for m in members
        ]
        lb = wait_active(api, create_lb(api, body)["id"])
        listener_id, pool_id = lb["listeners"][0]["id"], lb["pools"][0]["id"]
        url = vip_url(lb)
        close = {"Connection": "close"}  # one connection per request: connections count too
        codes = [httpx.get(url, headers=close, timeout=5).status_code for _ in range(SERVED)]
        codes += [
            httpx.get(url + "status/404", headers=close, timeout=5).status_code
            for _ in range(NOT_FOUND)
        ]
        assert sorted(codes) == [200] * SERVED + [404] * NOT_FOUND
        requests = SERVED + NOT_FOUND

        def counted() -> dict[str, Metric] | None:
            found = scrape(admin)
            done = total(found, "steelyard_pool_http_responses", pool_id=pool_id) == requests
            return found if done else None

        found = wait_until(counted, timeout_s=20)  # heartbeats every 1 s, written every 5 s
        for level, labels in (
            ("pool", {"pool_id": pool_id}),
            ("member", {"pool_id": pool_id}),  # both members added up
        ):
            responses = f"steelyard_{level}_http_responses"
            assert total(found, responses, code="2xx", **labels) == SERVED, level
            assert total(found, responses, code="4xx", **labels) == NOT_FOUND, level
            assert total(found, responses, code="5xx", **labels) == 0, level
            assert total(found, f"steelyard_{level}_requests", **labels) == requests, level
            assert total(found, f"steelyard_{level}_connections", **labels) == requests, level
        # A frontend also answers the reconciler's listener checks (a connect, then a close):
        # HAProxy counts each as a failed request answered 400. Nothing else is counted.
        for level, labels in (
            ("listener", {"listener_id": listener_id}),
            ("loadbalancer", {"loadbalancer_id": lb["id"]}),
        ):
            responses = f"steelyard_{level}_http_responses"
            probes = total(found, f"steelyard_{level}_request_errors", **labels)
            assert probes <= 2, level
            assert total(found, responses, code="2xx", **labels) == SERVED, level
            assert total(found, responses, code="4xx", **labels) == NOT_FOUND + probes, level
            assert total(found, responses, code="5xx", **labels) == 0, level
            connections = total(found, f"steelyard_{level}_connections", **labels)
            assert connections == requests + probes, level
        per_member = {
            s.labels["address"]: s.value
            for s in found["steelyard_member_http_responses"].samples
            if s.labels["pool_id"] == pool_id and s.labels["code"] == "2xx"
        }
        assert sorted(per_member) == sorted(f"{server.member_host}:{m.port}" for m in members)
        assert all(value > 0 for value in per_member.values())  # round robin: both served
        bytes_in = total(found, "steelyard_listener_bytes_in", listener_id=listener_id)
        assert bytes_in > 0
        online = [
            s.labels["status"]
            for s in found["steelyard_loadbalancer_operating_status"].samples
            if s.labels["loadbalancer_id"] == lb["id"] and s.value == 1
        ]
        assert online == ["ONLINE"]
        # the control plane's own
        assert total(found, "steelyard_api_requests", method="POST", code="2xx") >= 1
        assert total(found, "steelyard_reconciles", outcome="applied") >= 1
        assert total(found, "steelyard_heartbeats", outcome="accepted") > 0
        assert total(found, "steelyard_appliances", status="ALLOCATED") == 1
        assert total(found, "steelyard_webhook_deliveries", state="dead") == 0

        def logged() -> dict[str, Metric] | None:
            found = scrape(admin)  # the collector reads the agent every 0.5 s
            done = total(found, "steelyard_log_records_stored", kind="flow") >= requests
            return found if done else None

        found = wait_until(logged, timeout_s=10)
        # every request is one flow record, a listener check may be one more; none was lost
        assert total(found, "steelyard_log_records_stored", kind="flow") <= requests + probes
        assert total(found, "steelyard_log_records_lost") == 0
        assert total(found, "steelyard_log_records_stored", kind="admin") > 0  # HAProxy started

        stats = api.get(f"/v2/lbaas/loadbalancers/{lb['id']}/stats").json()["stats"]
        assert stats["total_connections"] >= requests and stats["bytes_in"] == bytes_in
        (amphora,) = admin.get("/v2/octavia/amphorae", params={"loadbalancer_id": lb["id"]}).json()[
            "amphorae"
        ]
        response = admin.get(f"/v2/octavia/amphorae/{amphora['id']}/stats")
        assert response.status_code == 200
        (entry,) = response.json()["amphora_stats"]
        assert (entry["id"], entry["listener_id"], entry["loadbalancer_id"]) == (
            amphora["id"], listener_id, lb["id"],
        )  # fmt: skip
        assert entry["total_connections"] >= requests and entry["bytes_in"] == bytes_in

        def billed() -> dict[str, Any] | None:
            usage = admin.get("/v2/operator/usage", params={"project_id": "p1"}).json()["usage"]
            (project,) = usage["projects"] or [None]
            return project if project and project["bytes_in"] == bytes_in else None

        project = wait_until(billed, timeout_s=10)  # accrued every second here
        (used,) = project["loadbalancers"]
        assert used["loadbalancer_id"] == lb["id"] and used["loadbalancer_hours"] > 0
        assert used["bytes_out"] > 0

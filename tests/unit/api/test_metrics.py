"""GET /metrics: valid Prometheus exposition (parsed with the official client's parser) of
every load balancer, listener, pool and member, hostile label values included, and the
control plane's own metrics (the log pipeline's among them)."""

import socket
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.orm import Session, sessionmaker

from steelyard.agent.log_buffer import LogBuffer
from steelyard.api.app import create_app
from steelyard.api.services import Services
from steelyard.api.settings import ApiSettings
from steelyard.db import models
from steelyard.telemetry.control import ControlPlaneMetrics
from steelyard.telemetry.logs_collector import LogCollector
from steelyard.telemetry.syslog_sender import SyslogSender, Target
from tests.unit.api.test_logs import T0, FakeAgent, add_appliance

Factory = Callable[..., dict[str, Any]]


def test_metrics_expose_listener_counters_and_rejections_to_admins(
    make_lb: Factory,
    make_listener: Factory,
    make_client: Callable[..., TestClient],
    sessions: sessionmaker[Session],
) -> None:
    lb = make_lb()
    listener = make_listener(lb["id"])
    with sessions.begin() as session:
        session.add(
            models.ListenerStats(
                listener_id=listener["id"], loadbalancer_id=lb["id"], bytes_in=11, bytes_out=22,
                active_connections=3, total_connections=44, request_errors=5,
                updated_at=datetime(2026, 1, 1),
            )
        )  # fmt: skip
        session.add(
            models.ListenerRejections(
                listener_id=listener["id"], reason="req_rate", loadbalancer_id=lb["id"],
                count=99, updated_at=datetime(2026, 1, 1),
            )
        )  # fmt: skip

    admin = make_client(project=None)
    response = admin.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    labels = (
        f'loadbalancer_id="{lb["id"]}",listener_id="{listener["id"]}",'
        f'project_id="{lb["project_id"]}"'
    )
    lines = response.text.splitlines()
    assert f"steelyard_listener_bytes_in_total{{{labels}}} 11" in lines
    assert f"steelyard_listener_connections_total{{{labels}}} 44" in lines
    assert f"steelyard_listener_active_connections{{{labels}}} 3" in lines
    assert f'steelyard_listener_rejections_total{{{labels},reason="req_rate"}} 99' in lines
    assert "# TYPE steelyard_listener_active_connections gauge" in lines


def test_metrics_are_for_admins_only(make_client: Callable[..., TestClient]) -> None:
    member = make_client()  # noauth with a project: a member of it
    assert member.get("/metrics").status_code == 403
    assert "faultstring" in member.get("/metrics").json()


def families_of(text: str) -> dict[str, Metric]:
    return {family.name: family for family in text_string_to_metric_families(text)}


def samples(family: Metric, **labels: str) -> list[tuple[dict[str, str], float]]:
    return [
        (s.labels, s.value)
        for s in family.samples
        if all(s.labels.get(k) == v for k, v in labels.items())
    ]


def test_every_object_is_exposed_with_status_classes_and_statuses(
    make_lb: Factory,
    make_listener: Factory,
    make_pool: Factory,
    make_member: Factory,
    make_client: Callable[..., TestClient],
    sessions: sessionmaker[Session],
) -> None:
    lb = make_lb()
    listener = make_listener(lb["id"])
    pool = make_pool(listener_id=listener["id"])
    member = make_member(pool["id"], address="2001:db8::7", protocol_port=8443)
    at = datetime(2026, 1, 1)
    with sessions.begin() as session:
        session.add(
            models.ListenerStats(
                listener_id=listener["id"], loadbalancer_id=lb["id"], updated_at=at,
                hrsp_2xx=7, hrsp_4xx=3, requests=10, bytes_in=100,
            )
        )  # fmt: skip
        session.add(
            models.MemberStats(
                member_id=member["id"], pool_id=pool["id"], loadbalancer_id=lb["id"],
                updated_at=at, hrsp_2xx=7, hrsp_4xx=3, connection_errors=2,
            )
        )  # fmt: skip

    text = make_client(project=None).get("/metrics").text
    found = families_of(text)  # the official parser: the whole text is valid exposition
    responses = found["steelyard_listener_http_responses"]
    assert responses.type == "counter"
    by_code = {s[0]["code"]: s[1] for s in samples(responses, listener_id=listener["id"])}
    assert by_code == {"1xx": 0, "2xx": 7, "3xx": 0, "4xx": 3, "5xx": 0, "other": 0}
    lb_codes = samples(found["steelyard_loadbalancer_http_responses"], code="2xx")
    assert [(labels["loadbalancer_id"], value) for labels, value in lb_codes] == [(lb["id"], 7)]
    ((labels, value),) = samples(found["steelyard_member_http_responses"], code="4xx")
    assert (labels["address"], labels["pool_id"], value) == ("[2001:db8::7]:8443", pool["id"], 3)
    assert samples(found["steelyard_member_connection_errors"])[0][1] == 2
    assert samples(found["steelyard_pool_requests"], pool_id=pool["id"])[0][1] == 0  # none yet
    statuses = samples(found["steelyard_loadbalancer_operating_status"], loadbalancer_id=lb["id"])
    assert {labels["status"] for labels, value in statuses if value == 1} == {"OFFLINE"}
    assert len(statuses) == 6
    assert found["steelyard_heartbeats"].type == "counter"
    assert "steelyard_api_requests" not in found  # this app keeps no control-plane metrics


HOSTILE = ['a"b', "back\\slash", "new\nline", '}, x="1', "ünïcødé ☃", "\\n literal", ""]


@pytest.mark.parametrize("hostile", HOSTILE)
def test_hostile_label_values_round_trip_through_the_official_parser(
    hostile: str,
    make_lb: Factory,
    make_client: Callable[..., TestClient],
    sessions: sessionmaker[Session],
) -> None:
    lb = make_lb()
    with sessions.begin() as session:
        row = session.get_one(models.LoadBalancer, lb["id"])
        row.name, row.project_id = hostile, hostile + "p"
    found = families_of(make_client(project=None).get("/metrics").text)
    ((labels, _),) = samples(found["steelyard_loadbalancer_bytes_in"], loadbalancer_id=lb["id"])
    assert (labels["name"], labels["project_id"]) == (hostile, hostile + "p")


def test_control_plane_metrics_count_api_requests_and_reconciles(
    sessions: sessionmaker[Session],
) -> None:
    control = ControlPlaneMetrics()
    control.reconciled("applied", 0.03)
    control.reconciled("applied", 0.7)
    control.reconciled("failed", 100.0)
    app = create_app(
        ApiSettings(auth="noauth"),
        sessions,
        lambda _: None,
        services=Services(control_metrics=control),
    )
    admin = TestClient(app, headers={"X-Roles": "admin"})
    assert admin.get("/v2/lbaas/loadbalancers").status_code == 200
    assert admin.get("/v2/lbaas/loadbalancers/nope").status_code == 404
    admin.get("/v2/lbaas/loadbalancers")
    found = families_of(admin.get("/metrics").text)
    requests = {
        (s.labels["method"], s.labels["code"]): s.value
        for s in found["steelyard_api_requests"].samples
    }
    assert requests == {("GET", "2xx"): 2, ("GET", "4xx"): 1}
    took = found["steelyard_reconcile_duration_seconds"]
    assert took.type == "histogram"
    buckets = {
        (s.labels["outcome"], s.labels["le"]): s.value
        for s in took.samples
        if s.name.endswith("_bucket")
    }
    assert (buckets[("applied", "0.05")], buckets[("applied", "1.0")]) == (1, 2)
    assert (buckets[("failed", "60.0")], buckets[("failed", "+Inf")]) == (0, 1)
    totals = {s.labels["outcome"]: s.value for s in found["steelyard_reconciles"].samples}
    assert totals == {"applied": 2, "failed": 1}


def test_webhook_deliveries_are_exposed_by_state(
    make_client: Callable[..., TestClient], sessions: sessionmaker[Session]
) -> None:
    """Dead letters are what an operator alerts on: every state is there, zeros included."""

    def gauge() -> dict[str, float]:
        found = families_of(make_client(project=None).get("/metrics").text)
        family = found["steelyard_webhook_deliveries"]
        assert family.type == "gauge"
        return {s.labels["state"]: s.value for s in family.samples}

    assert gauge() == {"pending": 0, "delivered": 0, "dead": 0}
    with sessions.begin() as session:
        for index, state in enumerate(["dead", "pending", "dead", "delivered", "dead"]):
            session.add(
                models.WebhookDelivery(
                    id=f"d{index}", webhook_id="w", event_id=f"e{index}",
                    event_type="member.operating_status", state=state,
                    created_at=datetime(2026, 1, 1),
                )
            )  # fmt: skip
    assert gauge() == {"pending": 1, "delivered": 1, "dead": 3}


def test_the_log_pipelines_counters_are_exposed(
    make_lb: Factory, sessions: sessionmaker[Session], udp_receiver: socket.socket
) -> None:
    """Stored, lost (evicted in the agent, or of no load balancer), pruned and offloaded
    records, through a real collector and a real syslog sender on loopback."""
    lb = make_lb()
    add_appliance(sessions, "mine-0", lb["id"])
    agent = FakeAgent()
    agent.buffer = LogBuffer(capacity=3)  # per appliance: the oldest go first
    sender = SyslogSender(Target("udp", "127.0.0.1", udp_receiver.getsockname()[1]))
    collector = LogCollector(
        sessions, agent, lambda: T0.replace(tzinfo=None), flow_targets=[sender]
    )
    control = ControlPlaneMetrics()
    control.include(collector.families)
    for second in range(5):
        agent.flow("mine-0", second, 200, "198.51.100.7")  # two evicted before being read
    agent.flow("spare-0", 9, 200, "198.51.100.7")  # serves no load balancer
    agent.buffer.add(None, "agent", T0, "info", "agent started")
    sender.start()
    try:
        assert collector.poll_once() == 5
        assert len([udp_receiver.recv(2000) for _ in range(3)]) == 3
    finally:
        sender.stop()
    app = create_app(
        ApiSettings(auth="noauth"),
        sessions,
        lambda _: None,
        services=Services(control_metrics=control),
    )
    found = families_of(TestClient(app, headers={"X-Roles": "admin"}).get("/metrics").text)

    def values(name: str, label: str) -> dict[str, float]:
        assert found[name].type == "counter"
        return {s.labels[label]: s.value for s in found[name].samples if s.name.endswith("_total")}

    assert values("steelyard_log_records_stored", "kind") == {"flow": 3, "admin": 1}
    lost = values("steelyard_log_records_lost", "reason")
    assert lost == {"agent_buffer_full": 2, "no_loadbalancer": 1}
    assert values("steelyard_log_offload_messages", "outcome") == {"sent": 3, "dropped": 0}
    offload_labels = samples(found["steelyard_log_offload_messages"])[0][0]
    assert offload_labels["target"] == str(sender.target) and offload_labels["stream"] == "flow"
    assert found["steelyard_log_rows_pruned"].samples[0].value == 0

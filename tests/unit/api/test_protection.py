"""A tenant's protection settings on its listeners (issue 5), and what applies once the
operator's layers are merged in."""

from collections.abc import Callable
from typing import Any

import pytest
from starlette.testclient import TestClient

from steelyard.db import models
from steelyard.model.listener_protection import HTTP_ONLY
from tests.unit.api.conftest import OTHER, Factory, Json, MakeClient, created

LbRow = Callable[[str], models.LoadBalancer]
LISTENERS = "/v2/lbaas/listeners"
RATE = {"req_rate_per_source": 1000, "req_rate_period_s": 1}


def put(client: TestClient, listener_id: str, fields: Json) -> Any:
    return client.put(f"{LISTENERS}/{listener_id}", json={"listener": fields})


def shown(client: TestClient, listener_id: str) -> Json:
    body: Json = client.get(f"{LISTENERS}/{listener_id}").json()["listener"]
    return body


@pytest.fixture
def admin(make_client: MakeClient) -> TestClient:
    return make_client(project=None)


def test_settings_are_kept_as_given_and_show_what_applies(
    make_lb: Factory, make_listener: Factory, client: TestClient
) -> None:
    lb = make_lb()

    listener = make_listener(lb["id"], protection={**RATE, "deny_cidrs": ["2001:db8::/32"]})

    assert listener["protection"] == {**RATE, "deny_cidrs": ["2001:db8::/32"]}
    effective = listener["effective_protection"]
    assert (effective["req_rate_per_source"], effective["req_rate_period_s"]) == (1000, 1)
    assert effective["deny_cidrs"] == ["2001:db8::/32"]
    assert effective["action"] == "http_429" and effective["max_conn_per_source"] is None
    assert shown(client, listener["id"]) == listener
    listed = client.get(f"{LISTENERS}?fields=id,protection").json()["listeners"]
    assert listed == [{"id": listener["id"], "protection": listener["protection"]}]


def test_without_settings_nothing_is_limited(make_lb: Factory, make_listener: Factory) -> None:
    listener = make_listener(make_lb()["id"])

    assert listener["protection"] is None
    assert listener["effective_protection"] is None


def test_update_replaces_the_whole_object_and_null_or_empty_clears_it(
    make_lb: Factory, make_listener: Factory, client: TestClient
) -> None:
    listener = make_listener(make_lb()["id"], protection=RATE)
    ident = listener["id"]

    replaced = put(client, ident, {"protection": {"max_conn_per_source": 5}})
    assert replaced.json()["listener"]["protection"] == {"max_conn_per_source": 5}
    renamed = put(client, ident, {"name": "web"})
    assert renamed.json()["listener"]["protection"] == {"max_conn_per_source": 5}
    cleared: Json | None
    for cleared in (None, {}):
        assert put(client, ident, {"protection": {"max_connections": 9}}).status_code == 200
        response = put(client, ident, {"protection": cleared})
        assert response.status_code == 200, response.text
        assert response.json()["listener"]["protection"] is None
        assert shown(client, ident)["effective_protection"] is None


def test_every_change_bumps_the_generation_and_wakes_the_reconciler(
    make_lb: Factory,
    make_listener: Factory,
    client: TestClient,
    settle: Callable[[], None],
    lb_row: LbRow,
    notified: list[str],
) -> None:
    lb = make_lb()
    listener = make_listener(lb["id"])
    settle()
    before = lb_row(lb["id"]).desired_generation
    notified.clear()

    assert put(client, listener["id"], {"protection": RATE}).status_code == 200
    assert put(client, listener["id"], {"protection": None}).status_code == 200

    row = lb_row(lb["id"])
    assert (row.desired_generation, row.provisioning_status) == (before + 2, "PENDING_UPDATE")
    assert notified == [lb["id"], lb["id"]]
    assert shown(client, listener["id"])["provisioning_status"] == "PENDING_UPDATE"


def test_a_tenant_cannot_loosen_an_operator_override(
    make_lb: Factory, make_listener: Factory, client: TestClient, admin: TestClient
) -> None:
    lb = make_lb()
    listener = make_listener(lb["id"], protection=RATE)
    override = {"req_rate_per_source": 100, "req_rate_period_s": 10}
    path = f"/v2/operator/loadbalancers/{lb['id']}/protection"
    assert admin.put(path, json={"protection": override}).status_code == 200

    for tenant in (RATE, {"req_rate_per_source": 10_000_000, "req_rate_period_s": 1}, None):
        response = put(client, listener["id"], {"protection": tenant})
        body = response.json()["listener"]
        assert body["protection"] == tenant  # their own, as given
        effective = body["effective_protection"]
        assert (effective["req_rate_per_source"], effective["req_rate_period_s"]) == (100, 10)


def test_deployment_defaults_fill_what_the_tenant_leaves_out(
    make_lb: Factory, make_listener: Factory, admin: TestClient
) -> None:
    defaults = {"max_conn_per_source": 50, "action": "reject"}
    assert admin.put("/v2/operator/protection/defaults", json={"protection": defaults}).is_success
    lb = make_lb()

    plain = make_listener(lb["id"])["effective_protection"]
    stricter = make_listener(lb["id"], protocol_port=81, protection={"max_conn_per_source": 10})
    looser = make_listener(lb["id"], protocol_port=82, protection={"max_conn_per_source": 100})

    assert (plain["max_conn_per_source"], plain["action"]) == (50, "reject")
    assert stricter["effective_protection"]["max_conn_per_source"] == 10
    assert looser["effective_protection"]["max_conn_per_source"] == 100  # defaults, not limits


@pytest.mark.parametrize("field", HTTP_ONLY)
def test_tcp_listeners_refuse_settings_that_need_http(
    make_lb: Factory, client: TestClient, field: str
) -> None:
    values: dict[str, Any] = {
        "req_rate_period_s": {"req_rate_per_source": 5, "req_rate_period_s": 5},
        "trusted_proxies": {"trusted_proxies": ["192.0.2.0/24"]},
        "max_header_bytes": {"max_header_bytes": 8192},
        "max_body_bytes": {"max_body_bytes": 8192},
        "http_request_timeout_ms": {"http_request_timeout_ms": 5000},
    }
    protection = values.get(field, {field: 5})
    body = {"loadbalancer_id": make_lb()["id"], "protocol": "TCP", "protocol_port": 22}

    response = client.post(LISTENERS, json={"listener": {**body, "protection": protection}})

    assert response.status_code == 400
    text = response.json()["faultstring"]
    assert "listener.protection" in text and "needs an HTTP listener" in text
    assert any(name in text.split("'. ")[-1] for name in protection)


@pytest.mark.parametrize("action", ["http_429", "tarpit"])
def test_tcp_listeners_only_reject(
    make_lb: Factory, make_listener: Factory, client: TestClient, action: str
) -> None:
    lb = make_lb()
    body = {"loadbalancer_id": lb["id"], "protocol": "TCP", "protocol_port": 22}
    response = client.post(LISTENERS, json={"listener": {**body, "protection": {"action": action}}})
    assert response.status_code == 400
    assert f"action {action} needs an HTTP listener" in response.json()["faultstring"]

    listener = make_listener(lb["id"], protocol="TCP", protocol_port=22)
    update = put(client, listener["id"], {"protection": {"action": action}})
    assert update.status_code == 400
    assert update.json()["faultstring"].startswith("Validation failure: protection: action")
    assert shown(client, listener["id"])["protection"] is None


def test_tcp_listeners_enforce_the_connection_settings_of_every_layer(
    make_lb: Factory, make_listener: Factory, admin: TestClient
) -> None:
    http_defaults = {"req_rate_per_source": 10, "max_body_bytes": 4096, "action": "tarpit"}
    admin.put("/v2/operator/protection/defaults", json={"protection": http_defaults})
    lb = make_lb()
    tcp = {"max_conn_per_source": 7, "action": "reject", "allow_cidrs": ["198.51.100.0/24"]}

    listener = make_listener(lb["id"], protocol="TCP", protocol_port=22, protection=tcp)
    quiet = make_listener(lb["id"], protocol="TCP", protocol_port=23)

    effective = listener["effective_protection"]
    assert effective["max_conn_per_source"] == 7 and effective["action"] == "reject"
    assert effective["allow_cidrs"] == ["198.51.100.0/24"]
    assert effective["req_rate_per_source"] is None and effective["max_body_bytes"] is None
    assert quiet["effective_protection"] is None  # the defaults name nothing TCP can enforce


def test_fully_populated_create_takes_protection_and_refuses_it_whole(
    client: TestClient, row_counts: Callable[[], dict[str, int]], notified: list[str]
) -> None:
    listeners = [
        {"protocol": "HTTP", "protocol_port": 80, "protection": RATE},
        {"protocol": "TCP", "protocol_port": 22, "protection": {"max_connections": 100}},
    ]
    lb = created(
        client.post("/v2/lbaas/loadbalancers", json={"loadbalancer": {"listeners": listeners}}),
        "loadbalancer",
    )
    http, tcp = sorted(lb["listeners"], key=lambda li: -li["protocol_port"])
    assert (http["protection"], tcp["protection"]) == (RATE, {"max_connections": 100})
    assert tcp["effective_protection"]["max_connections"] == 100
    before, calls = row_counts(), list(notified)

    listeners[1]["protection"] = RATE
    refused = client.post(
        "/v2/lbaas/loadbalancers", json={"loadbalancer": {"listeners": listeners}}
    )

    assert refused.status_code == 400
    assert "loadbalancer.listeners[1].protection" in refused.json()["faultstring"]
    assert row_counts() == before and notified == calls


def test_other_projects_listeners_are_not_found_and_readers_cannot_write(
    make_lb: Factory, make_listener: Factory, make_client: MakeClient, client: TestClient
) -> None:
    listener = make_listener(make_lb()["id"], protection=RATE)
    stranger = make_client(project=OTHER)
    reader = make_client(roles="reader")

    assert stranger.get(f"{LISTENERS}/{listener['id']}").status_code == 404
    assert put(stranger, listener["id"], {"protection": None}).status_code == 404
    assert put(reader, listener["id"], {"protection": None}).status_code == 403
    assert shown(reader, listener["id"])["protection"] == RATE

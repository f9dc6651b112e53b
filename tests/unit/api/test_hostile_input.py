"""Whatever a client sends, it gets a 4xx with a faultstring and nothing is half-written."""

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from starlette.testclient import TestClient

from steelyard.api.app import create_app
from steelyard.api.errors import install_error_handlers
from steelyard.api.settings import ApiSettings
from steelyard.db.engine import make_engine, make_sessionmaker, sqlite_url
from tests.unit.api.conftest import Factory, Json

LBS = "/v2/lbaas/loadbalancers"
Counts = Callable[[], dict[str, int]]
MISSING = "6a2d7b2e-0000-4000-8000-000000000000"


def assert_fault(response: Any, status: int) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"faultcode", "faultstring", "debuginfo"}
    assert body["faultcode"] == ("Server" if status >= 500 else "Client")
    assert isinstance(body["faultstring"], str) and body["faultstring"]
    assert response.headers["x-openstack-request-id"].startswith("req-")
    return str(body["faultstring"])


RAW_BODIES = [
    b"",
    b"{",
    b"not json",
    b"null",
    b"[]",
    b'"loadbalancer"',
    b"{}",
    b'{"loadbalancer": null}',
    b'{"loadbalancer": []}',
    b'{"loadbalancer": {}, "extra": 1}',
    b'{"lb": {}}',
    b"\xff\xfe",
    b'{"loadbalancer": {"name": "\\u0000"}}',
]


@pytest.mark.parametrize("raw", RAW_BODIES)
def test_malformed_bodies(
    client: TestClient, row_counts: Counts, notified: list[str], raw: bytes
) -> None:
    before = row_counts()

    assert_fault(client.post(LBS, content=raw), 400)
    assert row_counts() == before and notified == []


LB_FIELDS = [
    {"name": "x" * 256},
    {"description": "x" * 256},
    {"name": "line\nbreak"},
    {"name": "nul\x00byte"},
    {"name": "bell\x07"},
    {"name": 5},
    {"name": ["a"]},
    {"admin_state_up": "true"},
    {"admin_state_up": 1},
    {"tags": "a"},
    {"tags": [1]},
    {"tags": ["x"] * 101},
    {"vip_address": "198.18.0.10\n"},
    {"vip_address": "198.18.0.10 # comment"},
    {"vip_subnet_id": "../../etc/passwd"},
    {"vip_subnet_id": f"{MISSING}\n"},
    {"vip_network_id": "1' OR '1'='1"},
    {"project_id": "a b"},
    {"project_id": "x" * 300},
    {"color": "red"},
    {"listeners": [{"protocol": "HTTP", "protocol_port": "80a"}]},
    {"listeners": [{"protocol": "HTTP", "protocol_port": " 80"}]},
    {"listeners": [{"protocol": "HTTP", "protocol_port": "99999999999999999999"}]},
    {"listeners": [{"protocol": "HTTP", "protocol_port": 80.0}]},
    {"listeners": [{"protocol": "HTTP", "protocol_port": True}]},
    {"listeners": [{"protocol": "HTTP", "protocol_port": -1}]},
    {"listeners": [{"protocol": "HTTP", "protocol_port": 2**64}]},
    {"listeners": [{"protocol": "HTTP", "protocol_port": 80, "connection_limit": -2}]},
    {"listeners": [{"protocol": "HTTP", "protocol_port": 80, "connection_limit": 2**31}]},
    {"listeners": [{"protocol": "HTTP", "protocol_port": 80, "timeout_client_data": 10**12}]},
    {"listeners": [{"protocol": "http", "protocol_port": 80}]},
    {"listeners": {"protocol": "HTTP", "protocol_port": 80}},
    {"pools": [{"name": "p", "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN", "x": 1}]},
]


@pytest.mark.parametrize("fields", LB_FIELDS)
def test_rejected_load_balancers(
    client: TestClient, row_counts: Counts, notified: list[str], fields: Json
) -> None:
    before = row_counts()

    text = assert_fault(client.post(LBS, json={"loadbalancer": fields}), 400)

    assert len(text) < 400  # never echoes huge input
    assert "\n" not in text and "\x00" not in text
    assert row_counts() == before and notified == []


@pytest.mark.parametrize(
    "name", ['quote\'s "double"', "#hash", "back\\slash", "${HOME}", "ünï€ode"]
)
def test_free_text_names_are_kept_verbatim(make_lb: Factory, client: TestClient, name: str) -> None:
    lb = make_lb(name=name, description=name)

    assert client.get(f"{LBS}/{lb['id']}").json()["loadbalancer"]["name"] == name


def test_longest_name_is_accepted(make_lb: Factory) -> None:
    assert make_lb(name="x" * 255)["name"] == "x" * 255


@pytest.mark.parametrize(
    "ident", ["not-a-uuid", MISSING, "x" * 5000, "%00", "..", "' OR 1=1 --", "%0Aevil"]
)
def test_unknown_ids_in_paths_are_not_found(client: TestClient, ident: str) -> None:
    for path in (
        f"{LBS}/{ident}",
        f"/v2/lbaas/pools/{ident}/members",
        f"/v2/lbaas/listeners/{ident}",
    ):
        text = assert_fault(client.get(path), 404)
        assert len(text) < 200 and "\n" not in text


def test_child_bodies_with_bad_parent_ids(client: TestClient, make_lb: Factory) -> None:
    lb = make_lb()
    listener = {"protocol": "HTTP", "protocol_port": 80}
    assert_fault(
        client.post(
            "/v2/lbaas/listeners", json={"listener": {**listener, "loadbalancer_id": "abc"}}
        ),
        400,
    )
    assert_fault(
        client.post(
            "/v2/lbaas/listeners", json={"listener": {**listener, "loadbalancer_id": MISSING}}
        ),
        404,
    )
    assert_fault(client.post("/v2/lbaas/listeners", json={"listener": listener}), 400)
    upper = {**listener, "loadbalancer_id": lb["id"].upper()}
    assert client.post("/v2/lbaas/listeners", json={"listener": upper}).status_code == 201


def test_unknown_routes_and_methods(client: TestClient) -> None:
    assert assert_fault(client.get("/v2/lbaas/nothing"), 404) == "The resource could not be found."
    assert_fault(client.patch(LBS, json={}), 405)
    assert_fault(client.delete("/"), 405)


def test_query_parameter_errors_are_400(client: TestClient, make_lb: Factory) -> None:
    lb = make_lb()
    assert_fault(client.delete(f"{LBS}/{lb['id']}?cascade=perhaps"), 400)
    assert_fault(client.put(f"/v2/lbaas/pools/{MISSING}/members?additive_only=2", json={}), 400)


def test_request_too_large(client: TestClient) -> None:
    huge = b'{"loadbalancer": {"name": "' + b"x" * (2 * 1024 * 1024) + b'"}}'
    assert_fault(client.post(LBS, content=huge), 400)


def test_unexpected_errors_say_nothing_about_internals(tmp_path: Path) -> None:
    unmigrated = make_sessionmaker(make_engine(sqlite_url(tmp_path / "empty")))
    (tmp_path / "empty").mkdir()
    client = TestClient(create_app(ApiSettings(auth="noauth"), unmigrated, lambda _: None))
    client.headers["X-Project-Id"] = "p"

    with client:
        response = client.get(LBS)

    text = assert_fault(response, 500)
    assert text == "Internal Server Error"
    assert "sqlite" not in response.text.lower() and "table" not in response.text


def test_framework_validation_errors_are_400_faults() -> None:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/typed/{number}")
    def typed(number: int) -> dict[str, int]:
        return {"number": number}

    with TestClient(app) as client:
        text = assert_fault_body(client.get("/typed/seven"), 400)

    assert text.startswith("Invalid input for field/attribute number. Value: 'seven'.")


def assert_fault_body(response: Any, status: int) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["faultcode"] == "Client" and body["debuginfo"] is None
    return str(body["faultstring"])

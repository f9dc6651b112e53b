import base64
from collections.abc import Callable

import pytest
from sqlalchemy.orm import Session, sessionmaker
from starlette.testclient import TestClient

from steelyard.db.apikeys import create_api_key
from tests.unit.api.conftest import OTHER, PROJECT, Factory, Json

MakeClient = Callable[..., TestClient]
LBS = "/v2/lbaas/loadbalancers"


def test_other_projects_objects_are_not_found(
    make_client: MakeClient, make_stack: Callable[[], dict[str, Json]]
) -> None:
    stack = make_stack()
    lb, listener, pool = stack["lb"], stack["listener"], stack["pool"]
    stranger = make_client(project=OTHER)

    for path in (
        f"{LBS}/{lb['id']}",
        f"{LBS}/{lb['id']}/status",
        f"{LBS}/{lb['id']}/stats",
        f"/v2/lbaas/listeners/{listener['id']}",
        f"/v2/lbaas/pools/{pool['id']}",
        f"/v2/lbaas/pools/{pool['id']}/members",
    ):
        assert stranger.get(path).status_code == 404, path
    assert stranger.put(f"{LBS}/{lb['id']}", json={"loadbalancer": {}}).status_code == 404
    assert stranger.delete(f"{LBS}/{lb['id']}").status_code == 404
    body = {"loadbalancer_id": lb["id"], "protocol": "TCP", "protocol_port": 81}
    assert stranger.post("/v2/lbaas/listeners", json={"listener": body}).status_code == 404
    assert stranger.get(LBS).json()["loadbalancers"] == []
    assert stranger.get(f"{LBS}?project_id={PROJECT}").json()["loadbalancers"] == []


def test_noauth_without_project_is_an_admin_who_must_name_one(
    make_client: MakeClient, make_lb: Factory
) -> None:
    mine = make_lb()
    admin = make_client(project=None)

    missing = admin.post(LBS, json={"loadbalancer": {}})
    theirs = make_lb(via=admin, project_id=OTHER)

    assert missing.status_code == 400
    assert "Missing project ID" in missing.json()["faultstring"]
    assert theirs["project_id"] == OTHER
    assert {lb["id"] for lb in admin.get(LBS).json()["loadbalancers"]} == {mine["id"], theirs["id"]}
    only = admin.get(f"{LBS}?project_id={OTHER}").json()["loadbalancers"]
    assert [lb["id"] for lb in only] == [theirs["id"]]
    assert admin.get(f"{LBS}/{mine['id']}").status_code == 200


def test_member_cannot_create_for_another_project(client: TestClient, make_lb: Factory) -> None:
    response = client.post(LBS, json={"loadbalancer": {"project_id": OTHER}})

    assert response.status_code == 403
    assert make_lb(project_id=PROJECT)["project_id"] == PROJECT
    lb = make_lb()
    body = {"loadbalancer_id": lb["id"], "protocol": "TCP", "protocol_port": 1, "project_id": OTHER}
    assert client.post("/v2/lbaas/listeners", json={"listener": body}).status_code == 403


def test_reader_role_only_reads(make_client: MakeClient, make_lb: Factory) -> None:
    lb = make_lb()
    reader = make_client(roles="reader")

    assert reader.get(f"{LBS}/{lb['id']}").status_code == 200
    refused = reader.post(LBS, json={"loadbalancer": {}})
    assert refused.status_code == 403
    assert refused.json()["faultstring"] == "Policy does not allow this request to be performed."
    assert reader.delete(f"{LBS}/{lb['id']}").status_code == 403
    assert make_client(roles="admin").get(LBS).status_code == 200


def test_noauth_ignores_tokens_and_checks_the_project_header(make_client: MakeClient) -> None:
    assert make_client(token="notused").post(LBS, json={"loadbalancer": {}}).status_code == 201
    assert make_client(project="bad project").get(LBS).status_code == 400


@pytest.fixture
def key(sessions: sessionmaker[Session]) -> Callable[[str, str], str]:
    def make(project: str, role: str) -> str:
        with sessions.begin() as session:
            return create_api_key(session, project, role, "test")

    return make


def test_keys_require_a_valid_key(make_client: MakeClient, key: Callable[[str, str], str]) -> None:
    token = key(PROJECT, "member")
    anonymous = make_client(auth="keys")
    anonymous.headers.pop("X-Project-Id")

    missing = anonymous.get(LBS)
    assert missing.status_code == 401
    assert missing.json()["faultcode"] == "Client" and missing.json()["faultstring"]
    assert missing.headers["x-openstack-request-id"].startswith("req-")
    for bad in ("notused", token[:-1] + ("A" if token[-1] != "A" else "B"), "sy_x.y"):
        assert make_client(auth="keys", project=None, token=bad).get(LBS).status_code == 401
    assert anonymous.get("/").status_code == 200  # version discovery needs no key

    member = make_client(auth="keys", project=None, token=token)
    created = member.post(LBS, json={"loadbalancer": {}})
    assert created.status_code == 201
    assert created.json()["loadbalancer"]["project_id"] == PROJECT


def test_keys_over_http_basic_and_roles(
    make_client: MakeClient, key: Callable[[str, str], str], make_lb: Factory
) -> None:
    theirs = make_lb(via=make_client(project=OTHER))
    reader = make_client(auth="keys", project=None)
    basic = base64.b64encode(f"anyone:{key(PROJECT, 'reader')}".encode()).decode()
    reader.headers["Authorization"] = f"Basic {basic}"
    admin = make_client(auth="keys", project=None, token=key("ops", "admin"))
    spoofed = make_client(auth="keys", project=OTHER, token=key(PROJECT, "member"))

    assert reader.get(LBS).status_code == 200
    assert reader.post(LBS, json={"loadbalancer": {}}).status_code == 403
    assert admin.get(f"{LBS}/{theirs['id']}").status_code == 200
    assert admin.post(LBS, json={"loadbalancer": {}}).json()["loadbalancer"]["project_id"] == "ops"
    assert spoofed.get(f"{LBS}/{theirs['id']}").status_code == 404  # X-Project-Id means nothing

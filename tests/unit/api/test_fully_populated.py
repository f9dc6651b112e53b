"""One POST with listeners, pools, members and health monitors; all of it or nothing."""

from collections.abc import Callable
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.unit.api.conftest import Json

Counts = Callable[[], dict[str, int]]


def tree() -> Json:
    return {
        "name": "full",
        "listeners": [
            {
                "name": "http",
                "protocol": "HTTP",
                "protocol_port": 80,
                "insert_headers": {"X-Forwarded-For": "TRUE"},
                "default_pool": {"name": "web"},
            },
            {
                "name": "alt",
                "protocol": "HTTP",
                "protocol_port": 8080,
                "default_pool": {"name": "web"},
            },
            {
                "name": "tcp",
                "protocol": "TCP",
                "protocol_port": 5432,
                "default_pool": {
                    "protocol": "TCP",
                    "lb_algorithm": "SOURCE_IP",
                    "members": [{"address": "192.0.2.30", "protocol_port": 5432}],
                },
            },
        ],
        "pools": [
            {
                "name": "web",
                "protocol": "HTTP",
                "lb_algorithm": "LEAST_CONNECTIONS",
                "session_persistence": {"type": "APP_COOKIE", "cookie_name": "SESSION"},
                "healthmonitor": {
                    "type": "HTTP",
                    "delay": 5,
                    "timeout": 3,
                    "max_retries": 2,
                    "url_path": "/healthz",
                },
                "members": [
                    {"address": "192.0.2.10", "protocol_port": 8000},
                    {"address": "192.0.2.11", "protocol_port": 8000, "weight": 0},
                ],
            },
            {"name": "spare", "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN"},
        ],
    }


def post(client: TestClient, body: Json) -> Any:
    return client.post("/v2/lbaas/loadbalancers", json={"loadbalancer": body})


def test_creates_the_whole_tree_and_returns_it_expanded(
    client: TestClient, notified: list[str]
) -> None:
    response = post(client, tree())

    assert response.status_code == 201, response.text
    lb = response.json()["loadbalancer"]
    assert notified == [lb["id"]]
    listeners = {li["name"]: li for li in lb["listeners"]}
    pools = {p["name"]: p for p in lb["pools"]}
    assert set(pools) == {"web", "spare", ""}
    web = pools["web"]
    assert listeners["http"]["default_pool_id"] == listeners["alt"]["default_pool_id"] == web["id"]
    assert listeners["http"]["insert_headers"] == {"X-Forwarded-For": "true"}
    assert listeners["tcp"]["default_pool_id"] == pools[""]["id"]
    assert "loadbalancers" not in listeners["http"]
    assert {member["address"] for member in web["members"]} == {"192.0.2.10", "192.0.2.11"}
    assert {m["operating_status"] for m in web["members"]} == {"OFFLINE"}  # monitored
    assert pools[""]["members"][0]["operating_status"] == "NO_MONITOR"
    monitor = web["healthmonitor"]
    assert (monitor["http_method"], monitor["url_path"], monitor["expected_codes"]) == (
        "GET",
        "/healthz",
        "200",
    )
    assert web["session_persistence"]["cookie_name"] == "SESSION"
    assert {li["id"] for li in web["listeners"]} == {
        listeners["http"]["id"],
        listeners["alt"]["id"],
    }
    statuses = {li["provisioning_status"] for li in lb["listeners"]}
    assert statuses == {"PENDING_CREATE"}

    shown = client.get(f"/v2/lbaas/loadbalancers/{lb['id']}").json()["loadbalancer"]
    assert len(shown["listeners"]) == 3 and set(shown["listeners"][0]) == {"id"}


def broken(mutate: Callable[[Json], None]) -> Json:
    body = tree()
    mutate(body)
    return body


def _member_subnet(body: Json) -> None:
    body["pools"][0]["members"][1]["subnet_id"] = "6a2d7b2e-0000-4000-8000-000000000000"


def _set(path: list[Any], value: Any) -> Callable[[Json], None]:
    def mutate(body: Json) -> None:
        target = body
        for step in path[:-1]:
            target = target[step]
        target[path[-1]] = value

    return mutate


REJECTED = [
    ("last listener protocol", _set(["listeners", 2, "protocol"], "UDP"), 400),
    ("duplicate port", _set(["listeners", 1, "protocol_port"], 80), 409),
    ("undefined pool name", _set(["listeners", 0, "default_pool"], {"name": "nope"}), 400),
    ("protocol mismatch", _set(["listeners", 2, "protocol"], "HTTP"), 400),  # on a TCP pool
    ("unnamed top-level pool", _set(["pools", 1, "name"], None), 400),
    ("pool defined twice", _set(["pools", 1, "name"], "web"), 400),
    (
        "default_pool_id",
        _set(["listeners", 0, "default_pool_id"], "6a2d7b2e-0000-4000-8000-000000000000"),
        400,
    ),
    ("unknown member subnet", _member_subnet, 400),
    ("member weight out of range", _set(["pools", 0, "members", 1, "weight"], 300), 400),
    (
        "same member twice",
        _set(["pools", 0, "members", 1], {"address": "192.0.2.10", "protocol_port": 8000}),
        409,
    ),
    ("bad url_path", _set(["pools", 0, "healthmonitor", "url_path"], "/x\ny"), 400),
    ("unknown attribute deep down", _set(["pools", 0, "members", 0, "color"], "red"), 400),
    ("half a pool definition", _set(["pools", 1, "lb_algorithm"], None), 400),
]


@pytest.mark.parametrize(
    ("mutate", "status"), [(m, s) for _, m, s in REJECTED], ids=[n for n, _, _ in REJECTED]
)
def test_a_rejected_tree_leaves_nothing_behind(
    client: TestClient,
    row_counts: Counts,
    notified: list[str],
    mutate: Callable[[Json], None],
    status: int,
) -> None:
    before = row_counts()

    response = post(client, broken(mutate))

    assert response.status_code == status, response.text
    assert response.json()["faultstring"]
    assert row_counts() == before
    assert client.get("/v2/lbaas/loadbalancers").json()["loadbalancers"] == []
    assert notified == []

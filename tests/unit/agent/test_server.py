"""The agent's HTTP surface without HAProxy: names, 404s, request validation, records on disk.

The HAProxy binary is a path that does not exist, so no process is ever started here.
"""

import json
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from steelyard.agent.server import create_agent_app

with warnings.catch_warnings():
    # Starlette 1.x would rather use httpx2, which is not a dependency; the httpx one works.
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient


@pytest.fixture
def state_dir(short_tmp: Path) -> Path:
    return short_tmp / "state"


@pytest.fixture
def api(state_dir: Path) -> Iterator[TestClient]:
    app = create_agent_app(state_dir, haproxy_bin=Path("/nonexistent/haproxy"))
    with TestClient(app) as client:
        yield client


def test_info_lists_appliances(api: TestClient) -> None:
    assert api.put("/v1/appliances/a1").status_code == 200
    body = api.get("/v1/info").json()
    assert body["appliances"] == ["a1"]
    assert body["haproxy_version"] == "unknown"


def test_ensure_is_idempotent_and_records_the_appliance(api: TestClient, state_dir: Path) -> None:
    first = api.put("/v1/appliances/a1", json={"netns": None}).json()
    second = api.put("/v1/appliances/a1").json()
    assert first == second
    assert first["running"] is False
    assert first["paths"]["stats_socket"] == str(state_dir / "appliances/a1/stats.sock")
    meta = json.loads((state_dir / "appliances/a1/appliance.json").read_text())
    assert meta == {"netns": None, "heartbeat_to": []}


def test_heartbeat_targets_are_kept_and_replaced(api: TestClient, state_dir: Path) -> None:
    targets = ["198.18.0.1:5555", "[fd00::1]:5555"]
    assert api.put("/v1/appliances/a1", json={"heartbeat_to": targets}).status_code == 200
    meta_file = state_dir / "appliances/a1/appliance.json"
    assert json.loads(meta_file.read_text())["heartbeat_to"] == targets
    registry = api.app.state.registry  # type: ignore[attr-defined]
    assert [(a.name, t) for a, t in registry.heartbeat_targets()] == [("a1", tuple(targets))]
    assert api.put("/v1/appliances/a1", json={"heartbeat_to": targets[:1]}).status_code == 200
    assert json.loads(meta_file.read_text())["heartbeat_to"] == targets[:1]
    assert api.put("/v1/appliances/a1").status_code == 200
    assert registry.heartbeat_targets() == []


@pytest.mark.parametrize(
    "targets",
    [
        ["198.18.0.1"],
        ["host.example:5555"],
        ["198.18.0.1:0"],
        ["198.18.0.1:65536"],
        ["fd00::1:5555"],
        ["198.18.0.1:5555\n"],
        ["198.18.0.1:5555 ; rm -rf /"],
        [5555],
        "198.18.0.1:5555",
        ["198.18.0.1:5555"] * 9,
        ["x" * 100_000],
    ],
)
def test_hostile_heartbeat_targets_are_422_and_create_nothing(
    api: TestClient, state_dir: Path, targets: object
) -> None:
    response = api.put("/v1/appliances/a1", json={"heartbeat_to": targets})
    assert response.status_code == 422, response.text
    assert not (state_dir / "appliances/a1").exists()


def test_unknown_appliance_is_404(api: TestClient) -> None:
    assert api.get("/v1/appliances/a1").status_code == 404
    assert api.delete("/v1/appliances/a1").status_code == 404
    assert api.get("/v1/appliances/a1/stats").status_code == 404
    body = {"generation": 1, "haproxy_cfg": "global\n"}
    assert api.put("/v1/appliances/a1/config", json=body).status_code == 404


@pytest.mark.parametrize(
    "path",
    [
        "/v1/appliances/..%2Fx",
        "/v1/appliances/%2E%2E",
        "/v1/appliances/a%0Ab",
        "/v1/appliances/a%0A",
        "/v1/appliances/" + "x" * 41,
        "/v1/appliances/UPPER",
        "/v1/appliances/a/b/c",
    ],
)
def test_hostile_names_are_400_and_create_nothing(
    api: TestClient, state_dir: Path, path: str
) -> None:
    for method in ("GET", "PUT", "DELETE"):
        assert api.request(method, path).status_code == 400, method
    assert list((state_dir / "appliances").iterdir()) == []
    assert sorted(p.name for p in state_dir.iterdir()) == ["appliances"]


def test_missing_namespace_is_refused(api: TestClient) -> None:
    response = api.put("/v1/appliances/a1", json={"netns": "tb-does-not-exist"})
    assert response.status_code == 400
    assert api.put("/v1/appliances/a1", json={"netns": "../x"}).status_code == 422


@pytest.mark.parametrize(
    "body",
    [
        {"generation": -1, "haproxy_cfg": "global\n"},
        {"generation": 1},
        {"generation": 1, "haproxy_cfg": "global\n", "verify_listeners": ["nohost"]},
    ],
)
def test_malformed_apply_is_422(api: TestClient, body: dict[str, object]) -> None:
    api.put("/v1/appliances/a1")
    assert api.put("/v1/appliances/a1/config", json=body).status_code == 422


def test_stats_of_a_stopped_appliance_is_409(api: TestClient) -> None:
    api.put("/v1/appliances/a1")
    assert api.get("/v1/appliances/a1/stats").status_code == 409


def test_delete_removes_the_files(api: TestClient, state_dir: Path) -> None:
    api.put("/v1/appliances/a1")
    assert api.delete("/v1/appliances/a1").status_code == 204
    assert not (state_dir / "appliances/a1").exists()
    assert api.get("/v1/info").json()["appliances"] == []


def test_appliances_are_found_again_by_a_new_app(state_dir: Path) -> None:
    bin_path = Path("/nonexistent/haproxy")
    with TestClient(create_agent_app(state_dir, haproxy_bin=bin_path)) as client:
        client.put("/v1/appliances/a1")
    with TestClient(create_agent_app(state_dir, haproxy_bin=bin_path)) as client:
        assert client.get("/v1/appliances/a1").status_code == 200


def test_state_dir_too_long_for_sockets_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="too long"):
        create_agent_app(tmp_path / ("d" * 80))

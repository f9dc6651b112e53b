"""The API through real HTTP: uvicorn on a free 127.0.0.1 port, in a thread."""

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from sqlalchemy.orm import Session, sessionmaker

from steelyard.api.app import create_app
from steelyard.api.settings import ApiSettings
from steelyard.db.apikeys import create_api_key
from steelyard.db.engine import make_engine, make_sessionmaker, sqlite_url
from steelyard.db.migrate import upgrade
from steelyard.db.networks import ensure_default_network


@pytest.fixture
def sessions(tmp_path: Path) -> sessionmaker[Session]:
    engine = make_engine(sqlite_url(tmp_path))
    upgrade(engine)
    sessions = make_sessionmaker(engine)
    with sessions.begin() as session:
        ensure_default_network(session, "public", "198.18.0.0/24", "loopback", None)
    return sessions


@pytest.fixture
def notified() -> list[str]:
    return []


@pytest.fixture
def url(sessions: sessionmaker[Session], notified: list[str]) -> Iterator[str]:
    app = create_app(ApiSettings(auth="keys"), sessions, notified.append)
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, log_level="warning", lifespan="off", ws="none"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def test_load_balancer_life_over_http(
    url: str, sessions: sessionmaker[Session], notified: list[str]
) -> None:
    with sessions.begin() as session:
        token = create_api_key(session, "web-team", "member")

    with httpx.Client(base_url=url, timeout=10) as anonymous:
        versions = anonymous.get("/")
        refused = anonymous.get("/v2/lbaas/loadbalancers")
    assert versions.json()["versions"][0]["links"][0]["href"] == f"{url}/v2"
    assert refused.status_code == 401
    assert refused.json()["faultcode"] == "Client"

    with httpx.Client(base_url=url, timeout=10, headers={"X-Auth-Token": token}) as api:
        created = api.post("/v2.0/lbaas/loadbalancers", json={"loadbalancer": {"name": "web"}})
        assert created.status_code == 201
        lb = created.json()["loadbalancer"]
        assert created.headers["x-openstack-request-id"].startswith("req-")
        listener = {"loadbalancer_id": lb["id"], "protocol": "HTTP", "protocol_port": 80}
        assert api.post("/v2/lbaas/listeners", json={"listener": listener}).status_code == 201
        listed = api.get("/v2/lbaas/loadbalancers").json()["loadbalancers"]
        bad = api.post("/v2/lbaas/loadbalancers", content=b"{nope")
        deleted = api.delete(f"/v2/lbaas/loadbalancers/{lb['id']}?cascade=true")

    assert [item["project_id"] for item in listed] == ["web-team"]
    assert listed[0]["listeners"] != []
    assert bad.status_code == 400 and "Invalid JSON" in bad.json()["faultstring"]
    assert deleted.status_code == 204
    assert notified == [lb["id"]] * 3

"""An API app on a real, migrated SQLite file; one client per test, notify calls recorded."""

import shutil
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from steelyard.api.app import create_app
from steelyard.api.settings import ApiSettings
from steelyard.db import models
from steelyard.db.engine import make_engine, make_sessionmaker, sqlite_url
from steelyard.db.migrate import upgrade
from steelyard.db.networks import ensure_default_network

with warnings.catch_warnings():
    # Starlette 1.x would rather use httpx2, which is not a dependency here; the
    # httpx-based TestClient still works.
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

PROJECT = "p-alpha"
OTHER = "p-beta"
MakeClient = Callable[..., TestClient]


@pytest.fixture(scope="session")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A freshly migrated database file, copied for each test (migrating takes a while)."""
    state = tmp_path_factory.mktemp("migrated")
    engine = make_engine(sqlite_url(state))
    upgrade(engine)
    engine.dispose()
    return state / "steelyard.db"


@pytest.fixture
def engine(tmp_path: Path, migrated: Path) -> Iterator[Engine]:
    shutil.copyfile(migrated, tmp_path / "steelyard.db")
    engine = make_engine(sqlite_url(tmp_path))
    yield engine
    engine.dispose()


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    sessions = make_sessionmaker(engine)
    with sessions.begin() as session:
        ensure_default_network(
            session, name="public", cidr="198.18.0.0/24", kind="loopback", bridge=None
        )
    return sessions


@pytest.fixture
def notified() -> list[str]:
    return []


@pytest.fixture
def make_client(sessions: sessionmaker[Session], notified: list[str]) -> Iterator[MakeClient]:
    clients: list[TestClient] = []

    def make(
        project: str | None = PROJECT,
        roles: str | None = None,
        auth: str = "noauth",
        token: str | None = None,
        **settings: object,
    ) -> TestClient:
        app = create_app(
            ApiSettings(auth=auth, **settings),  # type: ignore[arg-type]
            sessions,
            notified.append,
        )
        client = TestClient(app)
        if project is not None:
            client.headers["X-Project-Id"] = project
        if roles is not None:
            client.headers["X-Roles"] = roles
        if token is not None:
            client.headers["X-Auth-Token"] = token
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def client(make_client: MakeClient) -> TestClient:
    return make_client()


Json = dict[str, Any]
Factory = Callable[..., Json]


def created(response: Any, key: str) -> Json:
    assert response.status_code == 201, response.text
    body: Json = response.json()[key]
    return body


@pytest.fixture
def make_lb(client: TestClient) -> Factory:
    def make(via: TestClient | None = None, **fields: Any) -> Json:
        response = (via or client).post("/v2/lbaas/loadbalancers", json={"loadbalancer": fields})
        return created(response, "loadbalancer")

    return make


@pytest.fixture
def make_listener(client: TestClient) -> Factory:
    def make(lb_id: str, via: TestClient | None = None, **fields: Any) -> Json:
        body = {"loadbalancer_id": lb_id, "protocol": "HTTP", "protocol_port": 80, **fields}
        response = (via or client).post("/v2/lbaas/listeners", json={"listener": body})
        return created(response, "listener")

    return make


@pytest.fixture
def make_pool(client: TestClient) -> Factory:
    def make(via: TestClient | None = None, **fields: Any) -> Json:
        body = {"protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN", **fields}
        response = (via or client).post("/v2/lbaas/pools", json={"pool": body})
        return created(response, "pool")

    return make


@pytest.fixture
def make_member(client: TestClient) -> Factory:
    def make(pool_id: str, via: TestClient | None = None, **fields: Any) -> Json:
        body = {"address": "192.0.2.10", "protocol_port": 8080, **fields}
        response = (via or client).post(f"/v2/lbaas/pools/{pool_id}/members", json={"member": body})
        return created(response, "member")

    return make


@pytest.fixture
def make_hm(client: TestClient) -> Factory:
    def make(pool_id: str, via: TestClient | None = None, **fields: Any) -> Json:
        body = {"pool_id": pool_id, "type": "HTTP", "delay": 5, "timeout": 3, "max_retries": 3}
        response = (via or client).post(
            "/v2/lbaas/healthmonitors", json={"healthmonitor": {**body, **fields}}
        )
        return created(response, "healthmonitor")

    return make


@pytest.fixture
def lb_row(sessions: sessionmaker[Session]) -> Callable[[str], models.LoadBalancer]:
    """The load balancer's row as the reconciler would see it."""

    def read(lb_id: str) -> models.LoadBalancer:
        with sessions() as session:
            return session.get_one(models.LoadBalancer, lb_id)

    return read


@pytest.fixture
def settle(sessions: sessionmaker[Session]) -> Callable[[], None]:
    """Play the reconciler: every PENDING_CREATE/UPDATE row becomes ACTIVE."""

    def run() -> None:
        with sessions.begin() as session:
            for table in (
                models.LoadBalancer,
                models.Listener,
                models.Pool,
                models.Member,
                models.HealthMonitor,
            ):
                session.execute(
                    update(table)
                    .where(table.provisioning_status.in_(["PENDING_CREATE", "PENDING_UPDATE"]))
                    .values(provisioning_status="ACTIVE")
                )

    return run


@pytest.fixture
def row_counts(sessions: sessionmaker[Session]) -> Callable[[], dict[str, int]]:
    tables = (
        models.LoadBalancer,
        models.Listener,
        models.Pool,
        models.Member,
        models.HealthMonitor,
    )

    def count() -> dict[str, int]:
        with sessions() as session:
            return {
                table.__tablename__: session.scalar(select(func.count()).select_from(table)) or 0
                for table in tables
            }

    return count


@pytest.fixture
def make_stack(
    make_lb: Factory,
    make_listener: Factory,
    make_pool: Factory,
    make_member: Factory,
    make_hm: Factory,
) -> Callable[[], dict[str, Json]]:
    """A load balancer with one of each child: listener l1 -> pool p1 -> member and monitor."""

    def make() -> dict[str, Json]:
        lb = make_lb(name="stack")
        listener = make_listener(lb["id"], name="l1")
        pool = make_pool(listener_id=listener["id"], name="p1")
        member = make_member(pool["id"])
        hm = make_hm(pool["id"])
        return {"lb": lb, "listener": listener, "pool": pool, "member": member, "hm": hm}

    return make

"""GET /v1/appliances/{name}/protection without HAProxy (the answer itself is tested against a
real HAProxy in tests/integration/test_protection_haproxy.py), and the client's side of it."""

import ssl
import warnings
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from steelyard.agent.client import AgentClient, AgentError
from steelyard.agent.server import create_agent_app

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

BODY = {
    "listeners": [
        {
            "listener_id": "a0000000-0000-4000-8000-000000000001",
            "rejected": {"deny_cidr": 1, "req_rate": 3},
            "request_errors": 2,
            "tracked_sources": 2,
            "table_size": 1000000,
            "conn_rate_period_s": 10,
            "req_rate_period_s": 30,
            "top_sources": [
                {"address": "127.0.0.2", "conn_cur": 0, "conn_rate": 8, "http_req_rate": 8}
            ],
        }
    ],
    "duration_ms": 1.5,
}


@pytest.fixture
def api(short_tmp: Path) -> Iterator[TestClient]:
    app = create_agent_app(short_tmp / "state", haproxy_bin=Path("/nonexistent/haproxy"))
    with TestClient(app) as client:
        yield client


def test_unknown_appliance_is_404(api: TestClient) -> None:
    assert api.get("/v1/appliances/a1/protection").status_code == 404


def test_stopped_appliance_is_409(api: TestClient) -> None:
    assert api.put("/v1/appliances/a1").status_code == 200
    answer = api.get("/v1/appliances/a1/protection")
    assert answer.status_code == 409
    assert "not running" in answer.json()["detail"]


@pytest.mark.parametrize("name", ["A1", "a..b", "-a", "a" * 41])
def test_bad_name_is_400(api: TestClient, name: str) -> None:
    assert api.get(f"/v1/appliances/{name}/protection").status_code == 400


def _client(handler: httpx.MockTransport) -> AgentClient:
    return AgentClient("https://agent", ssl.create_default_context(), transport=handler)


def test_client_returns_the_listeners() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        return httpx.Response(200, json=BODY)

    with _client(httpx.MockTransport(handler)) as agent:
        [listener] = agent.protection_stats("a1")
    assert seen == ["/v1/appliances/a1/protection"]
    assert listener.rejected["req_rate"] == 3
    assert listener.top_sources[0].http_req_rate == 8
    assert not listener.top_sources_over_limit_only


def test_client_raises_on_409() -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(409, json={"detail": "x"}))
    with _client(transport) as agent, pytest.raises(AgentError) as caught:
        agent.protection_stats("a1")
    assert caught.value.status_code == 409


def test_client_refuses_bad_names() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise AssertionError("no request expected")

    with _client(httpx.MockTransport(handler)) as agent, pytest.raises(ValueError):
        agent.protection_stats("../a1")

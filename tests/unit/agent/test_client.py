"""AgentClient against httpx.MockTransport: status codes to results and exceptions."""

import json
import ssl
from collections.abc import Callable

import httpx
import pytest

from steelyard.agent.client import AgentApplyError, AgentClient, AgentError, AgentUnreachable

Handler = Callable[[httpx.Request], httpx.Response]

INFO = {
    "name": "a1",
    "netns": None,
    "paths": {"stats_socket": "/s/stats.sock", "server_state_file": "/s/server-state"},
    "running": True,
    "generation": 3,
    "config_sha256": "ab" * 32,
    "master_pid": 10,
    "worker_pids": [11],
}


def client(handler: Handler) -> AgentClient:
    context = ssl.create_default_context()
    return AgentClient("https://agent", context, transport=httpx.MockTransport(handler))


def test_apply_sends_the_contract_body_and_parses_the_result() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(
            200,
            json={
                "action": "reloaded",
                "generation": 4,
                "config_sha256": "cd" * 32,
                "runtime_commands": [],
                "duration_ms": 70.5,
            },
        )

    with client(handler) as agent:
        result = agent.apply_config("a1", 4, "global\n", ["127.0.0.1:80"])
    assert result.action == "reloaded"
    assert seen[0].method == "PUT"
    assert seen[0].url.path == "/v1/appliances/a1/config"
    assert json.loads(seen[0].content) == {
        "generation": 4,
        "haproxy_cfg": "global\n",
        "verify_listeners": ["127.0.0.1:80"],
        "files": {},
        "keepalived_cfg": None,
    }


def test_apply_error_carries_the_agents_verdict() -> None:
    error = {"error": "HAProxy rejected the config", "output": "[ALERT] ...", "rolled_back": False}

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, json={**error, "stage": "validate"})

    with client(handler) as agent, pytest.raises(AgentApplyError) as caught:
        agent.apply_config("a1", 4, "bogus\n")
    assert caught.value.error.output == "[ALERT] ..."
    assert caught.value.error.stage == "validate"
    assert caught.value.status_code == 400


def test_other_400_is_a_plain_agent_error() -> None:
    with (
        client(
            lambda request: httpx.Response(400, json={"detail": "invalid appliance name"})
        ) as agent,
        pytest.raises(AgentError) as caught,
    ):
        agent.apply_config("a1", 1, "x")
    assert not isinstance(caught.value, AgentApplyError)


def test_get_appliance_is_none_when_unknown() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/a1"):
            return httpx.Response(200, json=INFO)
        return httpx.Response(404, json={"detail": "no appliance"})

    with client(handler) as agent:
        found = agent.get_appliance("a1")
        assert found is not None
        assert found.worker_pids == [11]
        assert agent.get_appliance("a2") is None


def test_delete_is_idempotent() -> None:
    statuses = iter([204, 404, 500])
    with client(lambda request: httpx.Response(next(statuses))) as agent:
        agent.delete_appliance("a1")
        agent.delete_appliance("a1")
        with pytest.raises(AgentError) as caught:
            agent.delete_appliance("a1")
    assert caught.value.status_code == 500


def test_stats_rows() -> None:
    rows = [{"pxname": "be", "svname": "s1", "status": "UP", "weight": 2}]
    with client(lambda request: httpx.Response(200, json=rows)) as agent:
        assert agent.stats("a1")[0].weight == 2


def test_transport_failure_is_unreachable() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    with client(handler) as agent, pytest.raises(AgentUnreachable):
        agent.info()


@pytest.mark.parametrize("name", ["../x", "a/b", "a\n", "x" * 41])
def test_bad_names_never_become_requests(name: str) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise AssertionError("no request expected")

    with client(handler) as agent, pytest.raises(ValueError):
        agent.get_appliance(name)

"""The shared test helpers in tests/support work as other suites expect."""

import http.client
import json
import os
from collections.abc import Iterator

import pytest

from steelyard.compute.base import ApplianceSlot
from steelyard.compute.netns import NetnsDriver
from steelyard.network.iproute import host_link
from steelyard.network.namespaces import NetnsState, netns_state
from tests.support import BackendNamespace, HttpBackend, VipNetwork, http_get


@pytest.fixture
def local_backend() -> Iterator[HttpBackend]:
    with HttpBackend("local-1") as backend:
        yield backend


def test_http_backend_answers_its_name(local_backend: HttpBackend) -> None:
    response = http_get("127.0.0.1", local_backend.port)
    assert (response.status, response.body) == (200, "local-1\n")
    assert response.headers["X-Backend"] == "local-1"


def test_http_backend_keeps_connections_alive(local_backend: HttpBackend) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", local_backend.port)
    try:
        for _ in range(3):
            conn.request("GET", "/")
            assert conn.getresponse().read() == b"local-1\n"
    finally:
        conn.close()
    assert (local_backend.requests, local_backend.connections) == (3, 1)


def test_http_backend_health_can_fail(local_backend: HttpBackend) -> None:
    assert http_get("127.0.0.1", local_backend.port, "/health").status == 200
    local_backend.healthy = False
    assert http_get("127.0.0.1", local_backend.port, "/health").status == 503
    assert http_get("127.0.0.1", local_backend.port, "/").status == 200


def test_http_backend_echoes_request_headers(local_backend: HttpBackend) -> None:
    echoed = json.loads(http_get("127.0.0.1", local_backend.port, "/echo?x=1").body)
    assert echoed["backend"] == "local-1"
    assert echoed["path"] == "/echo?x=1"
    assert echoed["headers"]["Host"] == f"127.0.0.1:{local_backend.port}"


def test_http_backend_on_ipv6_loopback() -> None:
    with HttpBackend("local-6", host="::1") as backend:
        assert backend.url == f"http://[::1]:{backend.port}"
        assert http_get("::1", backend.port).body == "local-6\n"


def test_http_backend_stop_ends_kept_alive_connections() -> None:
    backend = HttpBackend("local-2")
    conn = http.client.HTTPConnection("127.0.0.1", backend.port)
    try:
        conn.request("GET", "/")
        conn.getresponse().read()
        backend.stop()
        backend.stop()  # idempotent
        with pytest.raises((ConnectionError, http.client.HTTPException)):
            conn.request("GET", "/")
            conn.getresponse()
    finally:
        conn.close()


@pytest.fixture
def member_network() -> Iterator[VipNetwork]:
    with VipNetwork("tc", "198.18.99.0/24") as network:
        yield network


@pytest.fixture
def appliance_netns(member_network: VipNetwork) -> Iterator[str]:
    """An appliance namespace on the member network (the client side of the test)."""
    driver = NetnsDriver("tc")
    placed = driver.ensure(ApplianceSlot("client", member_network.placement()))
    assert placed.netns is not None
    yield placed.netns
    driver.delete("client")


@pytest.mark.root
def test_backend_namespace_is_reachable_from_an_appliance(
    member_network: VipNetwork, appliance_netns: str
) -> None:
    with (
        BackendNamespace.on(member_network, "member-1", "198.18.99.201") as one,
        BackendNamespace.on(member_network, "member-2", "198.18.99.202", port=8080) as two,
    ):
        for backend in (one, two):
            response = http_get(backend.address, backend.port, netns=appliance_netns)
            assert response.headers["X-Backend"] == backend.name
        assert one.url == "http://198.18.99.201:80"


@pytest.mark.root
def test_backend_namespace_health_follows_signals(member_network: VipNetwork) -> None:
    with BackendNamespace.on(member_network, "member-1") as backend:
        backend.set_healthy(False)
        # The signal is handled asynchronously: wait for it to take effect, however long.
        while http_get(backend.address, backend.port, "/health").status != 503:
            pass
        backend.set_healthy(True)
        while http_get(backend.address, backend.port, "/health").status != 200:
            pass


@pytest.mark.root
def test_backend_namespace_leaves_nothing_behind(member_network: VipNetwork) -> None:
    backend = BackendNamespace.on(member_network, "member-1")
    pid, netns = backend.pid, backend.netns
    backend.close()
    backend.close()  # idempotent
    assert netns_state(netns) is NetnsState.ABSENT
    assert not os.path.exists(f"/proc/{pid}")


@pytest.mark.root
def test_backend_namespace_that_cannot_start_leaves_nothing_behind(
    member_network: VipNetwork,
) -> None:
    with pytest.raises(RuntimeError, match="did not start"):
        BackendNamespace.on(member_network, "member-1", port=70000)  # no such port
    assert netns_state("tc-member-1") is NetnsState.ABSENT


@pytest.mark.root
def test_vip_network_removes_its_bridge_also_on_failure() -> None:
    with pytest.raises(KeyError), VipNetwork("tc", "198.18.99.0/24") as network:
        assert host_link(network.bridge) is not None
        raise KeyError("test failure")
    assert host_link(network.bridge) is None


@pytest.mark.root
def test_vip_network_hands_out_distinct_addresses(member_network: VipNetwork) -> None:
    assert member_network.gateway == "198.18.99.1"
    assert member_network.allocate("198.18.99.2") == "198.18.99.2"
    assert member_network.placement().address == "198.18.99.3"
    with pytest.raises(ValueError):
        member_network.allocate("198.18.99.2")

"""The agent API over real mutual TLS: only our controller certificate gets in, and hostile
appliance names are refused before they reach the file system."""

import ssl
from pathlib import Path

import httpx
import pytest

from steelyard.agent.client import AgentClient, AgentUnreachable
from steelyard.agent.pki import PkiPaths, client_ssl_context, ensure_pki
from tests.integration.agent.helpers import ThreadedAgent


def context_with(pki: PkiPaths, cert: Path | None, key: Path | None) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(cafile=pki.ca_cert)
    if cert is not None and key is not None:
        context.load_cert_chain(cert, key)
    return context


def test_controller_certificate_is_accepted(threaded_agent: ThreadedAgent) -> None:
    assert threaded_agent.client.info().appliances == []


def test_unknown_client_certificate_is_refused(
    threaded_agent: ThreadedAgent, pki: PkiPaths, short_tmp: Path
) -> None:
    other = ensure_pki(short_tmp / "other-ca")
    stranger = context_with(pki, other.client_cert, other.client_key)
    with AgentClient(threaded_agent.url, stranger) as client, pytest.raises(AgentUnreachable):
        client.info()


def test_missing_client_certificate_is_refused(
    threaded_agent: ThreadedAgent, pki: PkiPaths
) -> None:
    with (
        AgentClient(threaded_agent.url, context_with(pki, None, None)) as client,
        pytest.raises(AgentUnreachable),
    ):
        client.info()


def test_agent_server_certificate_cannot_be_used_as_a_client(
    threaded_agent: ThreadedAgent, pki: PkiPaths
) -> None:
    impostor = context_with(pki, pki.server_cert, pki.server_key)
    with AgentClient(threaded_agent.url, impostor) as client, pytest.raises(AgentUnreachable):
        client.info()


def test_client_refuses_an_agent_of_another_ca(
    threaded_agent: ThreadedAgent, short_tmp: Path
) -> None:
    other = ensure_pki(short_tmp / "other-ca")
    with (
        AgentClient(threaded_agent.url, client_ssl_context(other)) as client,
        pytest.raises(AgentUnreachable),
    ):
        client.info()


@pytest.mark.parametrize(
    ("method", "path", "statuses"),
    [
        ("PUT", "/v1/appliances/..%2Fx", {400}),
        ("PUT", "/v1/appliances/%2E%2E", {400}),
        ("PUT", "/v1/appliances/..%2F..%2Fetc", {400}),
        ("PUT", "/v1/appliances/a%0Ab", {400}),
        ("PUT", "/v1/appliances/a%0A", {400}),
        ("PUT", "/v1/appliances/" + "x" * 41, {400}),
        ("PUT", "/v1/appliances/" + "x" * 5000, {400, 414}),
        ("GET", "/v1/appliances/..%2Fx/stats", {400}),
        ("DELETE", "/v1/appliances/..%2Fstate", {400}),
        ("PUT", "/v1/appliances/..%2Fx/config", {400}),
    ],
)
def test_hostile_names_are_refused(
    threaded_agent: ThreadedAgent,
    pki: PkiPaths,
    state_dir: Path,
    method: str,
    path: str,
    statuses: set[int],
) -> None:
    with httpx.Client(base_url=threaded_agent.url, verify=client_ssl_context(pki)) as http:
        response = http.request(method, path, json={"generation": 1, "haproxy_cfg": "global\n"})
    assert response.status_code in statuses
    assert sorted(p.name for p in state_dir.iterdir()) == ["appliances"]
    assert list((state_dir / "appliances").iterdir()) == []


def test_hostile_namespace_names_are_refused(threaded_agent: ThreadedAgent, pki: PkiPaths) -> None:
    with httpx.Client(base_url=threaded_agent.url, verify=client_ssl_context(pki)) as http:
        for netns in ("../x", "a\nb", "x" * 65, ""):
            response = http.put("/v1/appliances/a1", json={"netns": netns})
            assert response.status_code == 422, netns
        assert http.put("/v1/appliances/a1", json={"netns": "tb-missing"}).status_code == 400

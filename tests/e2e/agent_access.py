"""Tests reach the appliance agent of a running server with the server's own PKI (what an
operator tool on that host could do), to read process IDs and to inject configs."""

from collections.abc import Iterator
from contextlib import contextmanager

from steelyard.agent.client import AgentClient
from steelyard.agent.pki import client_ssl_context, ensure_pki
from steelyard.controller.naming import appliance_name
from tests.e2e.harness import ServerHandle


def appliance_of(lb_id: str) -> str:
    return appliance_name(lb_id, 0)


@contextmanager
def agent_for(handle: ServerHandle) -> Iterator[AgentClient]:
    url = (handle.state_dir / "agent" / "url").read_text().strip()
    client = AgentClient(url, client_ssl_context(ensure_pki(handle.state_dir / "pki")))
    try:
        yield client
    finally:
        client.close()

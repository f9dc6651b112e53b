"""ACTIVE_ACTIVE with real HAProxy started by the appliance agent in three namespaces: each
binds the VIP held on its lo, proxies to members on the bridge, and answers the client
directly; the router spreads new connections and survives losing one appliance."""

import shutil
import tempfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from steelyard.agent.client import AgentClient
from steelyard.agent.pki import ensure_pki
from tests.integration.agent.helpers import ThreadedAgent
from tests.integration.network.lab import NETWORK_ID, EcmpLab
from tests.support import BackendNamespace, http_get

pytestmark = pytest.mark.root

NAMES = ["a1", "a2", "a3"]


@pytest.fixture
def agent() -> Iterator[AgentClient]:
    # UNIX socket paths under the state dir must fit in 107 bytes: pytest's tmp_path is too long.
    root = Path(tempfile.mkdtemp(prefix="sy-", dir="/tmp"))
    threaded = ThreadedAgent(root / "state", ensure_pki(root / "pki"))
    try:
        yield threaded.client
    finally:
        for name in NAMES:
            threaded.client.delete_appliance(name)
        threaded.stop()
        shutil.rmtree(root, ignore_errors=True)


def haproxy_cfg(stats_socket: str, state_file: str, name: str, vip: str, members: list[str]) -> str:
    servers = "".join(
        f"    server m{i} {address}:8080\n" for i, address in enumerate(members, start=1)
    )
    return f"""global
    stats socket {stats_socket} mode 600 level admin expose-fd listeners
    server-state-file {state_file}
    hard-stop-after 3s
    maxconn 200

defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s

frontend fe
    bind {vip}:80
    http-response set-header X-Appliance {name}
    default_backend be

backend be
    balance roundrobin
{servers}"""


def test_haproxy_appliances_share_the_vip(lab: EcmpLab, agent: AgentClient) -> None:
    with (
        BackendNamespace.on(lab.network, "m1", lab.host(201), port=8080) as m1,
        BackendNamespace.on(lab.network, "m2", lab.host(202), port=8080) as m2,
    ):
        addresses = []
        for name in NAMES:
            addresses.append(lab.add_appliance(name, serve=False))
            info = agent.ensure_appliance(name, netns=lab.driver.netns_name(name))
            paths = (info.paths.stats_socket, info.paths.server_state_file)
            cfg = haproxy_cfg(*paths, name, lab.vip, [m1.address, m2.address])
            agent.apply_config(name, 1, cfg, [f"{lab.vip}:80"])
        lab.routers.ensure_vip(NETWORK_ID, lab.vip, addresses)

        seen = lab.new_connections(300)
        print(f"\nHAProxy appliances, 300 new connections: {dict(sorted(seen.items()))}")
        assert set(seen) == set(NAMES)
        assert all(seen[name] >= 45 for name in NAMES), seen
        bodies = Counter(http_get(lab.vip, 80, netns=lab.client).body for _ in range(20))
        assert set(bodies) == {"m1\n", "m2\n"}  # the members answered through HAProxy

        lab.kill("a2")  # HAProxy ends with its namespace
        lab.routers.ensure_vip(NETWORK_ID, lab.vip, [addresses[0], addresses[2]])
        seen = lab.new_connections(150)
        print(f"a2 gone, 150 new connections: {dict(sorted(seen.items()))}")
        assert set(seen) == {"a1", "a3"}, seen  # no failures

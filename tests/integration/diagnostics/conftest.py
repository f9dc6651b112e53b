"""An appliance namespace wired to a member namespace by one veth (198.18.150.0/24), with
members that answer 200, answer 500 or refuse, an address whose packets are silently dropped
(198.18.151.0/24 is routed to the member namespace, which does not forward) and one the
appliance has no route to (an `unreachable` route for 198.18.152.0/24). Names start with "td".
"""

import contextlib
import http.server
import os
import secrets
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from steelyard.agent.netns import run_in_netns
from tests.integration.agent.conftest import agent, pki, short_tmp, state_dir, threaded_agent
from tests.integration.keepalived.conftest import netns_driver, network_v4

# fixtures of the agent's and keepalived's suites
__all__ = ["agent", "netns_driver", "network_v4", "pki", "short_tmp", "state_dir", "threaded_agent"]

APPLIANCE_IP, MEMBER_IP = "198.18.150.2", "198.18.150.1"
DROPPED = "198.18.151.5"  # routed to the member namespace, which drops it: connects time out
UNROUTED = "198.18.152.5"  # an `unreachable` route: connects fail at once
GOOD_PORT, ERROR_PORT, CLOSED_PORT, SLOW_PORT = 8081, 8082, 8083, 8084
SLOW_S = 2.0  # how long the member on SLOW_PORT takes to answer


@dataclass(frozen=True)
class Wiring:
    appliance: str  # namespace names
    members: str
    link: str  # the appliance's end of the veth


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


@pytest.fixture(autouse=True)
def root_or_skip(request: pytest.FixtureRequest) -> None:
    if request.node.get_closest_marker("root") and os.geteuid() != 0:
        pytest.skip("needs root (network namespaces)")


@pytest.fixture
def wiring() -> Iterator[Wiring]:
    suffix = secrets.token_hex(3)
    wired = Wiring(f"td-{suffix}-a", f"td-{suffix}-m", f"td{suffix}a")
    created: list[str] = []
    try:
        for name in (wired.appliance, wired.members):
            ip("netns", "add", name)
            created.append(name)
            ip("-n", name, "link", "set", "lo", "up")
        # Made inside the member namespace and one end moved: nothing ever appears on the host.
        ip("-n", wired.members, "link", "add", f"td{suffix}m", "type", "veth",
           "peer", "name", wired.link, "netns", wired.appliance)  # fmt: skip
        ip("-n", wired.members, "addr", "add", f"{MEMBER_IP}/24", "dev", f"td{suffix}m")
        ip("-n", wired.appliance, "addr", "add", f"{APPLIANCE_IP}/24", "dev", wired.link)
        ip("-n", wired.members, "link", "set", f"td{suffix}m", "up")
        ip("-n", wired.appliance, "link", "set", wired.link, "up")
        ip("-n", wired.appliance, "route", "add", "198.18.151.0/24", "via", MEMBER_IP)
        ip("-n", wired.appliance, "route", "add", "unreachable", "198.18.152.0/24")
        yield wired
    finally:
        for name in created:
            subprocess.run(["ip", "netns", "del", name], check=False, capture_output=True)


class _Status(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        status: int = self.server.status  # type: ignore[attr-defined]
        time.sleep(self.server.delay_s)  # type: ignore[attr-defined]
        with contextlib.suppress(ConnectionError):  # the client may have gone meanwhile
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


def _server(port: int) -> Callable[[], http.server.ThreadingHTTPServer]:
    # Bound by a thread inside the namespace: the socket stays there once it has ended.
    return lambda: http.server.ThreadingHTTPServer((MEMBER_IP, port), _Status)


@pytest.fixture
def members(wiring: Wiring) -> Iterator[None]:
    """HTTP members in the member namespace: 200 on GOOD_PORT, 500 on ERROR_PORT, 200 after
    SLOW_S on SLOW_PORT."""
    ports = (GOOD_PORT, ERROR_PORT, SLOW_PORT)
    servers = [run_in_netns(wiring.members, _server(port)) for port in ports]
    threads = []
    for server, status in zip(servers, (200, 500, 200), strict=True):
        server.status = status  # type: ignore[attr-defined]
        server.delay_s = SLOW_S if server.server_address[1] == SLOW_PORT else 0.0  # type: ignore[attr-defined]
        server.daemon_threads = True
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        threads.append(thread)
    yield
    for server, thread in zip(servers, threads, strict=True):
        server.shutdown()
        server.server_close()
        thread.join()

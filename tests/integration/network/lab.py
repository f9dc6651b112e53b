"""`EcmpLab`: one VIP network with its ECMP router, ACTIVE_ACTIVE appliances and a client.

Everything is named with a random prefix ("n" + 3 characters) and lives in a random
198.18.112-127.0/24 (and fd00:7e:<n>::/64), so runs on one machine stay apart; `close()`
removes it all with `purge(prefix)`, also after a failure.
"""

import http.client
import ipaddress
import json
import random
import socket
import string
from collections import Counter
from pathlib import Path

from steelyard.compute.base import ApplianceSlot, VipPlacement
from steelyard.compute.netns import NetnsDriver
from steelyard.network.cleanup import purge
from steelyard.network.ecmp import EcmpRouters
from steelyard.network.ecmp_plan import Resilient
from steelyard.network.iproute import ip
from steelyard.network.namespaces import run_in_netns
from tests.support import HttpBackend, VipNetwork

NETWORK_ID = "vip-net"


def random_prefix() -> str:
    return "n" + "".join(random.choices(string.ascii_lowercase + string.digits, k=3))


class EcmpLab:
    """Bridge (host holds the gateway), router (.2, ::2), client (.50, ::50); appliances
    .11, .12, ... hold the VIP (.100, ::100) on lo. `family` is 4 or 6."""

    def __init__(self, lock_dir: Path, family: int = 4, resilient: Resilient = Resilient()) -> None:
        self.prefix = random_prefix()
        third = random.randrange(112, 128)
        cidr = f"198.18.{third}.0/24" if family == 4 else f"fd00:7e:{third}::/64"
        self.subnet = ipaddress.ip_network(cidr)
        self.network = VipNetwork(self.prefix, cidr, network_id=NETWORK_ID)
        self.routers = EcmpRouters(self.prefix, resilient=resilient, lock_dir=lock_dir)
        self.driver = NetnsDriver(self.prefix, kill_grace=0.2)
        self.servers: dict[str, HttpBackend] = {}
        try:
            self.router_address = self.network.allocate(self.host(2))
            self.vip = self.network.allocate(self.host(100))
            self.client_address = self.network.allocate(self.host(50))
            self.client = self.driver.netns_name("client")
            self.driver.ensure(ApplianceSlot("client", self.placement(self.client_address)))
            self.routers.ensure_router(
                NETWORK_ID, self.router_address, self.subnet.prefixlen, self.network.bridge
            )
        except BaseException:
            self.close()
            raise

    def host(self, index: int) -> str:
        return str(self.subnet.network_address + index)

    def placement(self, address: str, *loopback_vips: str) -> VipPlacement:
        return VipPlacement(
            address,
            self.subnet.prefixlen,
            self.network.bridge,
            self.network.gateway,
            loopback_vips=loopback_vips,
        )

    @property
    def router(self) -> str:
        return self.routers.netns_name(NETWORK_ID)

    def slot(self, name: str) -> ApplianceSlot:
        index = 10 + int(name.removeprefix("a"))
        return ApplianceSlot(name, self.placement(self.host(index), self.vip))

    def add_appliance(self, name: str, serve: bool = True) -> str:
        """Appliance `name` ("a1", "a2", ...) at .11, .12, ...; with `serve`, an HTTP server
        on VIP:80 inside it answers its name. Returns the appliance's own address."""
        slot = self.slot(name)
        self.driver.ensure(slot)
        if serve:
            netns = self.driver.netns_name(name)
            self.servers[name] = run_in_netns(netns, lambda: HttpBackend(name, self.vip, 80))
        assert slot.vip.address is not None  # an appliance of the lab, never a spare
        return slot.vip.address

    def kill(self, name: str) -> None:
        """The appliance dies: its namespace and link go (its server's threads are stopped)."""
        self.driver.delete(name)
        server = self.servers.pop(name, None)
        if server is not None:
            server.stop()

    def new_connections(self, count: int, port: int = 80, timeout: float = 3) -> Counter[str]:
        """`count` requests from the client, each on a new connection: who answered, or the
        name of the error."""

        def run() -> Counter[str]:
            seen: Counter[str] = Counter()
            for _ in range(count):
                conn = http.client.HTTPConnection(self.vip, port, timeout=timeout)
                try:
                    conn.request("GET", "/", headers={"Connection": "close"})
                    resp = conn.getresponse()
                    seen[resp.getheader("X-Appliance") or resp.read().decode().strip()] += 1
                except OSError as exc:
                    seen[type(exc).__name__] += 1
                finally:
                    conn.close()
            return seen

        return run_in_netns(self.client, run)

    def open_connections(self, count: int) -> list[http.client.HTTPConnection]:
        """`count` kept-alive connections from the client (sockets made in its namespace)."""

        def run() -> list[http.client.HTTPConnection]:
            conns = []
            for _ in range(count):
                conn = http.client.HTTPConnection(self.vip, 80, timeout=3)
                conn.connect()
                conns.append(conn)
            return conns

        return run_in_netns(self.client, run)

    def neighbour_mac(self, netns: str, address: str) -> str | None:
        entries = json.loads(ip("neigh", "show", address, netns=netns, json_out=True))
        return entries[0].get("lladdr") if entries else None

    def mac(self, netns: str, link: str) -> str:
        return str(json.loads(ip("link", "show", link, netns=netns, json_out=True))[0]["address"])

    def buckets(self) -> Counter[str]:
        """How many buckets of the VIP's resilient group each appliance address holds."""
        nexthops = json.loads(ip("nexthop", "show", netns=self.router, json_out=True))
        gateways = {nh["id"]: nh["gateway"] for nh in nexthops if "gateway" in nh}
        route = json.loads(ip("route", "show", self.vip, netns=self.router, json_out=True))
        shown = ip(
            "nexthop",
            "bucket",
            "show",
            "id",
            str(route[0]["nhid"]),
            netns=self.router,
            json_out=True,
        )
        return Counter(gateways[b["bucket"]["nhid"]] for b in json.loads(shown))

    def close(self) -> None:
        try:
            for server in self.servers.values():
                server.stop()
            self.servers.clear()
            purge(self.prefix, kill_grace=0.2)
        finally:
            self.network.close()


def request(conn: http.client.HTTPConnection) -> str:
    """One more request on a kept-alive connection: who answered, or the error's name."""
    try:
        conn.request("GET", "/")
        resp = conn.getresponse()
        return resp.read().decode().strip()
    except (OSError, http.client.HTTPException) as exc:
        return type(exc).__name__


def tcp_connects(netns: str, host: str, port: int, timeout: float = 1) -> bool:
    def run() -> bool:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                return True
        except OSError:
            return False

    return run_in_netns(netns, run)

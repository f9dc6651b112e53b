"""Clients with their own source addresses: each in a namespace on the server's VIP bridge, so
HAProxy sees distinct real client addresses (what per-source limits key on)."""

import random
import select
import socket
import string
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx

from steelyard.compute.base import ApplianceSlot, VipPlacement
from steelyard.compute.netns import NetnsDriver
from steelyard.network.names import NameScheme
from steelyard.network.namespaces import run_in_netns
from tests.e2e.harness import ServerHandle


@dataclass
class ClientNamespace:
    netns: str
    address: str

    def get_many(self, url: str, count: int) -> list[httpx.Response]:
        """`count` requests, each on a new connection, from this client's address."""

        def send() -> list[httpx.Response]:
            answers = []
            with httpx.Client(timeout=10) as client:
                for _ in range(count):
                    answers.append(client.get(url, headers={"Connection": "close"}))
            return answers

        return run_in_netns(self.netns, send)

    def try_connect_and_get(self, url: str) -> str:
        """ "200", "429", ... or the name of the error when no HTTP answer came."""

        def send() -> str:
            try:
                return str(httpx.get(url, timeout=5).status_code)
            except httpx.HTTPError as exc:
                return type(exc).__name__

        return run_in_netns(self.netns, send)

    def slow_headers(self, host: str, port: int, byte_interval_s: float, limit_s: float) -> float:
        """Send a request one byte at a time; seconds until the server hung up (or limit_s)."""

        def send() -> float:
            started = time.monotonic()
            payload = b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 200
            with socket.create_connection((host, port), timeout=5) as sock:
                for byte in payload:
                    if time.monotonic() - started > limit_s:
                        break
                    try:
                        sock.sendall(bytes([byte]))
                    except (ConnectionResetError, BrokenPipeError):
                        break
                    readable, _, _ = select.select([sock], [], [], byte_interval_s)
                    if readable:  # an answer (408) or a hang-up: cut off
                        break
            return time.monotonic() - started

        return run_in_netns(self.netns, send)


def _vip_network(handle: ServerHandle) -> tuple[str, int, str]:
    with handle.api() as api:
        network = next(
            n for n in api.get("/v2/steelyard/networks").json()["networks"] if n["name"] == "public"
        )
    subnet = network["subnets"][0]
    bridge = NameScheme(handle.prefix).bridge(network["id"])
    return bridge, int(subnet["cidr"].split("/")[1]), str(subnet["gateway_ip"])


@contextmanager
def client_namespaces(
    handle: ServerHandle, addresses: list[str]
) -> Iterator[list[ClientNamespace]]:
    bridge, prefixlen, gateway = _vip_network(handle)
    driver = NetnsDriver("c" + "".join(random.choices(string.ascii_lowercase, k=3)))
    names = [f"client{i}" for i in range(len(addresses))]
    try:
        clients = []
        for name, address in zip(names, addresses, strict=True):
            placed = driver.ensure(
                ApplianceSlot(name, VipPlacement(address, prefixlen, bridge, gateway))
            )
            assert placed.netns is not None
            clients.append(ClientNamespace(placed.netns, address))
        yield clients
    finally:
        for name in names:
            driver.delete(name)

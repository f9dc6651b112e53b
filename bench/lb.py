"""The load balancer the benchmarks build, and the few API and VIP calls they make."""

import socket
import time
from collections.abc import Mapping
from typing import Any

import httpx

from tests.e2e.lbtools import get_lb

# Octavia's defaults for an HTTP monitor (and the spec of ../shared/peer-octavia's example).
HEALTH_MONITOR: dict[str, Any] = {
    "type": "HTTP",
    "delay": 5,
    "timeout": 5,
    "max_retries": 3,
    "max_retries_down": 3,
    "http_method": "GET",
    "url_path": "/",
    "expected_codes": "200",
}


def full_lb_body(host: str, ports: Mapping[str, int], name: str = "bench") -> dict[str, Any]:
    """A fully populated SINGLE load balancer: HTTP:80 -> ROUND_ROBIN pool, members, monitor."""
    members = [{"name": n, "address": host, "protocol_port": p} for n, p in ports.items()]
    return {
        "loadbalancer": {
            "name": name,
            "listeners": [
                {
                    "name": f"{name}-http",
                    "protocol": "HTTP",
                    "protocol_port": 80,
                    "default_pool": {
                        "name": f"{name}-pool",
                        "protocol": "HTTP",
                        "lb_algorithm": "ROUND_ROBIN",
                        "healthmonitor": HEALTH_MONITOR,
                        "members": members,
                    },
                }
            ],
        }
    }


def wait_status(
    api: httpx.Client,
    lb_id: str,
    status: str = "ACTIVE",
    timeout_s: float = 60,
    interval_s: float = 0.005,
) -> float:
    """Poll until the load balancer's provisioning_status is `status`; the perf_counter then."""
    deadline = time.perf_counter() + timeout_s
    while True:
        lb = get_lb(api, lb_id)
        now = time.perf_counter()
        if lb is not None and lb["provisioning_status"] == status:
            return now
        if lb is not None and lb["provisioning_status"] == "ERROR":
            raise RuntimeError(f"load balancer {lb_id} went to ERROR")
        if now > deadline:
            raise TimeoutError(f"load balancer {lb_id} not {status} after {timeout_s} s")
        time.sleep(interval_s)


def delete_and_wait(api: httpx.Client, lb_id: str, timeout_s: float = 60) -> float:
    """Cascade-delete a load balancer and wait for its 404; the seconds it took."""
    started = time.perf_counter()
    response = api.delete(f"/v2/lbaas/loadbalancers/{lb_id}", params={"cascade": "true"})
    if response.status_code != 204:
        raise RuntimeError(f"cascade delete: HTTP {response.status_code} {response.text}")
    while get_lb(api, lb_id) is not None:
        if time.perf_counter() - started > timeout_s:
            raise TimeoutError(f"load balancer {lb_id} still there after {timeout_s} s")
        time.sleep(0.01)
    return time.perf_counter() - started


_REQUEST = b"GET / HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n"


def http_get(host: str, port: int, timeout_s: float) -> tuple[int | None, str]:
    """One request on a new connection: (status or None, the X-Backend header or the error)."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s) as conn:
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn.sendall(_REQUEST)
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(4096)
                if not chunk:
                    break
                data += chunk
    except OSError as exc:
        return None, type(exc).__name__ if not exc.strerror else exc.strerror
    head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1")
    lines = head.split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) < 2 or not parts[1].isdigit():
        return None, f"bad status line {lines[0]!r}"
    backend = ""
    for line in lines[1:]:
        key, _, value = line.partition(":")
        if key.strip().lower() == "x-backend":
            backend = value.strip()
    return int(parts[1]), backend

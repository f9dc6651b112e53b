"""`steelyard demo`: a load balancer in front of three backends, traffic, clean-up."""

import collections
from typing import Any

import httpx
from rich.console import Console

from steelyard.cli.api_client import SteelyardApi
from steelyard.cli.backends import NamedBackend


def _backend_host(api: SteelyardApi) -> str:
    """Backends must be reachable from the appliances: the default network's gateway (host
    side of its bridge) for namespaced appliances, loopback for process appliances."""
    networks = api.call("GET", "/v2/steelyard/networks")["networks"]
    for network in networks:
        if network["kind"] == "bridge" and network["subnets"]:
            gateway = network["subnets"][0]["gateway_ip"]
            if gateway:
                return str(gateway)
    return "127.0.0.1"


def _loadbalancer_body(host: str, backends: list[NamedBackend]) -> dict[str, Any]:
    return {
        "loadbalancer": {
            "name": "steelyard-demo",
            "listeners": [
                {
                    "name": "demo-http",
                    "protocol": "HTTP",
                    "protocol_port": 80,
                    "default_pool": {
                        "name": "demo-pool",
                        "protocol": "HTTP",
                        "lb_algorithm": "ROUND_ROBIN",
                        "healthmonitor": {
                            "type": "HTTP",
                            "delay": 1,
                            "timeout": 1,
                            "max_retries": 1,
                            "url_path": "/",
                        },
                        "members": [
                            {"name": b.name, "address": host, "protocol_port": b.port}
                            for b in backends
                        ],
                    },
                }
            ],
        }
    }


def run_demo(api: SteelyardApi, requests: int, console: Console) -> dict[str, int]:
    host = _backend_host(api)
    backends = [NamedBackend(f"backend-{i}", host).start() for i in (1, 2, 3)]
    lb_id: str | None = None
    try:
        for b in backends:
            console.print(f"started [bold]{b.name}[/] on {host}:{b.port}")
        lb = api.call("POST", "/v2/lbaas/loadbalancers", _loadbalancer_body(host, backends))
        lb_id = str(lb["loadbalancer"]["id"])
        console.print(f"created load balancer {lb_id}, VIP {lb['loadbalancer']['vip_address']}")
        lb = api.wait_for(lb_id, "ACTIVE")
        url = f"http://{lb['vip_address']}:80/"
        if ":" in lb["vip_address"]:
            url = f"http://[{lb['vip_address']}]:80/"
        console.print(f"ACTIVE; sending {requests} requests to {url}")
        counts: collections.Counter[str] = collections.Counter()
        with httpx.Client(timeout=5) as http:
            for n in range(1, requests + 1):
                answer = http.get(url)
                backend = answer.headers.get("X-Backend", f"HTTP {answer.status_code}")
                counts[backend] += 1
                console.print(f"  request {n:2d} -> {backend}")
        console.print(
            "answers per backend: " + ", ".join(f"{k}: {v}" for k, v in sorted(counts.items()))
        )
        return dict(counts)
    finally:
        if lb_id is not None:
            api.call("DELETE", f"/v2/lbaas/loadbalancers/{lb_id}?cascade=true")
            api.wait_for(lb_id, "DELETED")
            console.print(f"deleted load balancer {lb_id}")
        for b in backends:
            b.stop()

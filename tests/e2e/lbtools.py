"""What the end-to-end tests do through the tenant API and through the VIP."""

import collections
from typing import Any

import httpx

from steelyard.cli.backends import NamedBackend
from tests.e2e.harness import ServerHandle, wait_until


def lb_body(backends: list[NamedBackend], host: str, **pool: Any) -> dict[str, Any]:
    default_pool: dict[str, Any] = {
        "protocol": "HTTP",
        "lb_algorithm": "ROUND_ROBIN",
        "members": [{"name": b.name, "address": host, "protocol_port": b.port} for b in backends],
        **pool,
    }
    return {
        "loadbalancer": {
            "name": "e2e",
            "listeners": [{"protocol": "HTTP", "protocol_port": 80, "default_pool": default_pool}],
        }
    }


def create_lb(api: httpx.Client, body: dict[str, Any]) -> dict[str, Any]:
    response = api.post("/v2/lbaas/loadbalancers", json=body)
    assert response.status_code == 201, response.text
    lb: dict[str, Any] = response.json()["loadbalancer"]
    return lb


def get_lb(api: httpx.Client, lb_id: str) -> dict[str, Any] | None:
    response = api.get(f"/v2/lbaas/loadbalancers/{lb_id}")
    if response.status_code == 404:
        return None
    assert response.status_code == 200, response.text
    lb: dict[str, Any] = response.json()["loadbalancer"]
    return lb


def wait_active(api: httpx.Client, lb_id: str, timeout_s: float = 30) -> dict[str, Any]:
    def active() -> dict[str, Any] | None:
        lb = get_lb(api, lb_id)
        assert lb is not None
        return lb if lb["provisioning_status"] == "ACTIVE" else None

    lb: dict[str, Any] = wait_until(active, timeout_s)
    return lb


def wait_gone(api: httpx.Client, lb_id: str, timeout_s: float = 30) -> None:
    wait_until(lambda: get_lb(api, lb_id) is None, timeout_s)


def vip_url(lb: dict[str, Any], port: int = 80) -> str:
    address = lb["vip_address"]
    return f"http://[{address}]:{port}/" if ":" in address else f"http://{address}:{port}/"


def spread(url: str, requests: int) -> collections.Counter[str]:
    """Which backend answered each of `requests` new connections."""
    counts: collections.Counter[str] = collections.Counter()
    for _ in range(requests):
        answer = httpx.get(url, timeout=5, headers={"Connection": "close"})
        counts[answer.headers.get("X-Backend", f"HTTP {answer.status_code}")] += 1
    return counts


def pool_members(api: httpx.Client, pool_id: str) -> list[dict[str, Any]]:
    response = api.get(f"/v2/lbaas/pools/{pool_id}/members")
    assert response.status_code == 200, response.text
    members: list[dict[str, Any]] = response.json()["members"]
    return members


def start_backends(handle: ServerHandle, count: int = 3) -> list[NamedBackend]:
    return [NamedBackend(f"b{i}", handle.member_host).start() for i in range(1, count + 1)]

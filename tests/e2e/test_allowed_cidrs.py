"""Listener allowed_cidrs end to end: real clients with their own addresses on the VIP bridge;
only those inside the list are served, a PUT with a new list flips the roles, and the list
works together with protection's deny list."""

from typing import Any

import pytest

from tests.e2e.clients import ClientNamespace, client_namespaces
from tests.e2e.conftest import Backends
from tests.e2e.harness import ServerHandle
from tests.e2e.lbtools import create_lb, lb_body, vip_url, wait_active
from tests.e2e.test_protection import client_addresses

pytestmark = pytest.mark.root


def served(client: ClientNamespace, lb: dict[str, Any]) -> list[str]:
    """Outcomes of three requests, each on a new connection: "200", or the error's name."""
    return [client.try_connect_and_get(vip_url(lb)) for _ in range(3)]


def refused(outcomes: list[str]) -> bool:
    return not any(outcome.isdigit() for outcome in outcomes)  # no HTTP answer at all


def test_only_allowed_sources_connect_and_a_put_flips_the_roles(
    netns_server: ServerHandle, backends: Backends
) -> None:
    first, second = client_addresses(netns_server, 2)
    body = lb_body(backends.start(netns_server, 2), netns_server.member_host)
    body["loadbalancer"]["listeners"][0]["allowed_cidrs"] = [f"{first}/32"]
    with netns_server.api() as api:
        lb = wait_active(api, create_lb(api, body)["id"])
    listener_path = f"/v2/lbaas/listeners/{lb['listeners'][0]['id']}"

    def change(listener: dict[str, Any]) -> None:
        with netns_server.api() as api:
            response = api.put(listener_path, json={"listener": listener})
            assert response.status_code == 200, response.text
            wait_active(api, lb["id"])

    with client_namespaces(netns_server, [first, second]) as (a, b):
        before = sum(backend.requests for backend in backends.running)
        assert served(a, lb) == ["200"] * 3
        outcomes = served(b, lb)
        assert refused(outcomes), outcomes
        assert sum(backend.requests for backend in backends.running) - before == 3  # only a's

        change({"allowed_cidrs": [second]})  # a bare address: one host
        outcomes = served(a, lb)
        assert refused(outcomes), outcomes
        assert served(b, lb) == ["200"] * 3

        # Both allowed, b deny-listed by protection: each check applies, allowed_cidrs first.
        both = [f"{first}/32", f"{second}/32"]
        change({"allowed_cidrs": both, "protection": {"deny_cidrs": [f"{second}/32"]}})
        assert served(a, lb) == ["200"] * 3
        outcomes = served(b, lb)
        assert refused(outcomes), outcomes

        change({"allowed_cidrs": None, "protection": None})  # everyone again
        assert served(a, lb) == ["200"] * 3
        assert served(b, lb) == ["200"] * 3

"""Issue 5 end to end: per-source limits seen by real clients with their own addresses."""

import ipaddress
import time
from typing import Any

import pytest

from tests.e2e.clients import client_namespaces
from tests.e2e.conftest import Backends
from tests.e2e.harness import ServerHandle
from tests.e2e.lbtools import create_lb, lb_body, vip_url, wait_active

pytestmark = pytest.mark.root


def client_addresses(handle: ServerHandle, count: int) -> list[str]:
    hosts = list(ipaddress.ip_network(handle.vip_cidr).hosts())
    return [str(h) for h in hosts[200 : 200 + count]]


def protected_lb(
    handle: ServerHandle, backends: Backends, protection: dict[str, Any]
) -> dict[str, Any]:
    members = backends.start(handle, 2)
    body = lb_body(members, handle.member_host)
    body["loadbalancer"]["listeners"][0]["protection"] = protection
    with handle.api() as api:
        lb = create_lb(api, body)
        return wait_active(api, lb["id"])


def test_a_client_over_its_rate_gets_429s_while_another_gets_200s(
    netns_server: ServerHandle, backends: Backends
) -> None:
    lb = protected_lb(
        netns_server,
        backends,
        {"req_rate_per_source": 10, "req_rate_period_s": 10, "retry_after_s": 7},
    )
    with client_namespaces(netns_server, client_addresses(netns_server, 2)) as (noisy, calm):
        flood = noisy.get_many(vip_url(lb), 30)
        normal = calm.get_many(vip_url(lb), 5)
    codes = [r.status_code for r in flood]
    assert codes[:10] == [200] * 10
    assert set(codes[10:]) == {429}
    assert {r.headers.get("Retry-After") for r in flood[10:]} == {"7"}
    assert [r.status_code for r in normal] == [200] * 5


def test_a_slow_header_client_is_cut_off_and_others_are_served(
    netns_server: ServerHandle, backends: Backends
) -> None:
    lb = protected_lb(netns_server, backends, {"http_request_timeout_ms": 2000})
    with client_namespaces(netns_server, client_addresses(netns_server, 2)) as (slow, normal):
        cut_after = slow.slow_headers(lb["vip_address"], 80, byte_interval_s=1.0, limit_s=20)
        served = normal.get_many(vip_url(lb), 3)
    assert 1.5 <= cut_after < 6, cut_after
    assert [r.status_code for r in served] == [200] * 3


def test_deny_listed_sources_never_reach_a_member(
    netns_server: ServerHandle, backends: Backends
) -> None:
    denied_address, allowed_address = client_addresses(netns_server, 2)
    lb = protected_lb(netns_server, backends, {"deny_cidrs": [f"{denied_address}/32"]})
    served_before = sum(b.requests for b in backends.running)
    with client_namespaces(netns_server, [denied_address, allowed_address]) as (denied, allowed):
        outcomes = [denied.try_connect_and_get(vip_url(lb)) for _ in range(5)]
        assert [r.status_code for r in allowed.get_many(vip_url(lb), 3)] == [200] * 3
    assert not any(o.isdigit() for o in outcomes), outcomes  # no HTTP answer at all
    assert sum(b.requests for b in backends.running) - served_before == 3  # only the allowed


def test_operator_override_beats_a_looser_tenant_value(
    netns_server: ServerHandle, backends: Backends
) -> None:
    lb = protected_lb(
        netns_server, backends, {"req_rate_per_source": 1000, "req_rate_period_s": 10}
    )
    with netns_server.api(project=None) as admin:
        r = admin.put(
            f"/v2/operator/loadbalancers/{lb['id']}/protection",
            json={"protection": {"req_rate_per_source": 5, "req_rate_period_s": 10}},
        )
        assert r.status_code == 200, r.text
    with netns_server.api() as api:
        lb = wait_active(api, lb["id"])
        listener = api.get(f"/v2/lbaas/listeners/{lb['listeners'][0]['id']}").json()["listener"]
    assert listener["protection"]["req_rate_per_source"] == 1000  # what the tenant asked
    assert listener["effective_protection"]["req_rate_per_source"] == 5  # what applies
    with client_namespaces(netns_server, client_addresses(netns_server, 1)) as (client,):
        codes = [r.status_code for r in client.get_many(vip_url(lb), 12)]
    assert codes[:5] == [200] * 5
    assert set(codes[5:]) == {429}


def test_bad_settings_are_refused_and_nothing_changes(
    netns_server: ServerHandle, backends: Backends
) -> None:
    lb = protected_lb(netns_server, backends, {"req_rate_per_source": 50})
    listener_id = lb["listeners"][0]["id"]
    with netns_server.api() as api:
        for bad in (
            {"req_rate_per_source": -1},
            {"req_rate_per_source": 10, "req_rate_period_s": 0},
            {"max_body_bytes": 10**15},
            {"deny_cidrs": ["10.0.0.0/8"], "allow_cidrs": ["10.1.0.0/16"]},
            {"deny_cidrs": ["10.0.0.0/8\n    bind :1"]},
        ):
            r = api.put(
                f"/v2/lbaas/listeners/{listener_id}", json={"listener": {"protection": bad}}
            )
            assert r.status_code == 400, (bad, r.text)
            assert r.json()["faultstring"]
        after = api.get(f"/v2/lbaas/listeners/{listener_id}").json()["listener"]
    assert after["protection"] == {"req_rate_per_source": 50}
    assert after["provisioning_status"] == "ACTIVE"


def test_a_source_over_its_rate_stays_limited_across_a_reload(
    netns_server: ServerHandle, backends: Backends
) -> None:
    """The stick tables are synced to the new worker through the local peer: without it a reload
    (any change HAProxy cannot take at runtime) gave a flooding source a fresh budget."""
    lb = protected_lb(netns_server, backends, {"req_rate_per_source": 10, "req_rate_period_s": 60})
    listener_id = lb["listeners"][0]["id"]
    # A freshly started HAProxy waits up to 5 s (its resync timeout) to learn the tables from an
    # old process; until then it does not teach them to a new one.
    time.sleep(6)
    with client_namespaces(netns_server, client_addresses(netns_server, 1)) as (client,):
        before = [r.status_code for r in client.get_many(vip_url(lb), 15)]
        with netns_server.api() as api:
            r = api.put(
                f"/v2/lbaas/listeners/{listener_id}",
                json={"listener": {"timeout_client_data": 40000}},  # `timeout client`: a reload
            )
            assert r.status_code == 200, r.text
            wait_active(api, lb["id"])
            listener = api.get(f"/v2/lbaas/listeners/{listener_id}").json()["listener"]
        assert listener["timeout_client_data"] == 40000
        after = [r.status_code for r in client.get_many(vip_url(lb), 15)]
    assert before == [200] * 10 + [429] * 5
    assert after == [429] * 15, after

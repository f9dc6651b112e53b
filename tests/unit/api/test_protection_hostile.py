"""Bad protection settings get a 400 that names the field, and change nothing: not on
create, not on update, not through the operator API."""

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker
from starlette.testclient import TestClient

from steelyard.db import models
from tests.unit.api.conftest import Factory, Json, MakeClient
from tests.unit.api.test_hostile_input import assert_fault

LISTENERS = "/v2/lbaas/listeners"
Counts = Callable[[], dict[str, int]]

# (protection, a piece of the faultstring that names what is wrong)
BAD: list[tuple[Any, str]] = [
    ({"deny_cidrs": ["10.0.0.0/8\n"]}, "protection.deny_cidrs[0]"),
    ({"deny_cidrs": ["10.0.0.0/8\nbind :1"]}, "protection.deny_cidrs[0]"),
    ({"allow_cidrs": ['10.0.0.0/8" #']}, "protection.allow_cidrs[0]"),
    ({"allow_cidrs": ["10.0.0.0/8 # x"]}, "protection.allow_cidrs[0]"),
    ({"trusted_proxies": ["'10.0.0.0/8'"]}, "protection.trusted_proxies[0]"),
    ({"trusted_proxies": ["999.0.0.0/8"]}, "not a network"),
    ({"deny_cidrs": ["10.0.0.1/8"]}, "not a network"),
    ({"deny_cidrs": ["10.0.0.0/33"]}, "not a network"),
    ({"deny_cidrs": ["x" * 5000]}, "protection.deny_cidrs[0]"),
    ({"deny_cidrs": [f"10.{i // 256}.{i % 256}.0/24" for i in range(10_000)]}, "deny_cidrs"),
    ({"deny_cidrs": "10.0.0.0/8"}, "protection.deny_cidrs"),
    ({"deny_cidrs": ["10.0.0.0/8", "10.0.0.0/8"]}, "deny_cidrs lists a network twice"),
    ({"deny_cidrs": ["10.0.0.0/8"], "allow_cidrs": ["10.1.0.0/16"]}, "overlaps deny_cidrs"),
    ({"req_rate_per_source": 10, "req_rate_period_s": 0}, "protection.req_rate_period_s"),
    ({"conn_rate_per_source": 10, "conn_rate_period_s": -5}, "protection.conn_rate_period_s"),
    ({"conn_rate_period_s": 10}, "conn_rate_period_s needs conn_rate_per_source"),
    ({"max_conn_per_source": 0}, "protection.max_conn_per_source"),
    ({"max_conn_per_source": -1}, "protection.max_conn_per_source"),
    ({"max_conn_per_source": 10**30}, "protection.max_conn_per_source"),
    ({"max_body_bytes": 2**63}, "protection.max_body_bytes"),
    ({"table_size": 10**9}, "protection.table_size"),
    ({"tarpit_s": 3600}, "protection.tarpit_s"),
    ({"max_connections": "100"}, "protection.max_connections"),
    ({"max_connections": 100.0}, "protection.max_connections"),
    ({"max_connections": True}, "protection.max_connections"),
    ({"accept_proxy": "yes"}, "protection.accept_proxy"),
    ({"action": "drop"}, "protection.action"),
    ({"action": "REJECT"}, "protection.action"),
    ({"bogus": 1}, "Unknown attribute: bogus"),
    ({"req_rate_per_source": None, "x\ny": 1}, "Unknown attribute"),
    ("fast", "protection"),
    ([], "protection"),
    (5, "protection"),
]
IDS = [str(i) for i in range(len(BAD))]


def check(response: Any, fragment: str) -> None:
    text = assert_fault(response, 400)
    assert fragment in text, text
    assert "\n" not in text and len(text) < 400


@pytest.mark.parametrize(("protection", "fragment"), BAD, ids=IDS)
def test_create_refuses_and_writes_nothing(
    make_lb: Factory,
    client: TestClient,
    row_counts: Counts,
    notified: list[str],
    protection: Any,
    fragment: str,
) -> None:
    lb = make_lb()
    before, calls = row_counts(), list(notified)
    body = {"loadbalancer_id": lb["id"], "protocol": "HTTP", "protocol_port": 80}

    check(client.post(LISTENERS, json={"listener": {**body, "protection": protection}}), fragment)

    assert row_counts() == before and notified == calls


@pytest.mark.parametrize(("protection", "fragment"), BAD, ids=IDS)
def test_update_refuses_and_keeps_what_was_there(
    make_lb: Factory,
    make_listener: Factory,
    client: TestClient,
    sessions: sessionmaker[Session],
    notified: list[str],
    protection: Any,
    fragment: str,
) -> None:
    lb = make_lb()
    listener = make_listener(lb["id"], protection={"max_connections": 10})
    generation = _generation(sessions, lb["id"])
    calls = list(notified)

    response = client.put(
        f"{LISTENERS}/{listener['id']}", json={"listener": {"protection": protection}}
    )

    check(response, fragment)
    with sessions() as session:
        assert session.get_one(models.Listener, listener["id"]).protection == {
            "max_connections": 10
        }
    assert _generation(sessions, lb["id"]) == generation and notified == calls


@pytest.mark.parametrize(("protection", "fragment"), BAD[::4], ids=IDS[::4])
def test_operator_settings_are_checked_the_same_way(
    make_client: MakeClient,
    make_lb: Factory,
    make_listener: Factory,
    notified: list[str],
    protection: Any,
    fragment: str,
) -> None:
    admin = make_client(project=None)
    lb = make_lb()
    make_listener(lb["id"])
    calls = list(notified)
    defaults = "/v2/operator/protection/defaults"
    override = f"/v2/operator/loadbalancers/{lb['id']}/protection"
    before = [admin.get(defaults).json(), admin.get(override).json()]

    for path in (defaults, override):
        check(admin.put(path, json={"protection": protection}), fragment)

    assert [admin.get(defaults).json(), admin.get(override).json()] == before
    assert notified == calls
    assert admin.get("/v2/operator/events").json()["events"] == []


def _generation(sessions: sessionmaker[Session], lb_id: str) -> int:
    with sessions() as session:
        return session.get_one(models.LoadBalancer, lb_id).desired_generation


def test_huge_and_malformed_bodies(make_client: MakeClient, make_lb: Factory) -> None:
    admin = make_client(project=None)
    path = f"/v2/operator/loadbalancers/{make_lb()['id']}"
    many: Json = {"protection": {"deny_cidrs": ["192.0.2.0/24"] * 200_000}}

    assert_fault(admin.put(f"{path}/protection", json=many), 400)
    assert_fault(admin.put(f"{path}/protection", content=b"{"), 400)
    assert_fault(admin.put(f"{path}/protection", json={}), 400)
    assert_fault(admin.put(f"{path}/protection", json={"protection": None}), 400)
    for flag in ("true", 1, None, "yes"):
        response = admin.put(f"{path}/under_attack", json={"under_attack": flag})
        assert "under_attack" in assert_fault(response, 400)
    assert_fault(admin.put(f"{path}/under_attack", json={"under_attack": True, "x": 1}), 400)

"""Heartbeats end to end: a real agent, appliances in real namespaces, a real health manager.

The agent sends every 0.2 s; the manager's timeout is 1 s (grace 3 s), it flushes every
50 ms and checks every 100 ms. Waits are bounded by a number of polls, not by wall-clock
limits (tests/integration/agent/helpers.wait_for).
"""

import socket
import subprocess
import warnings
from datetime import datetime

import pytest
from sqlalchemy import select

from steelyard.api.app import create_app
from steelyard.api.settings import ApiSettings
from steelyard.db import models as m
from steelyard.model.heartbeat import Heartbeat, HeartbeatKey, encode
from tests.integration.agent.helpers import SubprocessAgent, wait_for
from tests.integration.health.conftest import Health, Place, Placed
from tests.support import VipNetwork
from tests.unit.controller.test_heartbeat_statuses import Lb, statuses
from tests.unit.dbrows import Sessions

with warnings.catch_warnings():
    # Starlette 1.x would rather use httpx2, which is not a dependency; the httpx one works.
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

pytestmark = pytest.mark.root


def row(sessions: Sessions, name: str) -> m.Appliance:
    with sessions() as s:
        found = s.scalars(select(m.Appliance).where(m.Appliance.name == name)).one()
        s.expunge(found)
        return found


def events(sessions: Sessions) -> list[m.Event]:
    with sessions() as s:
        found = list(s.scalars(select(m.Event).order_by(m.Event.created_at)))
        s.expunge_all()
        return found


def link_down(appliance: Placed) -> None:
    subprocess.run(
        ["ip", "-n", appliance.netns, "link", "set", "eth0", "down"],
        check=True,
        capture_output=True,
    )


def heard(sessions: Sessions, name: str) -> datetime | None:
    return row(sessions, name).last_heartbeat_at


def test_heartbeats_from_a_namespace_reach_the_database(
    sessions: Sessions, place: Place, health: Health
) -> None:
    appliance = place()
    wait_for(lambda: heard(sessions, appliance.name) is not None, "a first heartbeat")
    first = row(sessions, appliance.name)
    wait_for(
        lambda: row(sessions, appliance.name).heartbeat_seq > first.heartbeat_seq,
        "a later heartbeat",
    )
    later = row(sessions, appliance.name)
    assert later.last_heartbeat_at is not None and first.last_heartbeat_at is not None
    assert later.last_heartbeat_at > first.last_heartbeat_at
    assert later.status == "ALLOCATED"
    counts = health.manager.ingest.counts()
    assert counts.accepted >= 2 and counts.forged == counts.replayed == counts.unknown == 0


def haproxy_cfg(agent: SubprocessAgent, appliance: Placed, lb: Lb) -> str:
    info = agent.client.get_appliance(appliance.name)
    assert info is not None
    servers = "".join(
        f"    server {member} 198.18.128.{200 + index}:8080\n"
        for index, member in enumerate(lb.members)
    )
    return f"""global
    stats socket {info.paths.stats_socket} mode 600 level admin expose-fd listeners
    maxconn 100

defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s

frontend {lb.listener}
    bind {appliance.vip}:80
    default_backend {lb.pool}

backend {lb.pool}
{servers}"""


def test_statuses_and_generation_come_from_the_heartbeats(
    sessions: Sessions, place: Place, agent: SubprocessAgent
) -> None:
    lb = Lb(sessions)
    appliance = place(lb_id=lb.id)
    agent.client.apply_config(appliance.name, 7, haproxy_cfg(agent, appliance, lb))
    with sessions() as s:
        before = statuses(s, lb)
    assert before == ("OFFLINE", "OFFLINE", "OFFLINE", ["OFFLINE", "OFFLINE"])

    def current() -> tuple[str, str, str, list[str]]:
        with sessions() as s:
            return statuses(s, lb)

    wait_for(lambda: current()[0] == "ONLINE", "statuses from a heartbeat")
    assert current() == ("ONLINE", "ONLINE", "ONLINE", ["NO_MONITOR", "NO_MONITOR"])
    wait_for(lambda: row(sessions, appliance.name).applied_generation == 7, "the generation")
    assert row(sessions, appliance.name).config_sha256 is not None

    def counted() -> bool:
        with sessions() as s:
            return s.get(m.ListenerStats, lb.listener) is not None

    wait_for(counted, "the listener's counters (written every 5 s)", 1000)


def test_a_link_down_inside_the_namespace_fails_the_appliance(
    sessions: Sessions, place: Place, health: Health
) -> None:
    appliance = place()
    wait_for(lambda: heard(sessions, appliance.name) is not None, "a first heartbeat")
    link_down(appliance)
    wait_for(lambda: row(sessions, appliance.name).status == "FAILED", "the failure", 1000)
    failed = row(sessions, appliance.name)
    assert failed.failed_at is not None and failed.last_heartbeat_at is not None
    silence = (failed.failed_at - failed.last_heartbeat_at).total_seconds()
    assert silence > 1.0  # the timeout
    assert (failed.failed_reason or "").startswith("no heartbeat for")
    (event,) = events(sessions)
    assert (event.type, event.severity, event.loadbalancer_id) == (
        "appliance.failed",
        "critical",
        appliance.lb_id,
    )
    assert (event.operator_details or {})["appliance"] == appliance.name
    assert health.notified == [appliance.lb_id]
    with sessions() as s:
        assert s.get_one(m.LoadBalancer, appliance.lb_id).applied_generation == 0


def capture_socket(network: VipNetwork) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((network.gateway, 0))
    sock.settimeout(5)
    return sock


def test_forged_and_replayed_datagrams_change_nothing(
    sessions: Sessions,
    place: Place,
    health: Health,
    agent: SubprocessAgent,
    vip_network: VipNetwork,
    key: tuple[HeartbeatKey, object],
) -> None:
    with capture_socket(vip_network) as capture:
        target = f"{vip_network.gateway}:{capture.getsockname()[1]}"
        appliance = place(extra_targets=(target,))
        captured = capture.recv(65536)  # a real heartbeat, as the agent signed it
        wait_for(lambda: heard(sessions, appliance.name) is not None, "a first heartbeat")
        # From now on the agent sends to the capture socket only: the row must stay as it is.
        agent.client.ensure_appliance(appliance.name, appliance.netns, heartbeat_to=[target])
        capture.recv(65536)
        before = row(sessions, appliance.name)
        counts = health.manager.ingest.counts()
        forged = bytearray(captured)
        forged[-1] ^= 0xFF
        stranger = encode(Heartbeat("stranger-0", 2**62, 1.0, 1, None, True, None), key[0])
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as attacker:
            for datagram in (captured, bytes(forged), stranger, b"\x01" * 70_000, b"junk"):
                for _ in range(3):
                    try:
                        attacker.sendto(datagram, ("127.0.0.1", health.port))
                    except OSError:  # 70,000 bytes do not fit a UDP datagram: send 65,507
                        attacker.sendto(datagram[:65_507], ("127.0.0.1", health.port))

        def taken() -> bool:
            # a stranger's heartbeats are counted at the manager's next read of the list
            now = health.manager.ingest.counts()
            return now.malformed >= counts.malformed + 3 and now.unknown >= counts.unknown + 3

        wait_for(taken, "the manager to take the datagrams")
        after_counts = health.manager.ingest.counts()
        assert after_counts.replayed == counts.replayed + 3
        assert after_counts.forged == counts.forged + 3
        assert after_counts.unknown == counts.unknown + 3
        assert after_counts.oversized == counts.oversized + 3
        assert after_counts.accepted == counts.accepted
        health.manager.flush()
        after = row(sessions, appliance.name)
        assert (after.heartbeat_seq, after.last_heartbeat_at) == (
            before.heartbeat_seq,
            before.last_heartbeat_at,
        )
        with sessions() as s:
            assert s.scalars(select(m.Appliance.name)).all() == [appliance.name]


def test_many_silent_at_once_trip_the_breaker_until_an_operator_releases_it(
    sessions: Sessions, place: Place, health: Health
) -> None:
    # and a spare, which the health manager does not watch (the spare pool checks spares)
    appliances = [place() for _ in range(3)] + [place(status="READY")]
    for appliance in appliances:
        wait_for(lambda a=appliance: heard(sessions, a.name) is not None, "first heartbeats")
    for appliance in appliances[:3]:
        link_down(appliance)
    wait_for(lambda: any(e.type.startswith("health.circuit") for e in events(sessions)), "trip")
    # several more checks: still nothing failed
    checks = health.manager.ingest.counts().accepted
    wait_for(lambda: health.manager.ingest.counts().accepted >= checks + 10, "more heartbeats")
    assert [row(sessions, a.name).status for a in appliances] == ["ALLOCATED"] * 3 + ["READY"]
    assert [e.type for e in events(sessions)] == ["health.circuit_breaker.tripped"]
    assert health.notified == []

    api = TestClient(create_app(ApiSettings(auth="noauth"), sessions, lambda _: None))  # type: ignore[arg-type]
    with api:
        shown = api.get("/v2/operator/health").json()["health"]
        assert shown["circuit_breaker"]["tripped"] is True
        assert shown["circuit_breaker"]["silent"] == 3
        assert api.get("/v2/operator/health", headers={"X-Project-Id": "p1"}).status_code == 403
        assert api.delete("/v2/operator/health/circuit_breaker").status_code == 204
    wait_for(
        lambda: [row(sessions, a.name).status for a in appliances[:3]] == ["FAILED"] * 3,
        "failover to resume",
        1000,
    )
    assert row(sessions, appliances[3].name).status == "READY"
    assert sorted(health.notified) == sorted(a.lb_id for a in appliances[:3] if a.lb_id)
    kinds = [e.type for e in events(sessions)]
    assert kinds[:2] == ["health.circuit_breaker.tripped", "health.circuit_breaker.released"]
    assert kinds[2:] == ["appliance.failed"] * 3

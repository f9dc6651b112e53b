"""A real agent (child process) whose appliances live in real namespaces on a bridge, sending
heartbeats to a real HealthManager in this process, over a migrated SQLite file.

Names use the "th" prefix and addresses 198.18.128.0/24, so these tests can run beside other
suites on one machine; everything is removed at the end, also when a test fails.
"""

import os
import secrets
import socket
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from steelyard.agent.pki import PkiPaths
from steelyard.compute.base import ApplianceSlot
from steelyard.compute.netns import NetnsDriver
from steelyard.controller.observer import HeartbeatStatuses
from steelyard.db import models as m
from steelyard.health.manager import HealthManager, HealthSettings
from steelyard.health.staleness import HealthPolicy
from steelyard.model.heartbeat import HeartbeatKey, Keyring
from steelyard.network.cleanup import purge
from tests.integration.agent.conftest import pki, short_tmp, state_dir
from tests.integration.agent.helpers import SubprocessAgent
from tests.support import VipNetwork
from tests.unit.dbrows import Sessions, add_lb, sessions

__all__ = ["pki", "sessions", "short_tmp", "state_dir"]

PREFIX = "th"
CIDR = "198.18.128.0/24"
TIMEOUT_S = 1.0
INTERVAL_S = 0.2


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


@pytest.fixture(autouse=True)
def root_or_skip(request: pytest.FixtureRequest) -> None:
    if request.node.get_closest_marker("root") and os.geteuid() != 0:
        pytest.skip("needs root (network namespaces, bridges)")


@pytest.fixture(scope="session", autouse=True)
def leftovers_purged() -> Iterator[None]:
    if os.geteuid() == 0:
        purge(PREFIX)
    yield
    if os.geteuid() == 0:
        purge(PREFIX)


@pytest.fixture
def vip_network() -> Iterator[VipNetwork]:
    with VipNetwork(PREFIX, CIDR) as network:
        yield network


@pytest.fixture
def netns_driver() -> Iterator[NetnsDriver]:
    driver = NetnsDriver(PREFIX, kill_grace=0.2)
    yield driver
    for name in driver.list_names():
        driver.delete(name)


@pytest.fixture
def key(short_tmp: Path) -> tuple[HeartbeatKey, Path]:
    path = short_tmp / "heartbeat.key"
    secret = secrets.token_bytes(32)
    path.write_bytes(secret)
    path.chmod(0o600)
    return HeartbeatKey(secret), path


@pytest.fixture
def agent(
    state_dir: Path, pki: PkiPaths, short_tmp: Path, key: tuple[HeartbeatKey, Path]
) -> Iterator[SubprocessAgent]:
    running = SubprocessAgent(
        state_dir,
        pki,
        short_tmp / "agent.log",
        "--heartbeat-key-file",
        str(key[1]),
        "--heartbeat-interval",
        str(INTERVAL_S),
    )
    yield running
    running.stop()


@dataclass
class Health:
    manager: HealthManager
    notified: list[str]

    @property
    def port(self) -> int:
        return self.manager.address[1]


@pytest.fixture
def health(sessions: Sessions, key: tuple[HeartbeatKey, Path]) -> Iterator[Health]:
    notified: list[str] = []
    manager = HealthManager(
        sessions,
        Keyring([key[0]]),
        HealthSettings(
            host="0.0.0.0",
            port=0,
            policy=HealthPolicy(timeout=timedelta(seconds=TIMEOUT_S)),
            flush_interval_s=0.05,
            check_interval_s=0.1,
            status_interval_s=0.1,
        ),
        notify=notified.append,
        clock=utcnow,
        status_writer=HeartbeatStatuses(sessions, sessions),
    )
    manager.start()
    yield Health(manager, notified)
    manager.stop()


@dataclass(frozen=True)
class Placed:
    name: str
    netns: str
    lb_id: str | None
    vip: str


Place = Callable[..., Placed]


@pytest.fixture
def place(
    sessions: Sessions,
    netns_driver: NetnsDriver,
    vip_network: VipNetwork,
    agent: SubprocessAgent,
    health: Health,
) -> Place:
    """An appliance: its row (ALLOCATED to a new load balancer, or READY), its namespace on
    the bridge, and its agent appliance sending heartbeats to the gateway."""

    def make(
        status: str = "ALLOCATED", extra_targets: tuple[str, ...] = (), lb_id: str | None = None
    ) -> Placed:
        name = uuid.uuid4().hex[:12] + "-0"
        if lb_id is None and status == "ALLOCATED":
            lb_id = add_lb(sessions, desired=1, applied=1)
        vip = vip_network.placement()
        placed = netns_driver.ensure(ApplianceSlot(name, vip))
        assert placed.netns is not None
        with sessions() as s:
            s.add(
                m.Appliance(
                    id=str(uuid.uuid4()),
                    loadbalancer_id=lb_id,
                    name=name,
                    status=status,
                    compute_driver="netns",
                    netns=placed.netns,
                    host=socket.gethostname(),
                    vip_address="198.18.128.2",
                    created_at=utcnow(),
                )
            )
            s.commit()
        # Not refreshed here: the manager learns appliances at its next check, and a heartbeat
        # sent before that waits for it (the tests count no `unknown`).
        targets = [f"{vip_network.gateway}:{health.port}", *extra_targets]
        agent.client.ensure_appliance(name, placed.netns, heartbeat_to=targets)
        assert vip.address is not None
        return Placed(name, placed.netns, lb_id, vip.address)

    return make

"""Fixtures for keepalived's integration tests: appliance namespaces on a test bridge, an agent
(in this process, real mTLS) whose HAProxy and keepalived are stopped at teardown by the PIDs it
started, and helpers to build a pair's configs.

Names use the "tk" prefix and addresses 198.18.112.0/22 and fd00:7e::/32, so these tests can run
beside other suites; whatever a crashed run left is purged first.
"""

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from steelyard.agent.pki import PkiPaths
from steelyard.compute.netns import NetnsDriver
from steelyard.network.cleanup import purge
from tests.integration.agent.conftest import pki, short_tmp, state_dir
from tests.integration.agent.helpers import ThreadedAgent
from tests.support import VipNetwork

__all__ = ["pki", "short_tmp", "state_dir"]  # fixtures shared with the agent's tests

PREFIX = "tk"


@pytest.fixture(autouse=True)
def root_or_skip(request: pytest.FixtureRequest) -> None:
    if request.node.get_closest_marker("root") and os.geteuid() != 0:
        pytest.skip("needs root (network namespaces, bridges, keepalived)")


@pytest.fixture(scope="session", autouse=True)
def leftovers_purged() -> Iterator[None]:
    if os.geteuid() != 0:
        yield
        return
    purge(PREFIX)
    yield
    purge(PREFIX)


@pytest.fixture
def agent(state_dir: Path, pki: PkiPaths) -> Iterator[ThreadedAgent]:
    running = ThreadedAgent(state_dir, pki)
    yield running
    running.stop()


@pytest.fixture
def netns_driver() -> Iterator[NetnsDriver]:
    driver = NetnsDriver(PREFIX, kill_grace=0.2)
    yield driver
    for name in driver.list_names():
        driver.delete(name)


@pytest.fixture
def network_v4() -> Iterator[VipNetwork]:
    with VipNetwork(PREFIX, "198.18.112.0/24") as network:
        yield network


@pytest.fixture
def network_v6() -> Iterator[VipNetwork]:
    with VipNetwork(PREFIX, "fd00:7e:70::/64") as network:
        yield network

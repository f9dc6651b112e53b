"""Fixtures for compute and network integration tests.

Everything here is named with the "tc" prefixes (tc, tcp, tcpz) and lives in 198.18.96.0/20 and
fd00:7c::/32, so these tests can run beside other suites on one machine.
"""

import os
from collections.abc import Iterator

import pytest

from steelyard.compute.netns import NetnsDriver
from steelyard.network.cleanup import purge
from tests.support import VipNetwork

PREFIX = "tc"
ALL_PREFIXES = ("tc", "tcp", "tcpz")  # every prefix these tests create names with


@pytest.fixture(autouse=True)
def root_or_skip(request: pytest.FixtureRequest) -> None:
    if request.node.get_closest_marker("root") and os.geteuid() != 0:
        pytest.skip("needs root (network namespaces, bridges)")


@pytest.fixture(scope="session", autouse=True)
def leftovers_purged() -> Iterator[None]:
    """Remove what a crashed earlier run left, and whatever a test here failed to remove."""
    if os.geteuid() != 0:
        yield
        return
    for prefix in ALL_PREFIXES:
        purge(prefix)
    yield
    for prefix in ALL_PREFIXES:
        purge(prefix)


@pytest.fixture
def netns_driver() -> Iterator[NetnsDriver]:
    """A NetnsDriver for prefix "tc"; deletes every appliance it finds at the end."""
    driver = NetnsDriver(PREFIX, kill_grace=0.2)
    yield driver
    for name in driver.list_names():
        driver.delete(name)


@pytest.fixture
def vip_network_v4() -> Iterator[VipNetwork]:
    with VipNetwork(PREFIX, "198.18.97.0/24") as network:
        yield network


@pytest.fixture
def vip_network_v6() -> Iterator[VipNetwork]:
    with VipNetwork(PREFIX, "fd00:7c:97::/64") as network:
        yield network


@pytest.fixture(params=["ipv4", "ipv6"])
def vip_network(request: pytest.FixtureRequest) -> VipNetwork:
    """The IPv4 and the IPv6 VIP network in turn."""
    network: VipNetwork = request.getfixturevalue(f"vip_network_{request.param[2:]}")
    return network

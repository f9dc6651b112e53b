import contextlib
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from steelyard.compute.base import ApplianceSlot
from steelyard.compute.netns import NetnsDriver
from steelyard.network.bridge import delete_bridge, ensure_bridge
from steelyard.network.cleanup import purge
from steelyard.network.iproute import host_link, host_link_names, ip
from steelyard.network.names import NameScheme
from steelyard.network.namespaces import list_netns, netns_path, remove_netns
from tests.support import VipNetwork
from tests.support.processes import popen_in_netns

pytestmark = pytest.mark.root

TARGET = "tcp"


@dataclass
class Host:
    """What the purge test built: names it must remove, names it must keep."""

    doomed: set[str] = field(default_factory=set)
    decoys: set[str] = field(default_factory=set)
    process: "subprocess.Popen[bytes] | None" = None


@pytest.fixture
def populated_host() -> Iterator[Host]:
    """Appliances, a stale namespace file and a process under prefix "tcp"; decoys under
    "tcpz" (a longer prefix that starts with "tcp"), "tc" (a shorter one) and hand-made names
    that merely start with "tcp". Everything is removed at the end, whatever happened."""
    host = Host()
    target, longer, shorter = NetnsDriver(TARGET), NetnsDriver("tcpz"), NetnsDriver("tc")
    manual_ns, manual_bridge = "tcpmanual", "tcpbrmanual"
    stale = NameScheme(TARGET).netns("stale")
    networks: list[VipNetwork] = []
    try:
        net = VipNetwork(TARGET, "198.18.98.0/25")
        decoy_net = VipNetwork("tcpz", "198.18.98.128/25")
        networks += [net, decoy_net]
        for name in ("a", "b"):
            target.ensure(ApplianceSlot(name, net.placement()))
            host.doomed |= {target.netns_name(name), target.names.veth(name)}
        host.doomed |= {net.bridge, stale}
        netns_path(stale).touch()
        host.process = popen_in_netns("tcp-a", ["sleep", "600"])

        for driver in (longer, shorter):
            driver.ensure(ApplianceSlot("a", decoy_net.placement()))
            host.decoys |= {driver.netns_name("a"), driver.names.veth("a")}
        ip("netns", "add", manual_ns)
        ensure_bridge(manual_bridge, "198.18.100.1/28")
        host.decoys |= {decoy_net.bridge, manual_ns, manual_bridge}
        yield host
    finally:
        if host.process is not None:
            if host.process.poll() is None:
                host.process.kill()
            host.process.wait()
        for prefix in (TARGET, "tcpz", "tc"):
            purge(prefix)
        remove_netns(manual_ns)
        with contextlib.suppress(Exception):
            delete_bridge(manual_bridge)
        for network in networks:
            network.close()


def present() -> set[str]:
    return set(list_netns()) | set(host_link_names())


def test_purge_removes_the_prefix_and_nothing_else(populated_host: Host) -> None:
    assert populated_host.doomed <= present()
    removed = purge(TARGET)
    assert set(removed) == populated_host.doomed
    assert not populated_host.doomed & present()
    assert populated_host.decoys <= present()
    assert populated_host.process is not None
    assert populated_host.process.wait() < 0  # the process inside was ended


def test_purge_leaves_decoys_working(populated_host: Host) -> None:
    purge(TARGET)
    veth = host_link(NameScheme("tcpz").veth("a"))
    assert (
        veth is not None
        and veth.up
        and veth.master == NameScheme("tcpz").bridge("198.18.98.128/25")
    )


def test_purge_of_nothing_is_empty() -> None:
    assert purge("tcq") == []

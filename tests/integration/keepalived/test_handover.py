"""A planned VIP handover under continuous load loses no request.

A pair (HAProxy + keepalived in two namespaces, driven by a real agent) in front of one
backend; from a client namespace on the same bridge, at the same time:

- keep-alive clients sending requests back to back, without retries (tests/support/
  keepalive_clients.py): any error counts;
- a patient client opening a new connection every 20 ms (GapProbe, 5 s timeout: a dropped SYN is
  sent again after 1 s);
- before each handover, a request that takes 300 ms, so that one is in flight when it starts.

The VIP is then handed back and forth SWITCHOVERS times through the agent's release
(`POST .../vrrp/release`: new connections blocked, HAProxy drained, keepalived's priority-0
advert). Asserted: no failed request of any client, every slow request answered, no drain cut a
request or ran into its timeout, the VIP on the other appliance each time. The figures (drain
time, the longest wait of a new connection) are printed (run with -s), never asserted.
"""

import http.client
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor

import pytest

from steelyard.agent.contract import VrrpRelease
from steelyard.compute.base import ApplianceSlot
from steelyard.compute.netns import NetnsDriver
from steelyard.model.vrrp import STEELYARD, VrrpRole
from steelyard.network.namespaces import run_in_netns
from tests.integration.agent.helpers import ThreadedAgent
from tests.integration.keepalived.pair import SERVED_BY, make_pair, vip_holders, wait_for_roles
from tests.support import BackendNamespace, VipNetwork
from tests.support.gap_probe import GapProbe
from tests.support.keepalive_clients import KeepAliveClients

pytestmark = pytest.mark.root

SWITCHOVERS = 4
SLOW_MS = 300


@pytest.fixture
def backend(network_v4: VipNetwork) -> Iterator[BackendNamespace]:
    with BackendNamespace.on(network_v4, "be") as running:
        yield running


def slow_request(netns: str, host: str, port: int) -> int:
    """One request that stays in flight SLOW_MS, on a connection of its own; its status."""

    def request() -> int:
        conn = http.client.HTTPConnection(host, port, timeout=5)
        try:
            conn.request("GET", f"/delay/{SLOW_MS}")
            response = conn.getresponse()
            response.read()
            return response.status
        finally:
            conn.close()

    return run_in_netns(netns, request)


def test_planned_handover_loses_no_request(
    agent: ThreadedAgent,
    netns_driver: NetnsDriver,
    network_v4: VipNetwork,
    backend: BackendNamespace,
) -> None:
    client = netns_driver.ensure(ApplianceSlot("client", network_v4.placement()))
    assert client.netns is not None
    pair = make_pair(
        agent.client, netns_driver, network_v4, (backend.address, backend.port), STEELYARD
    )
    holder, other = pair.member(VrrpRole.MASTER), pair.member(VrrpRole.BACKUP)
    wait_for_roles(agent.client, pair, holder)

    releases: list[VrrpRelease] = []
    slow: list[Future[int]] = []
    probe = GapProbe(client.netns, pair.vip, pair.port, interval=0.02, timeout=5.0)
    keepalive = KeepAliveClients(client.netns, pair.vip, pair.port, count=4, header=SERVED_BY)
    with probe, keepalive, ThreadPoolExecutor(max_workers=1) as pool:
        probe.wait_for_success(time.monotonic())
        keepalive.wait_for_answers(50)
        for _ in range(SWITCHOVERS):
            slow.append(pool.submit(slow_request, client.netns, pair.vip, pair.port))
            time.sleep(0.1)  # the slow request is in flight on the holder
            releases.append(agent.client.release_vrrp(holder.name))
            wait_for_roles(agent.client, pair, other)
            holder, other = other, holder
            keepalive.wait_for_answers(50)  # served by the new holder
        statuses = [future.result() for future in slow]
    report = probe.report()
    longest_wait = max(a.finished - a.started for a in probe.attempts())

    drains = [release.drain for release in releases]
    print(
        f"\n[handover] {SWITCHOVERS} switchovers: keep-alive {keepalive.requests()} requests on "
        f"{keepalive.connections()} connections, {len(keepalive.failures())} failed; new "
        f"connections: {report.describe()}, longest wait {longest_wait:.3f} s; drains (ms): "
        f"{[d.drain_ms if d else None for d in drains]}, releases (ms): "
        f"{[release.duration_ms for release in releases]}"
    )
    assert keepalive.failures() == []
    assert report.failures == 0, report.describe()
    assert statuses == [200] * SWITCHOVERS
    for release in releases:
        assert release.released and release.previous_state == "MASTER"
        assert release.drain is not None and not release.drain.timed_out, release
        assert release.drain.in_flight_cut == 0, release
    assert vip_holders(pair) == [holder.name]
    assert set(keepalive.answered()) == {m.name for m in pair.members}
